"""The app's side of the edge cache (site_config/edge.py): which responses the edge may
keep and for how long, the surrogate keys they carry, ESI includes for the per-reader
parts of a shared page behind an ESI cache (complete pages otherwise), the fragment
view, and purges sent only once a change has committed.

Purges go to a real HTTP server started here that records what it receives."""

import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connection, transaction
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from comments import moderation
from comments.forms import timestamp_age
from comments.models import Comment
from site_config import edge, pagecache
from tests.factories import ArticleFactory, CommentFactory, UserFactory
from tests.html import NS, parse

pytestmark = pytest.mark.django_db

ESI = {"HTTP_SURROGATE_CAPABILITY": 'varnish="ESI/1.0"'}


def keys_of(response):
    return set(response.get("xkey", "").split())


def max_age(response):
    match = re.search(r"max-age=(\d+)", response.get("Surrogate-Control", ""))
    return None if match is None else int(match.group(1))


class _Includes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_startendtag(self, tag, attrs):
        if tag == "esi:include":
            self.sources.append(dict(attrs)["src"])

    handle_starttag = handle_startendtag


def esi_sources(response):
    parser = _Includes()
    parser.feed(response.content.decode())
    return parser.sources


def hidden_values(doc, name):
    return [
        field.get("value")
        for field in doc.iter(f"{{{NS['h']}}}input")
        if field.get("name") == name and field.get("type") == "hidden"
    ]


# --- which responses the edge keeps ---------------------------------------------------------
def test_an_article_page_is_kept_under_its_key_for_the_edge_ttl(article, settings):
    """An anonymous article page lists its article's key and the edge TTL."""
    settings.EDGE_CACHE_SECONDS = 1234
    response = Client().get(article.get_absolute_url(), **ESI)
    assert response.status_code == 200
    assert keys_of(response) == {edge.article_key(article.pk)}
    assert max_age(response) == 1234
    assert not response.cookies


def test_an_article_page_is_kept_no_longer_than_its_comments_stay_open(settings):
    """Comments closing is no write: the edge TTL ends when they close."""
    settings.EDGE_CACHE_SECONDS = 3600
    article = ArticleFactory(comments_close_at=timezone.now() + timedelta(seconds=600))
    response = Client().get(article.get_absolute_url(), **ESI)
    assert 590 <= max_age(response) <= 600


def test_lists_carry_the_lists_key_and_each_listed_article(settings):
    """Home lists every list's key and each listed article's (its comment count)."""
    shown = [ArticleFactory(), ArticleFactory()]
    response = Client().get(reverse("articles:list"), **ESI)
    assert keys_of(response) == {edge.LISTS_KEY, *(edge.article_key(a.pk) for a in shown)}
    assert max_age(response) == settings.EDGE_CACHE_SECONDS


def test_lists_are_kept_no_longer_than_the_next_scheduled_article(settings):
    """A scheduled article coming out is no write: lists, feeds and the sitemap expire
    at its publication time."""
    settings.EDGE_CACHE_SECONDS = 3600
    ArticleFactory()
    ArticleFactory(published_at=timezone.now() + timedelta(seconds=300))
    for url in (
        reverse("articles:list"),
        reverse("articles:feed"),
        reverse("comments:feed"),
        reverse("django.contrib.sitemaps.views.sitemap"),
    ):
        response = Client().get(url, **ESI)
        assert 290 <= max_age(response) <= 300, url


def test_feeds_and_the_sitemap_carry_their_keys(article):
    """Article feeds: lists and each article; comment feeds: every discussion, and the
    article's own; sitemap: lists."""
    client = Client()
    assert keys_of(client.get(reverse("articles:feed"))) == {
        edge.LISTS_KEY,
        edge.article_key(article.pk),
    }
    assert keys_of(client.get(reverse("comments:feed"))) == {edge.COMMENTS_KEY}
    assert keys_of(client.get(reverse("comments:article-feed", args=[article.slug]))) == {
        edge.COMMENTS_KEY,
        edge.article_key(article.pk),
    }
    sitemap = client.get(reverse("django.contrib.sitemaps.views.sitemap"))
    assert keys_of(sitemap) == {edge.LISTS_KEY}


