"""The read replica router (site_config/dbrouter.py): anonymous page views read from a
replica, everything else from the primary, a browser that just wrote reads the primary,
and a replica that is down or behind is skipped.

The replicas here are ``replica_0`` and ``replica_1`` of site_config/test_settings.py:
test mirrors of the test database, each its own connection, so every query is counted on
the connection that ran it. The requests commit for real (``transaction=True``): a
replica connection sees only committed rows. An unreachable replica is a PostgreSQL
connection to a closed port. deploy/postgres/check-replica.py runs the same checks
against a real streaming standby (deploy/postgres/make-replica.sh).
"""

import contextlib
import socket

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.utils import load_backend
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path, reverse

from articles.models import Article
from comments.models import Comment
from site_config import dbrouter
from tests.factories import ArticleFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db(
    transaction=True, databases=["default", "replica_0", "replica_1"]
)

ARTICLES = Article._meta.db_table


@pytest.fixture(autouse=True)
def _no_flood(settings):
    settings.COMMENTS_FLOOD_SECONDS = 0


@pytest.fixture
def replica(settings):
    """One healthy replica, ``replica_0``."""
    settings.DATABASE_REPLICAS = ["replica_0"]
    yield "replica_0"
    dbrouter.replica_health.clear()


class Statements(list):
    """The SQL a connection runs, recorded by an execute wrapper (unlike
    ``CaptureQueriesContext``, not emptied by ``reset_queries`` at each request start)."""

    def __call__(self, execute, sql, params, many, context):
        self.append(sql)
        return execute(sql, params, many, context)


@contextlib.contextmanager
def queries():
    """The statements each of default and replica_0 runs inside the block."""
    ran = {DEFAULT_DB_ALIAS: Statements(), "replica_0": Statements()}
    with contextlib.ExitStack() as stack:
        for alias, statements in ran.items():
            stack.enter_context(connections[alias].execute_wrapper(statements))
        yield ran


def reads_of(statements, table=ARTICLES):
    return [sql for sql in statements if sql.startswith("SELECT") and table in sql]


def writes_of(statements):
    return [sql for sql in statements if sql.split(None, 1)[0] in ("INSERT", "UPDATE", "DELETE")]


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def unreachable(alias):
    """``alias`` points at a PostgreSQL server that is not there (a closed port)."""
    original = connections[alias]
    settings_dict = {
        **original.settings_dict,
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "threadpress",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": closed_port(),
        "OPTIONS": {"connect_timeout": 2},
    }
    backend = load_backend(settings_dict["ENGINE"])
    connections[alias] = backend.DatabaseWrapper(settings_dict, alias)
    try:
        yield
    finally:
        connections[alias].close()
        connections[alias] = original


# Views for the cases no page of the site shows: a GET that writes, a replica that dies.
def read_write_read(request, pk):
    Article.objects.get(pk=pk)
    Article.objects.filter(pk=pk).update(title="Changed while reading")
    return HttpResponse(Article.objects.get(pk=pk).title)


_dead = contextlib.ExitStack()


def replica_dies(request, pk):
    title = Article.objects.get(pk=pk).title
    if Article.objects.db == "replica_1":
        _dead.enter_context(unreachable("replica_1"))  # it goes away under the request
        title = Article.objects.get(pk=pk).title
    return HttpResponse(title)


def replica_cancels(request, pk):
    """On a replica, the statement is cancelled by the server, as a PostgreSQL standby
    cancels queries that conflict with the WAL it replays."""
    if Article.objects.db == "replica_0":
        with connections["replica_0"].cursor() as cursor:
            cursor.execute("SET statement_timeout = 10")
            try:
                cursor.execute("SELECT pg_sleep(1)")
            finally:
                cursor.execute("RESET statement_timeout")
    return HttpResponse(Article.objects.get(pk=pk).title)


urlpatterns = [
    path("read-write-read/<int:pk>/", read_write_read),
    path("replica-dies/<int:pk>/", replica_dies),
    path("replica-cancels/<int:pk>/", replica_cancels),
    path("", include("site_config.urls")),
]


