"""Caching rendered pages and parts of pages; generic, used by every app.

- ``cache_get`` / ``cache_set``: the shared cache (Redis in production) behind a small
  copy in each worker (``process_cache``: bounded in bytes, entries kept a few
  seconds). The cache is an optimisation: when it fails, pages render uncached.
- Fragments: ``defer_fragment(request, html_bytes)`` puts a small marker in the page
  and ``FragmentMiddleware`` swaps it for the bytes once, at the end, so megabytes of
  HTML never pass through the template engine's copies.
- The anonymous page cache: ``cached_page(request, key, render)`` renders a page once
  for every cookie-less anonymous reader, with markers in the holes (values each reader
  gets their own of: the CSRF token, and what apps register with ``register_hole``),
  and fills the holes per request.
- Keyed holes (``register_keyed_hole``): values that change without any write an
  app's cache key sees (reaction counts), printed in cached fragments as fixed markers
  (``keyed_hole(name, scope, key)``) and filled for every response, shared or not, from
  one table per ``(name, scope)`` and request.
- Query parameters that shape a cached page belong to the app that reads them
  (``register_query``): it says which values key the page and which spelling is
  canonical, so junk in a URL can neither fill the cache nor render uncached.

Keys are not built here: the caller passes them (``articles.models.CacheVersion.key``
builds every key of an article page).
"""

import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse
from django.middleware.csrf import get_token

logger = logging.getLogger("threadpress")

HOLES_ATTR = "_page_holes"
FRAGMENTS_ATTR = "_page_fragments"
MARKER_PREFIX = "tp-hole-"  # marks the holes; random suffixes make them unguessable


# --- the shared cache, behind each worker's copy -------------------------------------------
class ProcessCache:
    """A small LRU of rendered pages and fragments in each worker, in front of the shared
    cache: it saves fetching and unpickling a big page from Redis on every hit.

    Keys are versioned (``CacheVersion.key``), so a change makes a new key rather than
    an old entry wrong. The entries still expire after ``PROCESS_CACHE_SECONDS``: what
    no key can see (a write that bypassed the model signals, a database restored from
    a backup with older version numbers, an operator clearing Redis) reaches every
    worker within that time, and entries of dead keys don't sit in memory until the
    LRU pushes them out. ``PROCESS_CACHE_MAX_MB`` bounds the memory (pages and fragments
    larger than a quarter of it are not kept here at all).
    """

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.entries = OrderedDict()  # key → (expires at, value, size)
        self.size = 0
        self.lock = threading.Lock()

    @staticmethod
    def limits():
        return settings.PROCESS_CACHE_SECONDS, settings.PROCESS_CACHE_MAX_MB * 1024 * 1024

    def get(self, key):
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self.clock():
                self._pop(key)
                return None
            self.entries.move_to_end(key)
            return entry[1]

    def set(self, key, value):
        seconds, max_size = self.limits()
        size = size_of(value)
        if seconds <= 0 or size is None or size > max_size // 4:
            return
        with self.lock:
            if key in self.entries:
                self._pop(key)
            self.entries[key] = (self.clock() + seconds, value, size)
            self.size += size
            while self.size > max_size:
                self._pop(next(iter(self.entries)))

    def _pop(self, key):
        _expires, _value, size = self.entries.pop(key)
        self.size -= size

    def clear(self):
        with self.lock:
            self.entries.clear()
            self.size = 0


def size_of(value):
    """Bytes a cached value holds (its ``size``), or None when it can't say."""
    if isinstance(value, bytes | str):
        return len(value)
    return getattr(value, "size", None)


process_cache = ProcessCache()


@receiver(setting_changed)
def _forget_on_settings_change(*, setting, **kwargs):
    if setting in ("CACHES", "PROCESS_CACHE_SECONDS", "PROCESS_CACHE_MAX_MB"):
        process_cache.clear()


_failure_logged_at = None


def _log_cache_failure(exc):
    """Log a dead cache once a minute, not once per request (a dead Redis under load)."""
    global _failure_logged_at
    now = time.monotonic()
    if _failure_logged_at is None or now - _failure_logged_at > 60:
        _failure_logged_at = now
        logger.warning("Page cache unavailable, rendering uncached: %s", exc)