def test_personal_responses_are_never_kept(article):
    """A signed-in reader, a session cookie, or a response setting a cookie: no edge
    headers, whatever the view said it shows."""
    reader = Client()
    reader.force_login(UserFactory())
    with_session = Client()
    with_session.cookies["sessionid"] = "abc"
    for client in (reader, with_session):
        response = client.get(article.get_absolute_url(), **ESI)
        assert response.status_code == 200
        assert "xkey" not in response and "Surrogate-Control" not in response
    # Without an ESI cache the page sets the CSRF cookie of a new reader: not shared.
    response = Client().get(article.get_absolute_url())
    assert response.cookies and "Surrogate-Control" not in response


# --- ESI ---------------------------------------------------------------------------------------
def test_behind_an_esi_cache_the_per_reader_parts_are_includes(article):
    """With Surrogate-Capability: no token, no timestamp and no marker in the page, an
    include where each was, and no cookie; the edge is told to process ESI."""
    response = Client().get(article.get_absolute_url(), **ESI)
    doc = parse(response)
    assert hidden_values(doc, "csrfmiddlewaretoken") == []
    assert hidden_values(doc, "timestamp") == []
    assert b"tp-hole-" not in response.content
    sources = esi_sources(response)
    # The comment form, follow form, language chooser (tokens) and the timestamp.
    assert len(sources) >= 4
    assert all(src.startswith(reverse("edge-fragment")) for src in sources)
    assert 'content="ESI/1.0"' in response["Surrogate-Control"]
    assert not response.cookies


def test_the_cached_skeleton_serves_both_modes_without_leaking(article):
    """The app's page cache holds one skeleton: an ESI render first, then a complete page
    with real values and no include; and the other way round."""
    url = article.get_absolute_url()
    for first, second in ((ESI, {}), ({}, ESI)):
        Client().get(url, **first)
        response = Client().get(url, **second)
        doc = parse(response)
        if second:
            assert esi_sources(response) and hidden_values(doc, "timestamp") == []
        else:
            assert esi_sources(response) == []
            (timestamp,) = hidden_values(doc, "timestamp")
            assert "tp-hole-" not in timestamp and timestamp
            assert all(len(v) == 64 for v in hidden_values(doc, "csrfmiddlewaretoken"))
        cache.clear()  # the next round renders its skeleton afresh
        pagecache.process_cache.clear()


def hole_of(src):
    return signing.loads(parse_qs(urlsplit(src).query)["h"][0], salt=edge.FRAGMENT_SALT)[0]


NEW_READER = {**ESI, "HTTP_X_EDGE_READER": "new"}
RETURNING_READER = {**ESI, "HTTP_X_EDGE_READER": "returning"}


def without_timestamps(page):
    """``page`` (text) with every form timestamp's value blanked (each render signs its
    own time)."""
    return re.sub(r'(name="timestamp"[^>]*value=")[^"]*"', r'\1"', page)


def test_a_new_readers_page_is_whole_and_kept_only_a_second(article, settings):
    """The edge's variant for readers without a CSRF cookie (X-Edge-Reader: new) has no
    include: every CSRF hole is rendered in place exactly as its fragment renders it for
    such a reader (the same bytes), and the form's signed timestamp in place too, which
    is why the edge keeps it only EDGE_NEW_READER_SECONDS (the timestamp dates the form
    for the too-fast rule, so it must stay fresh)."""
    settings.EDGE_NEW_READER_SECONDS = 1
    url = article.get_absolute_url()
    returning = Client().get(url, **RETURNING_READER)
    response = Client().get(url, **NEW_READER)
    assert response.status_code == 200 and not response.cookies
    assert esi_sources(response) == []
    doc = parse(response)
    tokens = hidden_values(doc, "csrfmiddlewaretoken")
    assert len(tokens) >= 3 and set(tokens) == {""}
    (stamp,) = hidden_values(doc, "timestamp")
    assert 0 <= timestamp_age(stamp) < 60
    assert b"tp-hole-" not in response.content
    # Each include of the other variant, fetched by a cookie-less reader, gives the very
    # bytes this variant has in its place (the timestamp but for its signed time).
    page = returning.content.decode()
    for other in esi_sources(returning):
        fragment = Client().get(other).content.decode()
        page = page.replace(f'<esi:include src="{other}"/>', fragment)
    assert without_timestamps(page) == without_timestamps(response.content.decode())
    assert "X-Edge-Reader" in response["Vary"]
    assert response["Surrogate-Control"] == "max-age=1"  # nothing for Varnish to parse
    # Without an ESI cache in front the header is ignored: a complete page, real tokens.
    response = Client().get(url, HTTP_X_EDGE_READER="new")
    assert esi_sources(response) == []
    tokens = hidden_values(parse(response), "csrfmiddlewaretoken")
    assert tokens and all(len(token) == 64 for token in tokens)


