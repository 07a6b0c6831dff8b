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
from comments.middleware import FRAGMENTS_ATTR, splice_fragments
from comments.threads import PageParams, cache_get, cache_set

HOLES_ATTR = "_page_holes"
MARKER_PREFIX = "tp-hole-"  # marks the holes; random suffixes make them unguessable


@dataclass(frozen=True)
class Holes:
    csrf: str
    timestamp: str


@dataclass
class PageSkeleton:
    """The shared page as segments: bytes to send as they are, and the names of the
    holes ("csrf", "timestamp") to fill per request."""

    segments: list
    content_type: str

    @classmethod
    def cut(cls, content, *, holes, inserts, content_type):
        """Segments of the rendered page ``content`` (which still holds its markers).

        ``holes`` maps a hole's name to its marker; ``inserts`` maps a marker to bytes
        that replace it for good (the thread fragments: megabytes kept as the same
        object, never copied or scanned here).
        """
        names = {marker: name for name, marker in holes.items()}
        markers = [*names, *inserts]
        segments, start = [], 0
        while True:
            found = [(content.find(marker, start), marker) for marker in markers]
            found = [(index, marker) for index, marker in found if index != -1]
            if not found:
                break
            index, marker = min(found)
            segments.append(content[start:index])
            segments.append(names.get(marker) or inserts[marker])
            start = index + len(marker)
        segments.append(content[start:])
        return cls(segments=segments, content_type=content_type)

    @property
    def size(self):
        return sum(len(segment) for segment in self.segments if isinstance(segment, bytes))

    def response_for(self, request):
        values = {"csrf": get_token(request).encode(), "timestamp": sign_timestamp().encode()}
        content = b"".join(
            segment if isinstance(segment, bytes) else values[segment] for segment in self.segments
        )
        return HttpResponse(content, content_type=self.content_type)


def holes_for(request):
    """The markers to render instead of per-request values (None: render them as usual)."""
    return getattr(request, HOLES_ATTR, None)


def _cache_key(request, version):
    params = PageParams.from_query(request.GET)
    if not params.canonical:
        return None  # the article view redirects these; they never key a cache
    return ":".join(
        str(part)
        for part in (
            "page",
            *version,
            params.number,
            params.sort,
            get_language(),
            request.scheme,
            request.get_host(),
            conf.MAX_DEPTH,
            conf.THREADS_PER_PAGE,
            conf.PER_PAGE,
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


def cached_page(request, slug, render):
    """``render()`` the article page, or serve it from the anonymous page cache.

    A hit costs one light query (the public article's version), never the article
    itself, whose body can be long.
    """
    key = None
    if _is_shared_view(request):
        version = Article.objects.public_version(slug)
        key = _cache_key(request, version) if version is not None else None
    if key is None:
        return render()
    skeleton = cache_get(key)
    if skeleton is None:
        holes = Holes(
            csrf=f"{MARKER_PREFIX}csrf-{secrets.token_hex(16)}",
            timestamp=f"{MARKER_PREFIX}ts-{secrets.token_hex(16)}",
        )
        setattr(request, HOLES_ATTR, holes)
        response = render()
        if hasattr(response, "render"):
            response.render()  # {% comments_section %} registers the thread fragment here
        delattr(request, HOLES_ATTR)
        if response.status_code != 200:
            splice_fragments(request, response)
            return response
        fragments = getattr(request, FRAGMENTS_ATTR, None) or {}
        skeleton = PageSkeleton.cut(
            response.content,
            holes={"csrf": holes.csrf.encode(), "timestamp": holes.timestamp.encode()},
            inserts=dict(fragments),
            content_type=response["Content-Type"],
        )
        fragments.clear()  # spliced into the skeleton: nothing left for the middleware
        cache_set(key, skeleton)
    return skeleton.response_for(request)