def cache_get(key):
    """A rendered page or fragment from this worker's copy or the shared cache (or None)."""
    value = process_cache.get(key)
    if value is not None:
        return value
    try:
        value = cache.get(key)
    except Exception as exc:  # the cache is an optimisation: a dead Redis must not break pages
        _log_cache_failure(exc)
        return None
    if value is not None:
        process_cache.set(key, value)
    return value


def cache_set(key, value, timeout):
    process_cache.set(key, value)
    try:
        cache.set(key, value, timeout)
    except Exception as exc:
        _log_cache_failure(exc)


# --- fragments spliced in as bytes ---------------------------------------------------------
def defer_fragment(request, html_bytes):
    """Register ``html_bytes`` for this response; returns the marker to render instead."""
    fragments = getattr(request, FRAGMENTS_ATTR, None)
    if fragments is None:
        fragments = {}
        setattr(request, FRAGMENTS_ATTR, fragments)
    marker = f"<!--page-fragment-{secrets.token_hex(8)}-->"
    fragments[marker.encode()] = html_bytes
    return marker


def splice_fragments(request, response):
    """Render ``response`` if needed and swap each registered marker for its bytes."""
    if hasattr(response, "render") and not response.is_rendered:
        response.render()  # template tags register their fragments here
    fragments = getattr(request, FRAGMENTS_ATTR, None)
    if not fragments:
        return
    content = response.content
    tables = KeyedTables(request)
    for marker, html_bytes in fragments.items():
        before, found, after = content.partition(marker)
        if found:
            content = b"".join((before, tables.fill(html_bytes), after))
    response.content = content
    fragments.clear()
    if response.has_header("Content-Length"):
        response["Content-Length"] = str(len(content))


class FragmentMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, FRAGMENTS_ATTR, None) and not response.streaming:
            splice_fragments(request, response)
        return response


# --- holes: the per-reader values of a shared page ------------------------------------------
_holes = {"csrf": get_token}
_same_for_everyone = set()  # holes whose value depends on the moment, not the reader


def register_hole(name, value, *, per_reader=True):
    """Declare a per-reader value of shared pages: ``value(request)`` gives the text that
    replaces the marker a template renders where ``hole(request, name)`` says so.
    ``per_reader=False``: a fresh value, but the same for every reader at one moment (a
    signed timestamp), which an edge cache may share between them for a second."""
    _holes[name] = value
    if per_reader:
        _same_for_everyone.discard(name)
    else:
        _same_for_everyone.add(name)


def is_per_reader(name):
    return name not in _same_for_everyone


def hole(request, name):
    """The marker to render instead of the per-request value ``name`` while the shared
    page is being rendered; None otherwise (render the value as usual)."""
    markers = getattr(request, HOLES_ATTR, None)
    return None if markers is None else markers[name]


def hole_value_function(name):
    """``value(request)`` of the registered hole ``name`` (KeyError when unknown)."""
    return _holes[name]


def new_markers():
    return {name: f"{MARKER_PREFIX}{name}-{secrets.token_hex(16)}" for name in _holes}


def start_holes(request):
    """Render every hole of the response to ``request`` as a marker (the edge cache
    turns them into ESI includes: ``site_config.edge``); ``stop_holes`` returns them."""
    setattr(request, HOLES_ATTR, new_markers())


def stop_holes(request):
    markers = getattr(request, HOLES_ATTR, None)
    if markers is not None:
        delattr(request, HOLES_ATTR)
    return markers


def fill_holes(request, content, markers):
    """``content`` (bytes) with each hole's marker replaced by the reader's value."""
    for name, marker in markers.items():
        encoded = marker.encode()
        if encoded in content:
            content = content.replace(encoded, _holes[name](request).encode())
    return content


# --- keyed holes: values a cached fragment shows, filled per response --------------------------
# A keyed hole's marker is fixed text, not a random one: it is rendered into fragments
# cached on their own (the thread) and reused by many pages. An HTML comment cannot come
# from a reader (their text is escaped), and nothing but a fragment is searched for it.
KEYED_PREFIX = b"<!--tp-keyed:"
KEYED_HOLE_RE = re.compile(rb"<!--tp-keyed:([a-z][a-z-]*):([\w.-]+):([\w.-]+)-->")
_keyed_holes = {}  # name → (values(request, scope) → {key: text}, default bytes)


def register_keyed_hole(name, values, *, default=""):
    """Declare values that fragments show in many places and that may change without
    any write reaching their cache key (say, a comment's reaction count).

    ``values(request, scope)`` returns ``{key: text}`` for one request and scope (an
    article id: every key a page shows of it); a key it leaves out gets ``default``.
    It is called at most once per scope and request, for shared pages too, so it
    must be cheap (a short-lived cache of its own)."""
    _keyed_holes[name] = (values, default.encode())