def test_a_returning_reader_or_no_reader_header_keeps_every_include(article):
    """X-Edge-Reader: returning, or no such header: an include for every hole, as
    before (the tokens come from the reader's own fragments), in a response that
    varies on the header (one variant never stands in for the other)."""
    url = article.get_absolute_url()
    for headers in (RETURNING_READER, ESI):
        response = Client().get(url, **headers)
        sources = esi_sources(response)
        assert len(sources) >= 4
        assert len([src for src in sources if hole_of(src) == "csrf"]) == len(sources) - 1
        assert hidden_values(parse(response), "csrfmiddlewaretoken") == []
        assert "X-Edge-Reader" in response["Vary"]


def fragments_of(article, client=None):
    response = (client or Client()).get(article.get_absolute_url(), **ESI)
    return esi_sources(response)


def test_the_fragment_renders_a_token_of_the_readers_cookie(article):
    """A reader with a CSRF cookie gets a masked token of it, kept for them alone."""
    secret = "a" * 32
    reader = Client()
    reader.cookies[settings.CSRF_COOKIE_NAME] = secret
    tokens = []
    for src in fragments_of(article):
        response = reader.get(src)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        # The edge may keep it for this reader (the VCL hashes on their cookie).
        assert re.fullmatch(r"max-age=\d+", response["Surrogate-Control"])
        doc = parse(response)
        assert doc.find(".//h:img", NS) is None
        tokens += hidden_values(doc, "csrfmiddlewaretoken")
    assert tokens and all(_unmask_cipher_token(token) == secret for token in tokens)


def test_without_a_cookie_the_token_fragment_is_empty_and_the_same_for_all(article):
    """A reader without a CSRF cookie gets the hidden input with no token, the same
    bytes as every such reader, no cookie and no image, kept by the edge as long as a
    page (EDGE_CACHE_SECONDS): a cookie-less page view costs the app nothing."""
    sources = [src for src in fragments_of(article) if hole_of(src) == "csrf"]
    assert sources
    for src in sources:
        first, second = Client().get(src), Client().get(src)
        assert first.status_code == 200 and first.content == second.content
        doc = parse(first)
        assert hidden_values(doc, "csrfmiddlewaretoken") == [""]
        assert doc.find(".//h:img", NS) is None
        assert not first.cookies
        assert max_age(first) == settings.EDGE_CACHE_SECONDS
        assert "Cookie" in first["Vary"] and "no-store" in first["Cache-Control"]


def test_the_timestamp_fragment_is_shared_and_only_it(article):
    """The form's timestamp (the same for every reader at one moment) says so in its URL
    and is kept a second; the flag on a reader's own value, or off the timestamp, is
    refused (the VCL shares what the URL says)."""
    sources = fragments_of(article)
    (timestamp,) = [src for src in sources if hole_of(src) != "csrf"]
    token = next(src for src in sources if hole_of(src) == "csrf")
    assert "shared=1&" in timestamp and "shared=" not in token
    response = Client().get(timestamp)
    assert response.status_code == 200 and response["Surrogate-Control"] == "max-age=1"
    assert hidden_values(parse(response), "timestamp")
    assert Client().get(timestamp.replace("shared=1&", "")).status_code == 400
    assert Client().get(token.replace("?h=", "?shared=1&h=")).status_code == 400


def test_tampered_fragment_urls_are_refused(article):
    """A fragment URL whose signature doesn't match gets a 400 and no cookie."""
    src = fragments_of(article)[0]
    for url in (src[:-3] + "xyz", reverse("edge-fragment")):
        response = Client().get(url)
        assert response.status_code == 400 and not response.cookies


def esi_form_values(reader, article):
    """The comment form's fields of the page assembled as the edge assembles it."""
    page = reader.get(article.get_absolute_url(), **ESI).content.decode()
    for src in esi_sources_text(page):
        fragment = reader.get(src).content.decode()
        page = page.replace(f'<esi:include src="{src}"/>', fragment, 1)
    form = parse(page.encode()).find(".//h:form[@id='comment-form']", NS)
    return {
        field.get("name"): field.get("value") or ""
        for field in form.iter(f"{{{NS['h']}}}input")
        if field.get("name")
    }


