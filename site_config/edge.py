"""The edge cache (Varnish, deploy/varnish/threadpress.vcl) in front of the app.

- Surrogate keys: views name what a response shows with ``add_surrogate_keys(request,
  *keys)``; ``EdgeCacheMiddleware`` lists them in the ``xkey`` header, and a change
  purges exactly the keys it touches (``purge_keys``). Key names are built here and
  nowhere else.
- Edge TTL: a response with keys, to a request every cookie-less anonymous reader
  could have made, and that neither sets a cookie nor is private, gets
  ``Surrogate-Control: max-age=N`` (``EDGE_CACHE_SECONDS``, or less when a view says
  the page changes by itself earlier: ``limit_edge_ttl``). The VCL reads and strips
  it; browsers keep whatever ``Cache-Control`` the app sends. Nothing else is cached.
- ESI: behind a cache that says ``Surrogate-Capability: …ESI/1.0``, the per-reader
  values of a shared page (``site_config.pagecache``'s holes: the CSRF token, the
  comment form's signed timestamp) are not filled by the app: the element holding each
  becomes an ``<esi:include>`` of the ``edge-fragment`` view, kept by the edge for its
  reader only (hashed on their CSRF cookie); a reader without that cookie gets no token,
  the same fragment for all of them, which the edge shares (``site_config.csrf`` checks
  their comment post by the browser's headers). Without the header, pages are complete
  as before. The VCL keeps two variants of a page (``X-Edge-Reader``): a new reader's
  (no CSRF cookie) is whole, with its empty tokens and the form's timestamp in place,
  kept ``EDGE_NEW_READER_SECONDS``; a returning reader's includes every hole.
- Purging: ``purge_keys(keys)`` hands the keys, once the transaction commits, to one
  background thread per process that batches them and sends ``PURGE /`` with an
  ``xkey-purge`` header to every URL of ``EDGE_PURGE_URLS`` (retried, logged; a purge
  that fails never fails the write). With read replicas it first waits until they have
  replayed the change (``Purger``, ``wait_for_replay``).
"""

import heapq
import http.client
import itertools
import logging
import math
import os
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import Error, connections, transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from site_config import pagecache
from site_config.dbrouter import close_quietly, replica_health

logger = logging.getLogger("threadpress")

KEYS_ATTR = "_surrogate_keys"
EXPIRES_ATTR = "_edge_expires"
MAX_SECONDS_ATTR = "_edge_max_seconds"
LISTS_KEY = "articles"  # every list of articles: home, sections, tags, feeds, sitemap
COMMENTS_KEY = "comments"  # the site-wide comment feeds: any discussion change
XKEY_HEADER = "xkey"
ESI_CAPABILITY = "ESI/1.0"
ESI_INCLUDE = b"<esi:include"


def article_key(pk):
    return f"article-{pk}"


def section_key(pk):
    return f"section-{pk}"


def tag_key(pk):
    return f"tag-{pk}"


def add_surrogate_keys(request, *keys):
    """Say that the response to ``request`` shows ``keys`` (purging one drops it)."""
    found = getattr(request, KEYS_ATTR, None)
    if found is None:
        found = set()
        setattr(request, KEYS_ATTR, found)
    found.update(keys)


def surrogate_keys(request):
    """The keys the response to ``request`` shows, sorted."""
    return sorted(getattr(request, KEYS_ATTR, ()))


def limit_edge_ttl(request, until):
    """The response to ``request`` changes by itself at ``until`` (a datetime: a comment
    window closing, a scheduled article coming out) with no write to purge it: the edge
    keeps it no longer. None, or a time already past, changes nothing."""
    if until is None or until <= timezone.now():
        return
    current = getattr(request, EXPIRES_ATTR, None)
    if current is None or until < current:
        setattr(request, EXPIRES_ATTR, until)


def limit_edge_seconds(request, seconds):
    """The edge keeps the response to ``request`` at most ``seconds``."""
    current = getattr(request, MAX_SECONDS_ATTR, None)
    if current is None or seconds < current:
        setattr(request, MAX_SECONDS_ATTR, seconds)