# --- where reads go ------------------------------------------------------------------------
def test_an_anonymous_page_view_reads_from_the_replica(client, replica):
    """An anonymous GET without session or pin cookie reads the replica, not the primary."""
    article = ArticleFactory()
    with queries() as ran:
        response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    assert article.title in response.content.decode()
    assert reads_of(ran[replica])
    assert reads_of(ran[DEFAULT_DB_ALIAS]) == []


def test_feeds_and_the_home_page_read_from_the_replica(client, replica):
    """Every public page of an anonymous reader reads the replica."""
    ArticleFactory()
    for url in (reverse("articles:list"), reverse("articles:feed"), "/sitemap.xml"):
        with queries() as ran:
            assert client.get(url).status_code == 200
        assert reads_of(ran[replica]), url
        assert reads_of(ran[DEFAULT_DB_ALIAS]) == [], url


def test_a_comment_post_writes_to_the_primary_and_reads_nothing_from_the_replica(
    client, replica, comment_data
):
    """A POST (and all it reads to check the comment) runs on the primary."""
    article = ArticleFactory()
    with queries() as ran:
        response = client.post(reverse("comments:post", args=[article.slug]), comment_data())
    assert response.status_code == 303
    assert Comment.objects.filter(article=article).count() == 1
    assert writes_of(ran[DEFAULT_DB_ALIAS])
    assert ran[replica] == []


def test_a_post_pins_the_browser_to_the_primary_for_its_next_reads(
    client, replica, comment_data, settings
):
    """A POST answers with the pin cookie (Max-Age DATABASE_PIN_SECONDS, HttpOnly,
    SameSite=Lax, Secure as the session cookie); the next GET carrying it reads the
    primary, and once the cookie is gone the replica again."""
    settings.DATABASE_PIN_SECONDS = 7
    settings.SESSION_COOKIE_SECURE = True
    article = ArticleFactory()
    response = client.post(reverse("comments:post", args=[article.slug]), comment_data())
    pin = response.cookies[dbrouter.PIN_COOKIE]
    assert pin["max-age"] == 7
    assert pin["httponly"] and pin["secure"]
    assert pin["samesite"] == "Lax"

    # Only the pin: the poster's session (their pending comment) also means the primary.
    del client.cookies[settings.SESSION_COOKIE_NAME]
    with queries() as ran:
        assert client.get(article.get_absolute_url()).status_code == 200
    assert reads_of(ran[DEFAULT_DB_ALIAS])
    assert ran[replica] == []

    del client.cookies[dbrouter.PIN_COOKIE]  # as the browser does after Max-Age
    with queries() as ran:
        client.get(article.get_absolute_url())
    assert reads_of(ran[replica])


def test_a_get_is_never_pinned(client, replica):
    """Only unsafe requests set the pin cookie (a public page stays cacheable)."""
    article = ArticleFactory()
    assert dbrouter.PIN_COOKIE not in client.get(article.get_absolute_url()).cookies


@pytest.mark.urls(__name__)
def test_a_write_during_a_get_sends_the_rest_of_its_reads_to_the_primary(client, replica):
    """Once a request writes, it reads what it wrote: from the primary."""
    article = ArticleFactory()
    with queries() as ran:
        response = client.get(f"/read-write-read/{article.pk}/")
    assert response.content.decode() == "Changed while reading"
    assert len(reads_of(ran[replica])) == 1  # the first read
    assert len(reads_of(ran[DEFAULT_DB_ALIAS])) == 1  # the read after the write
    assert len(writes_of(ran[DEFAULT_DB_ALIAS])) == 1
    assert writes_of(ran[replica]) == []


def test_the_admin_reads_from_the_primary(client, replica):
    """Staff pages, even the admin's anonymous login page, read the primary."""
    article = ArticleFactory()
    with queries() as ran:
        assert client.get(reverse("admin:login")).status_code == 200
    assert ran[replica] == []
    client.force_login(StaffFactory(is_superuser=True))
    with queries() as ran:
        url = reverse("admin:articles_article_change", args=[article.pk])
        assert client.get(url).status_code == 200
    assert reads_of(ran[DEFAULT_DB_ALIAS])
    assert ran[replica] == []


