"""Faults survived: a dead cache, an unreachable or locked database.

Real failures, no mocks: the cache points at a port where nothing listens, the
database connection at a closed port (PostgreSQL) or a path that cannot be opened
(SQLite), and a second SQLite connection holds the write lock.
"""

import logging
import sqlite3
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connections
from django.test import Client

from comments import cachefailures, threads
from comments.models import Comment
from site_config import pagecache
from tests.html import NS, comment_ids, parse, text_of
from tests.test_concurrency import sqlite_file_database  # noqa: F401  (fixture)

ENGINE = django_settings.DATABASES["default"]["ENGINE"]
DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
    }
}


def post_url(article):
    return f"/comments/post/{article.slug}/"


@pytest.fixture
def dead_cache(settings, monkeypatch):
    """The cache is Redis on a port where nothing listens; failures not yet logged."""
    settings.CACHES = DEAD_REDIS
    monkeypatch.setattr(pagecache, "_failure_logged_at", None)
    monkeypatch.setattr(cachefailures, "last_logged", {})


def cache_warnings(caplog):
    return [
        record
        for record in caplog.records
        if record.name == "threadpress" and "unavailable" in record.getMessage().lower()
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("dead_cache")
def test_pages_are_served_without_the_cache(client, article, comment_factory):
    root = comment_factory(article=article)
    reply = comment_factory(parent=root)
    for url in ("/", article.get_absolute_url()):
        assert client.get(url).status_code == 200
    doc = parse(client.get(article.get_absolute_url()))
    assert comment_ids(doc) == [f"comment-{root.pk}", f"comment-{reply.pk}"]


@pytest.mark.django_db
@pytest.mark.usefixtures("dead_cache")
def test_posting_works_and_flood_control_falls_back_to_the_database(
    client, article, comment_data, settings
):
    settings.COMMENTS_FLOOD_SECONDS = 15
    first = client.post(post_url(article), comment_data(body="First, cache or not."))
    assert first.status_code == 303
    assert Comment.objects.filter(body="First, cache or not.").exists()
    second = client.post(post_url(article), comment_data(body="Too soon after the first."))
    assert second.status_code == 429
    assert not Comment.objects.filter(body="Too soon after the first.").exists()
    assert "Too soon after the first." in text_of(
        parse(second).find(".//h:textarea[@name='body']", NS)
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("dead_cache")
def test_a_dead_cache_is_logged_once_not_per_request(client, article, comment_data, caplog):
    caplog.set_level(logging.WARNING, logger="threadpress")
    for _ in range(5):
        assert client.get(article.get_absolute_url()).status_code == 200
    client.post(post_url(article), comment_data(body="One."))
    client.post(post_url(article), comment_data(body="Two.", email="two@example.org"))
    messages = [record.getMessage() for record in cache_warnings(caplog)]
    # Once for each thing that falls back: the page cache, flood control, the sanctions
    # and the word lists the posts checked.
    assert len(messages) == 4, messages
    for what in ("Page cache", "flood control", "sanctions", "word lists"):
        assert sum(what in message for message in messages) == 1, (what, messages)


@pytest.mark.django_db
def test_caching_resumes_by_itself_when_the_cache_returns(client, article, settings, caplog):
    """No circuit stays open: the first request after the cache returns caches again."""
    comment = Comment.objects.create(
        article=article,
        author_name="Sentinel",
        author_email="s@example.org",
        body="Before.",
        status=Comment.Status.APPROVED,
        created_at=article.published_at,
    )
    working = settings.CACHES
    settings.CACHES = DEAD_REDIS
    assert client.get(article.get_absolute_url()).status_code == 200
    settings.CACHES = working
    assert "Before." in client.get(article.get_absolute_url()).content.decode()
    article.refresh_from_db()  # the comment's save gave the article a new cache version
    assert cache.get(threads._cache_key(article, "1", threads.SORT_OLDEST)) is not None
    Comment.objects.filter(pk=comment.pk).update(body_html="<p>Behind the cache.</p>")
    assert "Behind the cache." not in client.get(article.get_absolute_url()).content.decode()


# --- the database ---------------------------------------------------------------------
@contextmanager
def database_unreachable():
    """Point the default connection somewhere that refuses, for real, then restore it.

    PostgreSQL: a closed port. SQLite: a file in a directory that does not exist.
    """
    conn = connections["default"]
    saved = dict(conn.settings_dict)
    in_memory = None
    if conn.vendor == "sqlite" and conn.is_in_memory_db():
        in_memory, conn.connection = conn.connection, None  # closing would drop the database
    else:
        conn.close()
    if conn.vendor == "postgresql":
        conn.settings_dict.update(HOST="127.0.0.1", PORT=1)
    else:
        conn.settings_dict["NAME"] = "/nonexistent-threadpress-dir/db.sqlite3"
    try:
        yield
    finally:
        if conn.vendor == "postgresql":
            conn.close()
        conn.connection = in_memory
        conn.settings_dict.clear()
        conn.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
def test_unreachable_database_gives_a_503_page_not_a_500(article):
    url = article.get_absolute_url()
    with database_unreachable():
        response = Client().get(url)
    assert response.status_code == 503
    assert response["Retry-After"]
    assert "Temporarily unavailable" in text_of(parse(response).find(".//h:h1", NS))


@pytest.mark.django_db(transaction=True)
def test_a_post_during_a_database_outage_gets_a_503_with_the_text_kept(article, comment_data):
    data = comment_data(body="Words I do not want to lose.", name="Kept Name")
    with database_unreachable():
        response = Client().post(post_url(article), data)
    assert response.status_code == 503
    doc = parse(response)
    form = doc.find(".//h:form[@id='comment-form']", NS)
    assert form.get("action") == post_url(article)
    assert text_of(form.find(".//h:textarea[@name='body']", NS)) == "Words I do not want to lose."
    assert form.find(".//h:input[@name='name']", NS).get("value") == "Kept Name"
    assert form.find(".//h:input[@name='csrfmiddlewaretoken']", NS).get("value")
    assert not Comment.objects.filter(body="Words I do not want to lose.").exists()


@pytest.mark.skipif("sqlite" not in ENGINE, reason="SQLite's write lock (DATABASE_URL is SQLite)")
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sqlite_file_database")
def test_a_post_that_finds_sqlite_locked_is_retried_then_gets_a_503_with_the_text_kept(
    article, comment_data, settings, caplog
):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    conn = connections["default"]
    conn.close()
    options = conn.settings_dict["OPTIONS"]
    saved_options = dict(options)
    # Wait 50 ms per attempt for the lock instead of 20 s.
    options["timeout"] = 0.05
    options["init_command"] = options["init_command"].replace(
        "PRAGMA busy_timeout=20000;", "PRAGMA busy_timeout=50;"
    )
    holder = sqlite3.connect(conn.settings_dict["NAME"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database's write lock
    caplog.set_level(logging.INFO, logger="threadpress")
    try:
        response = Client().post(post_url(article), comment_data(body="Held up by a lock."))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        conn.close()
        options.clear()
        options.update(saved_options)
    assert response.status_code == 503
    textarea = parse(response).find(".//h:textarea[@name='body']", NS)
    assert text_of(textarea) == "Held up by a lock."
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) >= 2
    assert not Comment.objects.filter(body="Held up by a lock.").exists()


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_without_the_database():
    """The load balancer's probe never marks an app server dead for a database outage."""
    with database_unreachable():
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


@pytest.mark.django_db
@pytest.mark.usefixtures("dead_cache")
def test_reader_sign_in_and_sign_up_work_without_the_cache(client, caplog):
    """allauth's rate limits live in the cache: with it down they are skipped (logged),
    and the pages answer as usual instead of a 500 (axes still counts failed sign-ins
    in the database)."""
    caplog.set_level(logging.WARNING, logger="threadpress")
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"login": "nobody@example.com", "password": "x"})
    assert response.status_code == 200  # the form again, with its error
    assert response.context["form"].errors
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    messages = [record.getMessage() for record in cache_warnings(caplog)]
    assert sum("rate limits" in message for message in messages) == 1, messages