def test_a_form_from_esi_parts_posts_with_csrf_enforced(article, settings):
    """The page assembled as the edge assembles it, for a reader without a cookie (no
    token in it), posts from the browser's own page (Sec-Fetch-Site: same-origin)."""
    settings.COMMENTS_MIN_SUBMIT_SECONDS = 0
    reader = Client(enforce_csrf_checks=True)
    values = esi_form_values(reader, article)
    assert values["csrfmiddlewaretoken"] == ""
    data = values | {"name": "Edge", "email": "e@example.org", "body": "Through the edge"}
    url = reverse("comments:post", args=[article.slug])
    response = reader.post(url, data, HTTP_SEC_FETCH_SITE="same-origin")
    assert response.status_code == 303
    assert Comment.objects.get().body == "Through the edge"


def esi_sources_text(page):
    parser = _Includes()
    parser.feed(page)
    return parser.sources


# --- purging -----------------------------------------------------------------------------------
def purged(server):
    assert edge.wait_for_purges(10)
    return {key for batch in server.received for key in batch}


@pytest.mark.django_db(transaction=True)
def test_purges_are_sent_only_after_commit(purge_server):
    """Inside a transaction nothing is sent; the keys go once it commits."""
    with transaction.atomic():
        edge.purge_keys(["article-1", "articles"])
        assert edge.wait_for_purges(10)
        assert purge_server.received == []
    assert purged(purge_server) == {"article-1", "articles"}


@pytest.mark.django_db(transaction=True)
def test_nothing_is_purged_on_rollback(purge_server):
    """A change rolled back purges nothing."""
    with pytest.raises(RuntimeError), transaction.atomic():
        edge.purge_keys(["article-2"])
        raise RuntimeError
    assert purged(purge_server) == set()


@pytest.mark.django_db(transaction=True)
def test_with_replicas_the_keys_are_purged_again_after_the_lag_bound(purge_server, settings):
    """The page the edge fetches right after a purge may come from a replica that has
    not replayed the change: without a WAL position to wait for (a primary that is no
    PostgreSQL), the same keys are purged once more after the lag bound."""
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL waits for the replay instead: tests/test_edge_causal.py")
    settings.DATABASE_REPLICAS = ["replica_0"]
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0.1
    edge.purge_keys(["article-3"])
    assert edge.wait_for_purges(10)
    assert purge_server.received == [["article-3"], ["article-3"]]


@pytest.mark.django_db(transaction=True)
def test_each_kind_of_change_purges_its_keys(purge_server):
    """An approval purges its article (and the comment feeds); an article saved purges it
    and every list; an author renamed purges their articles; a reaction its article."""
    article = ArticleFactory()
    other = ArticleFactory()
    comment = CommentFactory(article=article, status=Comment.Status.PENDING)
    purged(purge_server)
    purge_server.received.clear()

    moderation.approve(Comment.objects.filter(pk=comment.pk))
    assert purged(purge_server) == {edge.article_key(article.pk), edge.COMMENTS_KEY}
    purge_server.received.clear()

    Article.objects.get(pk=other.pk).save()
    assert {edge.LISTS_KEY, edge.article_key(other.pk)} <= purged(purge_server)
    purge_server.received.clear()

    author = article.author
    author.first_name = "Renamed"
    author.save()
    assert edge.article_key(article.pk) in purged(purge_server)
    purge_server.received.clear()

    from comments import reactions

    reactions.toggle(Comment.objects.get(pk=comment.pk), user=UserFactory())
    assert purged(purge_server) == {edge.article_key(article.pk)}


def test_a_page_the_edge_will_not_keep_is_served_complete(db):
    """Behind an ESI cache, a page without surrogate keys (the sign-in form) still gets
    its real token and the CSRF cookie, as without the cache."""
    response = Client().get(reverse("account_login"), **ESI)
    assert response.status_code == 200
    assert esi_sources(response) == [] and b"tp-hole-" not in response.content
    secret = response.cookies[settings.CSRF_COOKIE_NAME].value
    tokens = hidden_values(parse(response), "csrfmiddlewaretoken")
    assert tokens and all(_unmask_cipher_token(token) == secret for token in tokens)
    assert "Surrogate-Control" not in response