def test_account_pages_read_from_the_primary(client, replica):
    """Sign in, sign up and password reset pages read the primary, with no session."""
    for name in ("account_login", "account_signup", "account_reset_password"):
        with queries() as ran:
            assert client.get(reverse(name)).status_code == 200
        assert ran[replica] == [], name


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("/", True),
        ("/articles/some-story/", True),
        ("/comments/feed/", True),
        ("/no-such-page/", True),
        ("/admin/", False),
        ("/admin/login/", False),
        ("/admin/comments/comment/", False),
        ("/accounts/login/", False),
        ("/accounts/password/reset/", False),
        ("/comments/readers/settings/", False),
        ("/comments/unsubscribe/some-token/", False),
        ("/comments/follow/confirm/some-token/", False),
        ("/comments/appeal/some-token/", False),
        ("/comments/readers/data/export/some-token/", False),
    ],
)
def test_only_public_pages_of_anonymous_readers_are_public_reads(url, public, rf):
    """The admin, account pages and a reader's own pages (opened from an email link,
    without a session) are never read from a replica, whoever asks."""
    assert dbrouter.is_public_read(rf.get(url)) is public
    assert dbrouter.is_public_read(rf.head(url)) is public
    assert dbrouter.is_public_read(rf.post(url)) is False


def test_a_session_or_pin_cookie_makes_any_page_a_primary_read(rf, settings):
    for cookie in (settings.SESSION_COOKIE_NAME, dbrouter.PIN_COOKIE):
        request = rf.get("/")
        request.COOKIES[cookie] = "x"
        assert dbrouter.is_public_read(request) is False
    request = rf.get("/")
    request.COOKIES.update({settings.CSRF_COOKIE_NAME: "x", settings.LANGUAGE_COOKIE_NAME: "de"})
    assert dbrouter.is_public_read(request) is True


def test_a_signed_in_reader_reads_from_the_primary(client, replica):
    """A session cookie means a person: their pages come from the primary."""
    article = ArticleFactory()
    client.force_login(UserFactory(), backend="django.contrib.auth.backends.ModelBackend")
    with queries() as ran:
        assert client.get(article.get_absolute_url()).status_code == 200
    assert reads_of(ran[DEFAULT_DB_ALIAS])
    assert ran[replica] == []


def test_commands_and_code_outside_a_request_read_from_the_primary(replica):
    """No request, no replica: management commands, tasks, the live fast path."""
    assert router.db_for_read(Article) == DEFAULT_DB_ALIAS
    assert router.db_for_write(Article) == DEFAULT_DB_ALIAS


def test_migrations_run_on_the_primary_only(replica):
    assert router.allow_migrate_model("replica_0", Article) is False
    assert router.allow_migrate_model(DEFAULT_DB_ALIAS, Article) is True


def test_a_row_read_from_a_replica_relates_to_one_from_the_primary(replica):
    article = Article.objects.using(replica).get(pk=ArticleFactory().pk)
    author = UserFactory()
    assert router.allow_relation(article, author) is True


# --- replica health ------------------------------------------------------------------------
def test_a_lagging_replica_is_skipped(client, replica, settings):
    """A replica measured further behind than DATABASE_REPLICA_MAX_LAG_SECONDS is not
    read (here the bound is below the 0 s a mirror measures)."""
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = -1
    article = ArticleFactory()
    with queries() as ran:
        assert client.get(article.get_absolute_url()).status_code == 200
    assert reads_of(ran[replica]) == []
    assert reads_of(ran[DEFAULT_DB_ALIAS])
    assert dbrouter.replica_health.states[replica].lag == 0
    assert not dbrouter.replica_health.states[replica].usable


def test_an_unreachable_replica_is_skipped_and_logged_once(client, settings, caplog):
    """A replica that refuses connections: readers get their pages from the primary,
    and the log says so once, not once per request."""
    settings.DATABASE_REPLICAS = ["replica_1"]
    article = ArticleFactory()
    with unreachable("replica_1"), queries() as ran:
        for _ in range(3):
            assert client.get(article.get_absolute_url()).status_code == 200
            dbrouter.replica_health.states.clear()  # measure again on every request
    assert len(reads_of(ran[DEFAULT_DB_ALIAS])) >= 3
    warnings = [r for r in caplog.records if "replica_1 unreachable" in r.getMessage()]
    assert len(warnings) == 1
    dbrouter.replica_health.clear()


