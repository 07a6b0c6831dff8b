import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client
from django.test.client import MULTIPART_CONTENT
from django.utils.http import urlencode

from comments.forms import TIMESTAMP_SALT
from site_config import edge
from tests.factories import ArticleFactory, CommentFactory, StaffFactory, UserFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (flood keys, cached threads), and with no
    worker's copy of reaction counts (keyed by article id, which a database reuses)."""
    from comments.reactions import shared_counts

    cache.clear()
    shared_counts.clear()
    yield
    cache.clear()
    shared_counts.clear()


def form_encoded(data, content_type):
    """A dict posted with Django's default multipart becomes urlencoded, as the site's
    forms (no ``enctype``) send it in a browser; the comment endpoints refuse multipart
    with 415 (site_config.middleware.RequestBodyLimitMiddleware). Files, another
    ``content_type`` and ``client.generic()`` are sent as given."""
    if data is None:
        data = {}
    if (
        content_type == MULTIPART_CONTENT
        and isinstance(data, dict)
        and not any(hasattr(value, "read") for value in data.values())
    ):
        return urlencode(data, doseq=True), "application/x-www-form-urlencoded"
    return data, content_type


class FormClient(Client):
    """A test client that posts forms like a browser (see ``form_encoded``)."""

    def post(self, path, data=None, content_type=MULTIPART_CONTENT, *args, **kwargs):
        data, content_type = form_encoded(data, content_type)
        return super().post(path, data, content_type, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _clients_post_forms_urlencoded():
    """Every ``Client`` (pytest-django's ``client`` too) posts forms like a browser."""
    multipart_post = Client.post

    def post(self, path, data=None, content_type=MULTIPART_CONTENT, *args, **kwargs):
        data, content_type = form_encoded(data, content_type)
        return multipart_post(self, path, data, content_type, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "post", post)
        yield


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright, one for the whole run: its sync API keeps an
    asyncio loop in this thread, so a second one could not start while it lives (the
    browser suite in tests/browser/ and the edge tests through Varnish share it)."""
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, INSTALL_HINT, require

    require(os.access(CHROMIUM, os.X_OK), f"Chromium not found at {CHROMIUM}; {INSTALL_HINT}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class _PurgeRecorder(BaseHTTPRequestHandler):
    def do_PURGE(self):  # noqa: N802 (the HTTP method)
        keys = self.headers.get(edge.PURGE_HEADER, "").split()
        self.server.received.append(keys)
        self.server.arrivals.append((time.monotonic(), keys))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def purge_server(settings):
    """A real HTTP server taking the edge's purges; EDGE_PURGE_URLS points at it.
    ``received``: each purge's keys; ``arrivals``: the same with the time each came."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PurgeRecorder)
    server.received, server.arrivals = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.EDGE_PURGE_URLS = [f"http://127.0.0.1:{server.server_port}/"]
    yield server
    drained = edge.wait_for_purges(10)
    server.shutdown()
    server.server_close()
    assert drained, "purges still pending after 10 s"


@pytest.fixture
def article(db):
    return ArticleFactory()


@pytest.fixture
def staff_user(db):
    return StaffFactory(username="editor")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def comment_factory(db):
    return CommentFactory


class _SignedAt(signing.TimestampSigner):
    """A signer whose signature carries the time ``at`` instead of now."""

    def __init__(self, *, at, **kwargs):
        super().__init__(**kwargs)
        self.at = at

    def timestamp(self):
        return signing.b62_encode(int(self.at))


def aged_timestamp(seconds=60):
    """A form timestamp signed ``seconds`` ago (as if the reader took that long to type):
    both the time it carries and its signature's time, which ``signing.loads(max_age=…)``
    checks."""
    then = time.time() - seconds
    return _SignedAt(at=then, salt=TIMESTAMP_SALT).sign_object(then)


@pytest.fixture
def comment_data():
    """Valid POST data for the comment form; pass overrides as keyword arguments."""

    def make(**overrides):
        data = {
            "name": "Ada Reader",
            "email": "ada@example.org",
            "url": "",
            "body": "A thoughtful comment.",
            "parent": "",
            "timestamp": aged_timestamp(),
            "homepage": "",
        }
        data.update(overrides)
        return data

    return make
