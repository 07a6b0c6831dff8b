"""Turn an unreachable or locked database into a clear 503 page, never a blank 500."""

import logging

from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, InterfaceError, OperationalError
from django.shortcuts import render

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