def keyed_hole(name, scope, key):
    """The marker a fragment renders where keyed hole ``name`` shows ``key`` of ``scope``."""
    return f"<!--tp-keyed:{name}:{scope}:{key}-->"


class KeyedTables:
    """One request's tables of keyed-hole values, each asked for once."""

    def __init__(self, request):
        self.request = request
        self.tables = {}

    def table(self, name, scope):
        table = self.tables.get((name, scope))
        if table is None:
            table = self.tables[name, scope] = _keyed_holes[name][0](self.request, scope)
        return table

    def value(self, name, scope, key):
        text = self.table(name, scope).get(key)
        if text is None:
            return _keyed_holes[name][1]
        return text if text.__class__ is bytes else str(text).encode()

    def fill(self, html_bytes):
        """``html_bytes`` with every keyed-hole marker replaced by its value."""
        if KEYED_PREFIX not in html_bytes:
            return html_bytes
        return KEYED_HOLE_RE.sub(lambda match: self._value_of(match), html_bytes)

    def _value_of(self, match):
        name, scope, key = (part.decode() for part in match.groups())
        if name not in _keyed_holes:
            return match.group(0)
        return self.value(name, scope, key)


def split_keyed(segment):
    """``segment`` (bytes) as bytes and ``((name, scope), key)`` pieces, one per marker
    of a registered keyed hole (a skeleton fills them per request)."""
    if KEYED_PREFIX not in segment:
        return [segment]
    pieces, start, scopes = [], 0, {}
    for match in KEYED_HOLE_RE.finditer(segment):
        name, scope, key = (part.decode() for part in match.groups())
        if name not in _keyed_holes:
            continue
        pieces.append(segment[start : match.start()])
        # One tuple per scope, shared by its keys: pickled once.
        pieces.append((scopes.setdefault((name, scope), (name, scope)), key))
        start = match.end()
    pieces.append(segment[start:])
    return pieces


# --- query parameters of cached pages ----------------------------------------------------------
@dataclass(frozen=True)
class QueryPart:
    """What one app reads from a cached page's query string."""

    key: tuple = ()  # normalised values (and settings) that shape the page
    redirect_to: str | None = None  # the canonical URL, when the query spells it otherwise
    context: dict = field(default_factory=dict)  # for the page's template
    # A redirect that depends on the reader (a remembered choice) is temporary (302).
    permanent: bool = True


@dataclass(frozen=True)
class Query:
    key: tuple
    redirect_to: str | None
    context: dict
    permanent: bool = True


_queries = {}  # parameter names → read(request) → QueryPart
_query_cookies = set()  # cookies that only a query reading looks at


def register_query(names, read, *, cookies=()):
    """Let an app own query parameters of cached pages (the comments app: ``cpage`` and
    ``csort``). ``read(request)`` returns a ``QueryPart``. ``cookies``: cookies its
    reading alone depends on (a remembered sort, turned into a redirect before any
    cache is asked), which therefore leave a reader on the shared page."""
    _queries[frozenset(names)] = read
    _query_cookies.update(cookies)


def read_query(request):
    """Every registered reading of ``request``'s query, put together."""
    key, redirect_to, context, permanent = [], None, {}, True
    for read in _queries.values():
        part = read(request)
        key.extend(part.key)
        if redirect_to is None and part.redirect_to is not None:
            redirect_to, permanent = part.redirect_to, part.permanent
        context.update(part.context)
    return Query(key=tuple(key), redirect_to=redirect_to, context=context, permanent=permanent)


class Redirect(Exception):  # noqa: N818 (it is an answer, not an error)
    """Raised while rendering a page to answer with a redirect instead (say, a page
    number past the end); the view turns it into a 302."""

    def __init__(self, url):
        super().__init__(url)
        self.url = url


