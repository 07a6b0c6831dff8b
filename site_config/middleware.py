"""Site-wide middleware: refuse request bodies before anything reads them, and turn an
unreachable or locked database into a clear 503 page, never a blank 500."""

import logging

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, InterfaceError, OperationalError
from django.shortcuts import render
from django.urls import Resolver404, resolve

logger = logging.getLogger("threadpress")

UNAVAILABLE_MARKERS = (
    "database is locked",
    "database table is locked",
    "deadlock detected",
    "connection",
    "could not connect",
    "server closed",
    "terminating connection",
    "the database system is",
    "unable to open database file",
)


class RequestBodyLimitMiddleware:
    """Refuse a body by its declared size and type before a single byte of it is read.

    Django checks ``DATA_UPLOAD_MAX_MEMORY_SIZE`` only while it parses, and a multipart
    body's file parts are spooled to a temporary file first; the CSRF check is what reads
    them. So this runs first in ``MIDDLEWARE`` and answers 413 whenever ``Content-Length``
    exceeds the limit, whatever the content type. A body without ``Content-Length``
    (chunked) is never read by Django at all: ``WSGIRequest`` sees it as empty.

    The comment forms only send ``application/x-www-form-urlencoded`` (they have no
    ``enctype``), so multipart to a comment endpoint is refused with 415 without being
    parsed; only the one-click unsubscribe takes it, as RFC 8058 lets mail clients send it.
    """

    refuse_multipart_namespace = "comments"
    multipart_allowed_views = frozenset({"comments:unsubscribe"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and declared_length(request) > limit:
            return render(request, "413.html", {"limit": limit}, status=413)
        if request.content_type == "multipart/form-data" and self._refuses_multipart(request):
            return render(request, "415.html", status=415)
        return self.get_response(request)

    def _refuses_multipart(self, request):
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return (
            self.refuse_multipart_namespace in match.namespaces
            and match.view_name not in self.multipart_allowed_views
        )


def declared_length(request) -> int:
    """The body size the client announced; Django reads nothing without one."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def is_database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "try again shortly", not for bugs in a query."""
    if isinstance(exc, InterfaceError):
        return True
    if isinstance(exc, OperationalError):
        message = str(exc).lower()
        return any(marker in message for marker in UNAVAILABLE_MARKERS)
    return False


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DatabaseError) or not is_database_unavailable(exception):
            return None
        logger.warning(
            "Database unavailable for %s %s: %s", request.method, request.path, exception
        )
        # The page must render without the database: no session-backed user or messages.
        request.user = AnonymousUser()
        request._messages = _NoMessages()
        response = render(request, "503.html", status=503)
        response["Retry-After"] = "5"
        return response


class _NoMessages(list):
    """An empty message store (the session behind the real one may be unreachable)."""

    def update(self, response):
        return []
