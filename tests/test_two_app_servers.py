"""Two real gunicorn app servers sharing PostgreSQL and Redis behave as one site
(issue 16): a comment posted through one is on the page the other serves at once, and
the flood limit, the login throttling and the one-count-per-reader rule of reports
hold across both.

Each server is ``gunicorn -c site_config/gunicorn.conf.py site_config.wsgi`` with one
sync worker and the production settings (``DJANGO_DEBUG=0``, as ``benchmarks/load.sh``
runs it; ``DJANGO_PLAIN_STATIC=1`` so no collectstatic is needed), pointed at this
run's test database and the test cache, with the same
``CACHE_KEY_PREFIX`` and ``THREADPRESS_RELEASE`` so their cache keys are the test
process's. The tests talk to them over HTTP only, as a browser would.

Runs only when the suite runs on PostgreSQL and Redis: a SQLite file opened by three
processes and a local-memory cache in each of them are not what is being proved. In
CI (``CI`` set) with those two it runs; nothing here skips it silently there.
"""

import functools
import http.client
import http.cookiejar
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from comments.models import Comment, CommentReport
from tests.factories import ArticleFactory, CommentFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
FLOOD_SECONDS = 30
FAILURE_LIMIT = 3
REPORT_THRESHOLD = 2
FIELD_RE = re.compile(r'name="(csrfmiddlewaretoken|timestamp)" value="([^"]*)"')
FLOOD_MESSAGE = "You are posting comments too quickly"

_shared = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql")) and os.environ.get(
    "CACHE_URL", ""
).startswith(("redis", "rediss"))

