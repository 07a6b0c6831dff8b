"""Whole-page cache for anonymous readers, with the per-request parts punched in.

An anonymous reader without cookies (other than CSRF's) sees exactly what every
other such reader sees, except two values: the CSRF token and the comment form's
signed timestamp. The page is rendered once with random markers in their place,
stored under a key that changes with everything visible (the article's
``comments_version`` and ``updated_at``, the comments page and sort, language,
host), and each request fills the markers with its own fresh values. So a cached
page never carries another reader's token or an old form timestamp, and it can't
go stale. Anyone with a session, a remembered name, a flash message, a reply
target or a login gets the normal per-request render.
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils.translation import get_language

from articles.models import Article
from comments.conf import conf
from comments.forms import sign_timestamp
from comments.middleware import splice_fragments
from comments.threads import SORT_NEWEST, SORT_OLDEST, cache_get, cache_set

HOLES_ATTR = "_page_holes"
MARKER_PREFIX = b"tp-hole-"
MAX_CACHED_PAGE = 10_000


@dataclass(frozen=True)
class Holes:
    csrf: str
    timestamp: str


@dataclass
class PageSkeleton:
    """The shared page cut at its holes: ``parts[0] hole[0] parts[1] hole[1] …``."""

    parts: list  # bytes between the holes
    holes: list  # "csrf" or "timestamp", one per gap
    content_type: str

    @classmethod
    def cut(cls, content, markers, content_type):
        """Split rendered ``content`` at every occurrence of the ``{name: marker}`` bytes.

        Every marker starts with ``MARKER_PREFIX``, so one ``find`` pass over a page of
        megabytes locates them all (a reader typing the prefix only costs a comparison).
        """
        parts, holes, start, search = [], [], 0, 0
        while (index := content.find(MARKER_PREFIX, search)) != -1:
            search = index + len(MARKER_PREFIX)
            for name, marker in markers.items():
                if content.startswith(marker, index):
                    parts.append(content[start:index])
                    holes.append(name)
                    start = search = index + len(marker)
                    break
        parts.append(content[start:])
        return cls(parts=parts, holes=holes, content_type=content_type)

    @property
    def size(self):
        return sum(len(part) for part in self.parts)

    def response_for(self, request):
        values = {"csrf": get_token(request).encode(), "timestamp": sign_timestamp().encode()}
        chunks = [self.parts[0]]
        for hole, part in zip(self.holes, self.parts[1:], strict=True):
            chunks += (values[hole], part)
        return HttpResponse(b"".join(chunks), content_type=self.content_type)


def holes_for(request):
    """The markers to render instead of per-request values (None: render them as usual)."""
    return getattr(request, HOLES_ATTR, None)


def _cache_key(request, version):
    raw_page = request.GET.get("cpage", "1") or "1"
    if not raw_page.isdigit() or int(raw_page) > MAX_CACHED_PAGE:
        return None  # odd page numbers render normally instead of filling the cache
    sort = SORT_NEWEST if request.GET.get("csort") == SORT_NEWEST else SORT_OLDEST
    return ":".join(
        str(part)
        for part in (
            "page",
            *version,
            int(raw_page),
            sort,
            get_language(),
            request.scheme,
            request.get_host(),
            conf.MAX_DEPTH,
            conf.THREADS_PER_PAGE,
        )
    )


def _is_shared_view(request):
    """True when this reader sees what every cookie-less anonymous reader sees."""
    if request.method not in ("GET", "HEAD"):
        return False
    if set(request.COOKIES) - {settings.CSRF_COOKIE_NAME}:
        return False  # a session, a remembered name or a flash message: personal
    if set(request.GET) - {"cpage", "csort"}:
        return False  # ?replyto= and anything else render normally
    return not request.user.is_authenticated


def _public_version(slug):
    """``(pk, comments_version, updated_at)`` of the public article, or None.

    One light query instead of loading the article: on a hit nothing else is needed.
    """
    row = (
        Article.objects.published()
        .filter(slug=slug)
        .values_list("pk", "comments_version", "updated_at")
        .first()
    )
    return None if row is None else (row[0], row[1], row[2].timestamp())


def cached_page(request, slug, render):
    """``render()`` the article page, or serve it from the anonymous page cache."""
    version = _public_version(slug) if _is_shared_view(request) else None
    key = _cache_key(request, version) if version is not None else None
    if key is None:
        return render()
    skeleton = cache_get(key)
    if skeleton is None:
        holes = Holes(
            csrf=f"{MARKER_PREFIX.decode()}csrf-{secrets.token_hex(16)}",
            timestamp=f"{MARKER_PREFIX.decode()}ts-{secrets.token_hex(16)}",
        )
        setattr(request, HOLES_ATTR, holes)
        response = render()
        splice_fragments(request, response)
        delattr(request, HOLES_ATTR)
        if response.status_code != 200:
            return response
        skeleton = PageSkeleton.cut(
            response.content,
            {"csrf": holes.csrf.encode(), "timestamp": holes.timestamp.encode()},
            response["Content-Type"],
        )
        cache_set(key, skeleton)
    return skeleton.response_for(request)