# --- the anonymous page cache -------------------------------------------------------------------
@dataclass
class PageSkeleton:
    """The shared page as segments: bytes to send as they are, and the names of the
    holes to fill per request."""

    segments: list
    content_type: str
    keyed: tuple = ()  # the (name, scope) of every keyed hole among the segments

    @classmethod
    def cut(cls, content, *, holes, inserts, content_type):
        """Segments of the rendered page ``content`` (which still holds its markers).

        ``holes`` maps a hole's name to its marker; ``inserts`` maps a marker to bytes
        that replace it for good (fragments: megabytes kept as the same object, never
        copied or scanned here).
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
        # The keyed holes (in the fragments) become pieces of their own.
        segments = [
            piece
            for segment in segments
            for piece in (split_keyed(segment) if segment.__class__ is bytes else (segment,))
        ]
        keyed = tuple(dict.fromkeys(piece[0] for piece in segments if piece.__class__ is tuple))
        return cls(segments=segments, content_type=content_type, keyed=keyed)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_filled", None)  # this worker's, never pickled into the shared cache
        return state

    @property
    def size(self):
        return sum(len(segment) for segment in self.segments if isinstance(segment, bytes))

    def response_for(self, request):
        segments = self.segments
        if self.keyed:
            segments = self.filled(KeyedTables(request))
        values = {}
        # Holes rendered as markers for the whole response (ESI behind an edge cache,
        # site_config.edge) stay markers here.
        markers = getattr(request, HOLES_ATTR, None)
        parts = []
        for segment in segments:
            if segment.__class__ is str:
                if segment not in values:
                    values[segment] = (
                        _holes[segment](request) if markers is None else markers[segment]
                    ).encode()
                segment = values[segment]
            parts.append(segment)
        return HttpResponse(b"".join(parts), content_type=self.content_type)

    def filled(self, tables):
        """The segments with the keyed holes filled from ``tables`` and joined to the
        bytes around them. Kept while the tables are the same objects (a keyed hole's
        values come from a short-lived cache: the same map for every reader for
        seconds), so most requests fill no keyed hole at all."""
        current = tuple(tables.table(name, scope) for name, scope in self.keyed)
        known = self.__dict__.get("_filled")
        if known is not None and all(
            old is new or not (old or new) for old, new in zip(known[0], current, strict=True)
        ):
            return known[1]
        filled, run = [], []
        for segment in self.segments:
            kind = segment.__class__
            if kind is str:
                if run:
                    filled.append(b"".join(run))
                    run = []
                filled.append(segment)
            else:
                run.append(segment if kind is bytes else tables.value(*segment[0], segment[1]))
        if run:
            filled.append(b"".join(run))
        self._filled = (current, filled)
        return filled


def shared_cookies():
    """Cookies that leave a reader on the pages every anonymous reader shares."""
    # The chosen language is part of every key (articles.models.CacheVersion), so a
    # language cookie still shares the page with everyone reading in that language.
    return {settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME, *_query_cookies}


def is_anonymous_request(request):
    """True when the reader is anonymous and sent no cookie that personalises a page
    (a session, a remembered name or a flash message)."""
    if set(request.COOKIES) - shared_cookies():
        return False
    user = getattr(request, "user", None)  # not yet there before AuthenticationMiddleware
    return user is None or not user.is_authenticated


def is_shared_view(request):
    """True when this reader sees what every cookie-less anonymous reader sees."""
    if request.method not in ("GET", "HEAD"):
        return False
    owned = frozenset().union(*_queries)
    if set(request.GET) - owned:
        return False  # ?replyto= and anything else render normally
    return is_anonymous_request(request)


def cached_page(request, key, render, *, timeout):
    """``render()`` the page, or serve it from the anonymous page cache under ``key``
    (None: render, never cache). Only ``is_shared_view`` requests use the cache."""
    if key is None or not is_shared_view(request):
        return render()
    skeleton = cache_get(key)
    if skeleton is None:
        started = getattr(request, HOLES_ATTR, None)  # the edge's (ESI): kept for later
        markers = started or new_markers()
        setattr(request, HOLES_ATTR, markers)
        try:
            response = render()
            if hasattr(response, "render"):
                response.render()  # template tags register their fragments here
        finally:
            if started is None:
                delattr(request, HOLES_ATTR)
        if response.status_code != 200:
            splice_fragments(request, response)
            return response
        fragments = getattr(request, FRAGMENTS_ATTR, None) or {}
        skeleton = PageSkeleton.cut(
            response.content,
            holes={name: marker.encode() for name, marker in markers.items()},
            inserts=dict(fragments),
            content_type=response["Content-Type"],
        )
        fragments.clear()  # spliced into the skeleton: nothing left for the middleware
        cache_set(key, skeleton, timeout)
    return skeleton.response_for(request)