pytestmark = [
    pytest.mark.skipif(
        not _shared,
        reason=(
            "two app servers share state only through PostgreSQL and Redis: run with "
            "DATABASE_URL=postgres://… and CACHE_URL=redis://… (a SQLite file and a "
            "per-process local-memory cache cannot be shared)"
        ),
    ),
    pytest.mark.django_db(transaction=True),
]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url():
    """The URL of the database the test process uses now (``test_…``)."""
    db = settings.DATABASES["default"]
    user = urllib.parse.quote(db.get("USER") or "", safe="")
    password = db.get("PASSWORD") or ""
    auth = f"{user}:{urllib.parse.quote(password, safe='')}" if password else user
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def server_environment(**overrides):
    """The production environment of ``benchmarks/load.sh`` on loopback, sharing the test
    database and cache (same key prefix and release, so the keys agree)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "COMMENTS_", "AXES_", "GUNICORN_", "CACHE_"))
    }
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="two-app-servers-test-secret-key-0123456789-abcdefghijklmnop",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SESSION_COOKIE_SECURE="0",
        DJANGO_CSRF_COOKIE_SECURE="0",
        DJANGO_SECURE_HSTS_SECONDS="0",
        DJANGO_PLAIN_STATIC="1",  # no collectstatic manifest needed
        DJANGO_LOG_LEVEL="ERROR",
        THREADPRESS_LOG_LEVEL="WARNING",
        DATABASE_URL=database_url(),
        CACHE_URL=os.environ["CACHE_URL"],
        CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
        THREADPRESS_RELEASE=settings.THREADPRESS_RELEASE,
        COMMENTS_FLOOD_SECONDS=str(FLOOD_SECONDS),
        COMMENTS_REQUIRE_PREVIOUSLY_APPROVED="0",
        COMMENTS_MIN_SUBMIT_SECONDS="0",
        COMMENTS_REPORT_THRESHOLD=str(REPORT_THRESHOLD),
        AXES_FAILURE_LIMIT=str(FAILURE_LIMIT),
        GUNICORN_WORKERS="1",
        GUNICORN_ACCESS_LOG="/dev/null",
        GUNICORN_LOG_LEVEL="warning",
    )
    env.update(overrides)
    return env


class Servers:
    """App servers started together; ``bases`` are their ``http://127.0.0.1:port``."""

    def __init__(self, count, **overrides):
        self.bases, self.processes = [], []
        for _ in range(count):
            port = free_port()
            env = server_environment(GUNICORN_BIND=f"127.0.0.1:{port}", **overrides)
            self.processes.append(
                subprocess.Popen(
                    [str(GUNICORN), "-c", "site_config/gunicorn.conf.py", "site_config.wsgi"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
            self.bases.append(f"http://127.0.0.1:{port}")
        try:
            for base, process in zip(self.bases, self.processes, strict=True):
                self._wait_healthy(base, process)
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _wait_healthy(base, process):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn at {base} did not answer /healthz")

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stderr.close()


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker):
    """Two app servers on the test database and cache, for the whole module."""
    pair = Servers(2)
    yield pair.bases
    pair.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 303/302 after a POST is the answer under test


class _From(urllib.request.HTTPHandler):
    """Connect from ``source_address`` (any 127.x.y.z is loopback): another reader's IP."""

    def __init__(self, source_address):
        super().__init__()
        self.source_address = (source_address, 0)

    def http_open(self, req):
        return self.do_open(
            functools.partial(http.client.HTTPConnection, source_address=self.source_address),
            req,
        )


class Browser:
    """One reader: a cookie jar used against any server (the same client, the same IP)."""

    def __init__(self, source_address="127.0.0.1"):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect, _From(source_address)
        )

    def request(self, url, data=None):
        """(status, body text); form data is sent urlencoded with a same-origin Referer."""
        body, headers = None, {}
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            headers["Referer"] = url
        request = urllib.request.Request(url, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def form_fields(self, url):
        status, page = self.request(url)
        assert status == 200, page[-2000:]
        fields = dict(FIELD_RE.findall(page))
        if not fields.get("csrfmiddlewaretoken"):
            # A cookie-less reader's cached page carries an empty token; the CSRF
            # cookie it received is the one to send back.
            fields["csrfmiddlewaretoken"] = next(
                c.value for c in self.jar if c.name == settings.CSRF_COOKIE_NAME
            )
        return fields


def post_comment(browser, base, article, body):
    """GET the article through ``base`` for the CSRF token and the form's timestamp,
    then POST the form there: (status, page)."""
    page_url = base + article.get_absolute_url()
    fields = browser.form_fields(page_url)
    return browser.request(
        f"{base}/comments/post/{article.slug}/",
        {
            "csrfmiddlewaretoken": fields["csrfmiddlewaretoken"],
            "timestamp": fields["timestamp"],
            "name": "Grace Reader",
            "email": "grace@example.org",
            "body": body,
            "parent": "",
        },
    )


def anonymous_page(base, article):
    with urllib.request.urlopen(base + article.get_absolute_url(), timeout=15) as response:
        return response.read().decode()


def test_a_comment_posted_through_one_server_is_shown_by_the_other_at_once(servers):
    """A comment posted through server 1 is on the article page server 2 serves right
    after (anonymous GET, no cookies), although server 2 had rendered and cached that
    page just before (in Redis and in its own worker's copy): every cached page's key
    carries the article's ``comments_version`` from the shared database, which the post
    bumped. Had server 2 kept its page under a key only it could see change (a version
    held in process, a worker copy not keyed by it), it would serve the page it cached
    before the post. (The key's version is in the database, so this holds with a
    per-process cache too; the cache itself is what the flood test proves shared.)"""
    one, two = servers
    article = ArticleFactory()
    body = "Seen through the other server, straight away."
    assert body not in anonymous_page(two, article)  # server 2 has the page cached now
    status, page = post_comment(Browser(), one, article, body)
    assert status == 303, page[-2000:]
    assert body in anonymous_page(two, article)


def test_the_flood_limit_holds_across_servers(servers):
    """With ``COMMENTS_FLOOD_SECONDS`` = 30 on both servers, a second comment from the
    same address within that time is refused (429, the flood message, the form back
    with the reader's text) even when it goes through the other server: the flood key
    is in the shared cache. ``test_the_flood_limit_would_not_hold_with_a_per_process_cache``
    shows the same two posts both accepted when each server keeps its own cache."""
    one, two = servers
    article = ArticleFactory()
    reader = Browser()
    status, page = post_comment(reader, one, article, "My first thought on this.")
    assert status == 303, page[-2000:]
    second = "A second thought, far too soon."
    status, page = post_comment(reader, two, article, second)
    assert status == 429, page[-2000:]
    assert FLOOD_MESSAGE in page
    assert second in page  # the form comes back with the reader's text


def test_the_flood_limit_would_not_hold_with_a_per_process_cache():
    """The control for the flood test: two servers each with its own local-memory cache
    (``CACHE_URL=locmemcache://``) accept the same two posts, so the refusal above comes
    from the shared Redis, not from anything else the servers share."""
    pair = Servers(2, CACHE_URL="locmemcache://two-app-servers")
    try:
        one, two = pair.bases
        article = ArticleFactory()
        reader = Browser()
        status, page = post_comment(reader, one, article, "A first, alone in its cache.")
        assert status == 303, page[-2000:]
        status, page = post_comment(reader, two, article, "A second, the other cache never saw.")
        assert status == 303, page[-2000:]
    finally:
        pair.stop()


def test_failed_sign_ins_alternating_between_servers_lock_the_account_out(servers):
    """Failed sign-ins for one account, alternating between the two servers, lock it out
    once there are ``AXES_FAILURE_LIMIT`` (3) of them in all: the third answers with
    the lockout page (429), and so does the right password afterwards, through either
    server. Counted per process, each server would have seen at most two failures by
    then and answered with the sign-in form again (200)."""
    one, two = servers
    UserFactory(username="ada", email="ada@example.org", password="the right passphrase 42")
    answers = []
    for attempt, base in enumerate([one, two, one]):
        reader = Browser()
        url = f"{base}/accounts/login/"
        token = reader.form_fields(url)["csrfmiddlewaretoken"]
        answers.append(
            reader.request(
                url,
                {
                    "csrfmiddlewaretoken": token,
                    "login": "ada@example.org",
                    "password": f"wrong {attempt}",
                },
            )
        )
    assert [status for status, _ in answers] == [200, 200, 429]
    assert "Too many failed login attempts" in answers[-1][1]
    for base in (two, one):
        reader = Browser()
        url = f"{base}/accounts/login/"
        token = reader.form_fields(url)["csrfmiddlewaretoken"]
        status, _ = reader.request(
            url,
            {
                "csrfmiddlewaretoken": token,
                "login": "ada@example.org",
                "password": "the right passphrase 42",
            },
        )
        assert status == 429


def report(browser, base, comment):
    """GET the report page through ``base`` for the CSRF token, then POST a report."""
    url = f"{base}/comments/{comment.pk}/report/"
    token = browser.form_fields(url)["csrfmiddlewaretoken"]
    return browser.request(url, {"csrfmiddlewaretoken": token, "reason": "spam"})


def test_reports_from_one_reader_through_both_servers_count_once(servers):
    """One reader reporting a comment through server 1, then again through server 2
    (the same browser: a repeat, nothing stored), then with cleared cookies through
    server 2 (the same network: stored, not counted) is one reader: with
    ``COMMENTS_REPORT_THRESHOLD`` = 2 the comment stays approved and on the page. The
    session and the earlier reports are in the shared database; were they per server,
    the second server would count the reader again and two counted reports would send
    the comment back to the queue, as a second reader on another network does at the
    end."""
    one, two = servers
    comment = CommentFactory(body="Reported by one reader, twice over.")
    reader = Browser()
    assert report(reader, one, comment)[0] == 303
    assert report(reader, two, comment)[0] == 303
    assert report(Browser(), two, comment)[0] == 303
    reports = CommentReport.objects.filter(comment=comment)
    assert reports.count() == 2
    assert reports.filter(counted=True).count() == 1
    comment.refresh_from_db()
    assert comment.status == Comment.Status.APPROVED
    assert comment.body in anonymous_page(one, comment.article)
    # The threshold is live: a second reader, on another network, is the second count.
    assert report(Browser(source_address="127.0.1.1"), one, comment)[0] == 303
    assert reports.filter(counted=True).count() == 2
    comment.refresh_from_db()
    assert comment.status != Comment.Status.APPROVED