def test_reads_go_to_the_healthy_one_of_several_replicas(client, settings):
    """With one replica down, every anonymous page view reads the other."""
    settings.DATABASE_REPLICAS = ["replica_0", "replica_1"]
    article = ArticleFactory()
    with unreachable("replica_1"), queries() as ran:
        for _ in range(5):
            assert client.get(article.get_absolute_url()).status_code == 200
    assert len(reads_of(ran["replica_0"])) >= 5
    assert reads_of(ran[DEFAULT_DB_ALIAS]) == []
    dbrouter.replica_health.clear()


def test_health_is_measured_once_a_second_not_per_request(client, replica, monkeypatch):
    """Requests within CHECK_SECONDS reuse the worker's last measurement."""
    now = [1000.0]
    monkeypatch.setattr(dbrouter.replica_health, "clock", lambda: now[0])
    article = ArticleFactory()

    def health_queries(captured):
        return [sql for sql in captured if "pg_is_in_recovery" in sql or sql == "SELECT 1"]

    with queries() as ran:
        for _ in range(3):
            client.get(article.get_absolute_url())
    assert len(health_queries(ran[replica])) == 1
    now[0] += dbrouter.CHECK_SECONDS
    with queries() as ran:
        client.get(article.get_absolute_url())
    assert len(health_queries(ran[replica])) == 1


@pytest.mark.urls(__name__)
def test_a_replica_dying_during_a_page_view_answers_from_the_primary(client, settings):
    """The replica goes away between two reads of an anonymous GET: the request runs
    again on the primary instead of failing."""
    settings.DATABASE_REPLICAS = ["replica_1"]
    article = ArticleFactory()
    with _dead, queries() as ran:
        response = client.get(f"/replica-dies/{article.pk}/")
    assert response.status_code == 200
    assert response.content.decode() == article.title
    assert reads_of(ran[DEFAULT_DB_ALIAS])
    assert not dbrouter.replica_health.states["replica_1"].usable
    dbrouter.replica_health.clear()


@pytest.mark.urls(__name__)
def test_a_statement_cancelled_on_the_replica_answers_from_the_primary(replica):
    """A replica query that fails while the replica still answers (PostgreSQL cancelled
    it) runs the request again on the primary; the replica stays in use."""
    if connections["replica_0"].vendor != "postgresql":
        pytest.skip("statement cancellation is PostgreSQL's")
    article = ArticleFactory()
    # The first run's error is logged as a 500 would be; the client must not re-raise it.
    client = Client(raise_request_exception=False)
    with queries() as ran:
        response = client.get(f"/replica-cancels/{article.pk}/")
    assert response.status_code == 200
    assert response.content.decode() == article.title
    assert reads_of(ran[DEFAULT_DB_ALIAS])
    assert dbrouter.replica_health.states[replica].usable


# --- without replicas ----------------------------------------------------------------------
def test_without_replicas_nothing_changes(client, comment_data, settings):
    """No DATABASE_REPLICA_URLS: the router answers nothing (Django's default), the
    middleware is not in the chain, every query runs on default, no pin cookie."""
    assert settings.DATABASE_REPLICAS == []
    article = ArticleFactory()
    assert router.db_for_read(Article) == DEFAULT_DB_ALIAS
    assert dbrouter.ReplicaRouter().db_for_read(Article) is None
    assert dbrouter.ReplicaRouter().db_for_write(Article) is None
    with queries() as ran:
        assert client.get(article.get_absolute_url()).status_code == 200
        response = client.post(reverse("comments:post", args=[article.slug]), comment_data())
    assert ran["replica_0"] == []
    assert reads_of(ran[DEFAULT_DB_ALIAS])
    assert dbrouter.PIN_COOKIE not in response.cookies
    with pytest.raises(MiddlewareNotUsed):
        dbrouter.ReplicaMiddleware(lambda request: HttpResponse())