def edge_ttl(request, now=None):
    """Seconds the edge may keep the response to ``request``."""
    seconds = min(settings.EDGE_CACHE_SECONDS, getattr(request, MAX_SECONDS_ATTR, math.inf))
    until = getattr(request, EXPIRES_ATTR, None)
    if until is not None:
        left = (until - (now or timezone.now())).total_seconds()
        seconds = min(seconds, max(int(left), 0))
    return seconds


# --- the response headers ------------------------------------------------------------------
def is_anonymous_reader(request):
    """True when ``request`` is one every cookie-less anonymous reader could make (only
    cookies that personalise nothing, no session, GET or HEAD)."""
    return request.method in ("GET", "HEAD") and pagecache.is_anonymous_request(request)


def is_edge_cacheable(request, response):
    if not getattr(request, KEYS_ATTR, None) or response.status_code != 200:
        return False
    if response.cookies or response.has_header("Set-Cookie"):
        return False
    cache_control = response.get("Cache-Control", "").lower()
    if "private" in cache_control or "no-store" in cache_control:
        return False
    return is_anonymous_reader(request)


class EdgeCacheMiddleware:
    """``xkey`` and ``Surrogate-Control`` on the responses the edge may share; holes of
    pages rendered outside the page cache (lists) become ESI includes behind an ESI cache.

    Placed near the top of ``MIDDLEWARE`` so that it sees every cookie and
    ``Cache-Control`` the others add on the way out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        esi = wants_esi(request) and is_anonymous_reader(request)
        if esi:
            pagecache.start_holes(request)  # every hole rendered as a marker
        response = self.get_response(request)
        markers = pagecache.stop_holes(request) if esi else None
        cacheable = is_edge_cacheable(request, response)
        has_markers = (
            markers
            and not response.streaming
            and pagecache.MARKER_PREFIX.encode() in response.content
        )
        if has_markers:
            if cacheable:
                response.content, seconds = edge_page(request, response.content, markers)
                if seconds is not None:
                    limit_edge_seconds(request, seconds)
                # Two variants of the page at the edge (the VCL hashes them apart too).
                patch_vary_headers(response, (EDGE_READER_HEADER,))
            else:  # a page the edge won't keep is served complete, as without it
                response.content = pagecache.fill_holes(request, response.content, markers)
                # The CSRF middleware has answered already: it sets the cookie of a
                # token made just now.
                CsrfViewMiddleware(self.get_response).process_response(request, response)
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        if cacheable:
            response[XKEY_HEADER] = " ".join(surrogate_keys(request))
            directives = [f"max-age={edge_ttl(request)}"]
            if has_markers and ESI_INCLUDE in response.content:
                directives.append(f'content="{ESI_CAPABILITY}"')
            response["Surrogate-Control"] = ", ".join(directives)
        return response


# --- ESI -----------------------------------------------------------------------------------
FRAGMENT_SALT = "threadpress.edge.fragment"
CSRF_HOLE = "csrf"  # pagecache's hole of the CSRF token
# Set by the VCL alone on page requests (it drops the client's): whether the reader
# sent a well-formed CSRF cookie. Each value is a variant of the page at the edge.
EDGE_READER_HEADER = "X-Edge-Reader"
NEW_READER = "new"  # no CSRF cookie; "returning": one
SHARED_PARAM = "shared"  # in a fragment URL: the same for everyone (the VCL's rule too)
FRAGMENT_SECONDS = 60  # a reader's token, kept by the edge for them (their cookie's)
FRAGMENTS_KEY = "fragments"  # the xkey of every fragment the edge keeps (purge by hand)


def wants_esi(request):
    """True when an ESI processor in front asked for includes (the VCL sets
    ``Surrogate-Capability: varnish="ESI/1.0"`` on every backend request)."""
    return ESI_CAPABILITY in request.headers.get("Surrogate-Capability", "")


def is_new_reader(request):
    """True when the edge says the reader sent no well-formed CSRF cookie (the VCL
    keeps this variant of the page apart from the returning readers')."""
    return request.headers.get(EDGE_READER_HEADER) == NEW_READER


def edge_page(request, content, markers):
    """``content`` (bytes) as the edge keeps it for the reader's variant, and the most
    seconds the edge may keep it (None: ``edge_ttl`` alone).

    A new reader's page is whole: its CSRF holes are filled in place as their fragment
    would fill them (``no_csrf_token``: the same bytes for every such reader), and so
    are the holes the same for everyone at one moment (the form's signed timestamp),
    which is why the edge keeps that page only ``EDGE_NEW_READER_SECONDS``: Varnish
    then serves it as it is, with no include to assemble per view. A returning
    reader's page (or one without the header) has an include for every hole."""
    if not is_new_reader(request):
        return esi_page(content, markers), None
    markers = dict(markers)
    seconds = None
    for name in list(markers):
        if name == CSRF_HOLE:
            value = no_csrf_token(request)
        elif not pagecache.is_per_reader(name):
            value = pagecache.hole_value_function(name)(request)
            seconds = settings.EDGE_NEW_READER_SECONDS
        else:
            continue
        content = content.replace(markers.pop(name).encode(), value.encode())
    return esi_page(content, markers), seconds


def esi_page(content, markers):
    """``content`` (bytes) with every element holding a hole's marker (``markers``: hole
    name → marker) replaced by an ``<esi:include>`` of the fragment that renders the
    element for each reader. Varnish does not look inside attribute values, so the
    whole element (``<input … value="marker">``) goes, not just the value."""
    names = {marker.encode(): name for name, marker in markers.items()}
    parts, start = [], 0
    while True:
        found = [
            (index, marker) for marker in names if (index := content.find(marker, start)) != -1
        ]
        if not found:
            break
        index, marker = min(found)
        tag_start = content.rfind(b"<", start, index)
        tag_end = content.find(b">", index + len(marker))
        if tag_start == -1 or tag_end == -1:  # not inside an element: leave the rest as is
            break
        prefix = content[tag_start:index].decode()
        suffix = content[index + len(marker) : tag_end + 1].decode()
        parts.append(content[start:tag_start])
        parts.append(b'<esi:include src="%s"/>' % fragment_src(names[marker], prefix, suffix))
        start = tag_end + 1
    parts.append(content[start:])
    return b"".join(parts)


def fragment_src(name, prefix, suffix):
    """The URL (bytes) of the fragment rendering ``prefix`` + hole ``name`` + ``suffix``;
    signed, so that nobody can make the site echo markup of their own."""
    value = signing.dumps([name, prefix, suffix], salt=FRAGMENT_SALT, compress=True)
    # A value the same for every reader says so in the URL: the VCL then shares it.
    shared = "" if pagecache.is_per_reader(name) else f"{SHARED_PARAM}=1&"
    return f"{reverse('edge-fragment')}?{shared}h={value}".encode()


def _has_csrf_cookie(request):
    """The reader sent a well-formed CSRF cookie (CsrfViewMiddleware made none up)."""
    return "CSRF_COOKIE" in request.META and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")


@never_cache
@require_GET
def fragment(request):
    """One per-reader element of a page the edge shares (an ESI include).

    The CSRF token is that of the reader's cookie, and the edge keeps it for them (the
    VCL hashes it on their cookie). A reader without one (their first page) gets no
    token, the same fragment as every such reader, which the edge shares: a cookie-less
    page view costs the app nothing. Their comment post is checked by the browser's
    own headers instead (``site_config.csrf.CsrfViewMiddleware``); any page the app
    renders them (one that is not shared, a refused post) sets their cookie."""
    try:
        name, prefix, suffix = signing.loads(request.GET.get("h", ""), salt=FRAGMENT_SALT)
        value_of = pagecache.hole_value_function(name)
    except (signing.BadSignature, ValueError, TypeError, KeyError):
        return HttpResponseBadRequest(_("Unknown fragment."), content_type="text/plain")
    shared = not pagecache.is_per_reader(name)
    if (request.GET.get(SHARED_PARAM) == "1") != shared:
        # The VCL shares what the URL says is shared: never a reader's own value.
        return HttpResponseBadRequest(_("Unknown fragment."), content_type="text/plain")
    # The edge keeps a fragment for its reader only (hashed on their CSRF cookie): a
    # page's other includes of it, and their next pages, cost the app nothing. A
    # timestamp is kept a second (it dates the form).
    seconds, owner = FRAGMENT_SECONDS, "Cookie"
    if shared:
        seconds, owner = 1, None  # the VCL drops the cookies of these requests
    elif not _has_csrf_cookie(request):
        # The VCL hashes every cookie-less request of a fragment alike (and sends no
        # cookie): only a value the same for all of them may be kept.
        if name == CSRF_HOLE:
            value_of = no_csrf_token
            seconds = settings.EDGE_CACHE_SECONDS
        else:
            seconds = 0
    elif name != CSRF_HOLE:
        seconds = 1
    html = f"{prefix}{value_of(request)}{suffix}"
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    if seconds:
        response["Surrogate-Control"] = f"max-age={seconds}"
        # Besides the VCL's hash: a cache in front matches only the same reader (their
        # cookie, or none).
        if owner is not None:
            patch_vary_headers(response, (owner,))
        response[XKEY_HEADER] = FRAGMENTS_KEY
    # The CSRF middleware would set a cookie nobody receives (an include's headers stay
    # at the edge): not this response's business.
    request.META.pop("CSRF_COOKIE_NEEDS_UPDATE", None)
    return response


def no_csrf_token(request):
    """The CSRF hole of a reader without a CSRF cookie: empty (the hidden input stays,
    with no value)."""
    return ""


# --- purging -------------------------------------------------------------------------------
PURGE_HEADER = "xkey-purge"
PURGE_RETRIES = 3  # attempts per URL and batch, 0.2 s, 0.4 s apart
MAX_KEYS_PER_REQUEST = 200  # keeps the header well under Varnish's 8 KB
REPLICA_CHECK_MARGIN = 1.5  # seconds: how stale a replica's lag measurement may be, and more
REPLAY_POLL_SECONDS = 0.005  # how often the purger asks a replica how far it has replayed
# The primary's WAL position once a transaction has committed on it (with synchronous_commit
# on, COMMIT returns once its record is written, so this is at or past it).
WAL_POSITION_SQL = "SELECT pg_current_wal_lsn()"
# True when a database has replayed the WAL up to %s, or is no standby at all (a primary
# listed as a replica, as the test settings' mirrors, has every change). NULL (a standby
# that has replayed nothing yet) counts as not yet.
REPLAYED_SQL = (
    "SELECT NOT pg_is_in_recovery() OR COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)"
)


class Purger:
    """One background thread per process sending the keys handed to it, in batches,
    to every edge cache. Keys that arrive while a batch is on its way make the next one;
    keys handed over with a ``delay`` join a batch once it has passed.

    Keys handed over with ``lsn`` (the primary's WAL position after the change, see
    ``purge_keys``) are sent once every replica the router reads has replayed that far
    (``wait_for_replay``), so the page the edge fetches next has the change; when that
    takes longer than ``DATABASE_REPLICA_MAX_LAG_SECONDS`` they are sent anyway, and
    again ``REPLICA_CHECK_MARGIN`` later (by then the router has measured the straggler
    and stopped reading it)."""

    def __init__(self):
        self.lock = threading.Condition()
        self.pending = set()
        self.pending_lsn = 0  # the furthest WAL position the pending keys wait for
        self.delayed = []  # a heap of (due, sequence number, keys)
        self.sequence = itertools.count()
        self.busy = False
        self.thread = None
        self.pid = None

    def add(self, keys, *, delay=0.0, lsn=0):
        with self.lock:
            if delay > 0:
                due = time.monotonic() + delay
                heapq.heappush(self.delayed, (due, next(self.sequence), frozenset(keys)))
            else:
                self.pending.update(keys)
                self.pending_lsn = max(self.pending_lsn, lsn)
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.pid = os.getpid()  # a forked worker starts its own thread
                self.busy = False
                self.thread = threading.Thread(target=self._run, name="edge-purger", daemon=True)
                self.thread.start()
            self.lock.notify_all()

    def wait(self, timeout=10.0):
        """Block until every key handed over so far was sent (or given up on), delayed
        ones too; False when ``timeout`` passed first. For tests and commands."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.pending or self.delayed or self.busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(left)
        return True

    def _next_batch(self):
        """The keys to send now and the WAL position they wait for, waiting for some
        (called with the lock held)."""
        while True:
            now = time.monotonic()
            while self.delayed and self.delayed[0][0] <= now:
                self.pending.update(heapq.heappop(self.delayed)[2])
            if self.pending:
                batch, lsn = sorted(self.pending), self.pending_lsn
                self.pending.clear()
                self.pending_lsn = 0
                self.busy = True
                return batch, lsn
            self.busy = False
            self.lock.notify_all()
            self.lock.wait(self.delayed[0][0] - now if self.delayed else None)

    @staticmethod
    def _replayed(lsn):
        """``wait_for_replay`` that never raises: when it fails, the keys are purged now
        and once more later, as after a timeout."""
        try:
            return wait_for_replay(lsn, timeout=settings.DATABASE_REPLICA_MAX_LAG_SECONDS)
        except Exception:
            logger.exception("Waiting for the replicas failed; purging now and again later")
            return False

    def _run(self):
        while True:
            with self.lock:
                batch, lsn = self._next_batch()
            try:
                if lsn and not self._replayed(lsn):
                    self.add(batch, delay=REPLICA_CHECK_MARGIN)
                for start in range(0, len(batch), MAX_KEYS_PER_REQUEST):
                    chunk = batch[start : start + MAX_KEYS_PER_REQUEST]
                    for url in settings.EDGE_PURGE_URLS:
                        send_purge(url, chunk)
            except Exception:  # never let the thread die
                logger.exception("Edge purge failed")
            finally:
                with self.lock:
                    idle = not self.pending
                if idle:  # no connection (or transaction) of this thread stays open
                    for alias in replicas():
                        close_quietly(connections[alias])


def send_purge(url, keys):
    """``PURGE`` ``keys`` on the edge cache at ``url``; True when it answered 2xx.
    Retried with backoff, logged; never raises."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    header = " ".join(keys)
    error = None
    for attempt in range(PURGE_RETRIES):
        if attempt:
            time.sleep(0.2 * 2 ** (attempt - 1))
        connection = connection_class(
            parts.hostname, parts.port, timeout=settings.EDGE_PURGE_TIMEOUT_SECONDS
        )
        try:
            connection.request("PURGE", parts.path or "/", headers={PURGE_HEADER: header})
            response = connection.getresponse()
            response.read()
            if 200 <= response.status < 300:
                logger.debug("Edge purge %s: %s", url, header)
                return True
            error = f"HTTP {response.status} {response.reason}"
        except (OSError, http.client.HTTPException) as exc:
            error = str(exc) or exc.__class__.__name__
        finally:
            connection.close()
    logger.error(
        "Edge purge of %d key(s) failed at %s after %d attempts: %s",
        len(keys),
        url,
        PURGE_RETRIES,
        error,
    )
    return False


purger = Purger()


def purge_keys(keys, *, using=None):
    """Purge ``keys`` on every edge cache in ``EDGE_PURGE_URLS`` once the current
    transaction commits (at once outside one), in the background (never failing the
    write); nothing on a rollback."""
    keys = frozenset(key for key in keys if key)
    if not keys or not settings.EDGE_PURGE_URLS:
        return

    def hand_over():
        lsn = commit_position(using)
        purger.add(keys, lsn=lsn)
        delay = 0 if lsn else repurge_delay()
        if delay:
            purger.add(keys, delay=delay)

    transaction.on_commit(hand_over, using=using, robust=True)


def repurge_delay():
    """With read replicas but no WAL position to wait for (a primary that is no
    PostgreSQL, or did not answer), the page the edge fetches right after a purge may
    come from a replica that has not replayed the change yet, and would be kept: the
    keys are purged once more when every replica the app still reads from has it
    (replicas are used up to ``DATABASE_REPLICA_MAX_LAG_SECONDS`` behind, measured
    about once a second). 0 without replicas."""
    if not replicas():
        return 0
    return settings.DATABASE_REPLICA_MAX_LAG_SECONDS + REPLICA_CHECK_MARGIN


def replicas():
    return getattr(settings, "DATABASE_REPLICAS", None) or []


def commit_position(using=None):
    """The primary's WAL position right after the transaction that just committed on
    ``using``, as a number, when there are replicas to wait for and the primary is
    PostgreSQL; 0 otherwise (nothing is asked then), or when it could not be had."""
    if not replicas():
        return 0
    connection = transaction.get_connection(using)
    if connection.vendor != "postgresql":
        return 0
    try:
        with connection.cursor() as cursor:
            cursor.execute(WAL_POSITION_SQL)
            (position,) = cursor.fetchone()
    except Error as exc:
        logger.warning("No WAL position for a purge (%s); purging twice instead", exc)
        return 0
    return parse_lsn(position)


def parse_lsn(text):
    """PostgreSQL's ``pg_lsn`` text (``16/B374D848``) as a number."""
    high, low = text.split("/")
    return int(high, 16) << 32 | int(low, 16)


def format_lsn(number):
    return f"{number >> 32:X}/{number & 0xFFFFFFFF:X}"


def wait_for_replay(lsn, *, timeout):
    """Block until every replica the router reads now (``replica_health.usable``, asked
    again at each round: one that comes back is waited for too) has replayed the WAL up
    to ``lsn``, polling each on this thread's own connection every
    ``REPLAY_POLL_SECONDS``; True then (at once without replicas), False after
    ``timeout`` seconds, or when one the router stopped reading meanwhile never got
    there. A replica that does not answer is not waited for: the router does not read
    it either."""
    deadline = time.monotonic() + timeout
    position = format_lsn(lsn)
    done, waited = set(), set()
    while True:
        waiting = [alias for alias in replica_health.usable(replicas()) if alias not in done]
        done.update(alias for alias in waiting if has_replayed(alias, position))
        behind = [alias for alias in waiting if alias not in done]
        waited.update(behind)
        if not behind:
            # One that dropped out while behind (this worker measured it too far
            # behind, or down) may still be read by workers that measured it earlier.
            return waited <= done
        if time.monotonic() >= deadline:
            logger.warning(
                "Replica(s) %s had not replayed %s after %s s; purging now and again later",
                ", ".join(behind),
                position,
                timeout,
            )
            return False
        time.sleep(REPLAY_POLL_SECONDS)


def has_replayed(alias, position):
    """True when the database ``alias`` has replayed the WAL up to ``position``, is no
    PostgreSQL standby, or does not answer (its connection closed, for the next try)."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return True
    try:
        with connection.cursor() as cursor:
            cursor.execute(REPLAYED_SQL, [position])
            (replayed,) = cursor.fetchone()
    except Error:
        close_quietly(connection)
        return True
    return bool(replayed)


def wait_for_purges(timeout=10.0):
    """Block until the purges handed over so far were sent (tests, commands)."""
    return purger.wait(timeout)


# --- receivers (connected in the apps' ready()) ----------------------------------------------
def purge_discussion(sender, article_ids, **kwargs):
    """``comments.signals.discussion_changed``: the pages of those articles (comments,
    article edits, author renames reach it), and the site-wide comment feeds."""
    purge_keys([COMMENTS_KEY, *(article_key(pk) for pk in article_ids)])


def purge_article(sender, instance, **kwargs):
    """An article saved or deleted (published, retitled, scheduled…): its page and
    every list."""
    purge_keys([LISTS_KEY, article_key(instance.pk)])
