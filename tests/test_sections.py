"""Sections and tags on the site: their pages, feeds and sitemap entries, the article page
and the home list showing them, the admin that edits them (not the moderators), and
every cached page that shows them changing at once when they change."""

import xml.etree.ElementTree as ET
from datetime import timedelta
from io import StringIO

import feedparser
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, Section, Tag
from site_config import edge
from tests.factories import ArticleFactory, StaffFactory
from tests.html import NS, parse, text_of
from tests.test_edge_headers import purged

pytestmark = pytest.mark.django_db

SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture
def news():
    return Section.objects.create(
        name="News", slug="news", description="What happened, checked and explained."
    )


@pytest.fixture
def opinion():
    return Section.objects.create(name="Opinion", slug="opinion", position=1)


@pytest.fixture
def transport():
    return Tag.objects.create(name="Transport", slug="transport")


@pytest.fixture
def energy():
    return Tag.objects.create(name="Energy", slug="energy")


def article_in(section=None, *tags, days_ago=1, **kwargs):
    article = ArticleFactory(
        section=section, published_at=timezone.now() - timedelta(days=days_ago), **kwargs
    )
    article.tags.add(*tags)
    return article


@pytest.fixture
def mixed(news, opinion, transport, energy):
    """Public, draft and scheduled articles in two sections, some tagged."""
    return {
        "newer": article_in(news, transport, title="Newer news", days_ago=1),
        "older": article_in(news, energy, title="Older news", days_ago=3),
        "opinion": article_in(opinion, transport, title="An opinion", days_ago=2),
        "untagged": article_in(None, title="Nowhere", days_ago=2),
        "draft": article_in(news, transport, title="Draft news", status=Article.Status.DRAFT),
        "scheduled": article_in(news, transport, title="Scheduled news", days_ago=-2),
    }


def listed_titles(response):
    doc = parse(response)
    return [
        text_of(h2)
        for article in doc.iterfind(".//h:main//h:article", NS)
        for h2 in article.iterfind("h:h2", NS)
    ]


# --- pages ----------------------------------------------------------------------------
def test_a_section_page_lists_its_public_articles_newest_first(client, mixed, news):
    """Drafts, scheduled articles and other sections' articles are not listed."""
    response = client.get("/sections/news/")
    assert response.status_code == 200
    assert listed_titles(response) == ["Newer news", "Older news"]


def test_a_section_page_has_the_section_as_heading_and_its_description(client, mixed, news):
    doc = parse(client.get(news.get_absolute_url()))
    assert text_of(doc.find(".//h:main//h:h1", NS)) == "News"
    assert "What happened, checked and explained." in text_of(doc.find(".//h:main", NS))
    assert text_of(doc.find(".//h:title", NS)).startswith("News · ")


def test_a_tag_page_lists_its_public_articles_newest_first(client, mixed, transport):
    """A tag spans sections; drafts and scheduled articles stay out."""
    response = client.get("/tags/transport/")
    assert response.status_code == 200
    assert listed_titles(response) == ["Newer news", "An opinion"]
    assert text_of(parse(response).find(".//h:main//h:h1", NS)) == "Transport"


def test_a_tag_page_of_no_public_article_says_so(client, transport):
    response = client.get(transport.get_absolute_url())
    assert response.status_code == 200
    assert listed_titles(response) == []
    assert "No articles yet." in text_of(parse(response).find(".//h:main", NS))


@pytest.mark.parametrize(
    "url",
    [
        "/sections/missing/",
        "/tags/missing/",
        "/sections/missing/feed/",
        "/sections/missing/feed/atom/",
        "/tags/missing/feed/",
        "/tags/missing/feed/atom/",
    ],
)
def test_an_unknown_slug_is_not_found(client, mixed, url):
    assert client.get(url).status_code == 404


def test_section_pages_are_paginated_like_the_home_page(client, news, settings):
    """``ARTICLES_PER_PAGE`` a page, newer first, with rel=prev/next links; a bad page
    number shows the nearest valid page."""
    settings.ARTICLES_PER_PAGE = 2
    for number in range(5):
        article_in(news, title=f"Story {number}", days_ago=number + 1)
    assert listed_titles(client.get("/sections/news/")) == ["Story 0", "Story 1"]
    second = client.get("/sections/news/?page=2")
    assert listed_titles(second) == ["Story 2", "Story 3"]
    nav = parse(second).find(".//h:nav[@class='pagination']", NS)
    rels = {a.get("rel"): a.get("href") for a in nav.iterfind("h:a", NS)}
    assert rels == {"prev": "?page=1", "next": "?page=3"}
    for page in ["abc", "0", "99", ""]:
        response = client.get(f"/sections/news/?page={page}")
        assert response.status_code == 200
        assert listed_titles(response)


def test_tag_pages_are_paginated_like_the_home_page(client, transport, settings):
    settings.ARTICLES_PER_PAGE = 2
    for number in range(3):
        article_in(None, transport, title=f"Story {number}", days_ago=number + 1)
    assert listed_titles(client.get("/tags/transport/?page=2")) == ["Story 2"]


def test_section_and_tag_pages_link_their_own_feeds(client, mixed, news, transport):
    for page, name in [(news, "section"), (transport, "tag")]:
        doc = parse(client.get(page.get_absolute_url()))
        alternates = {
            link.get("type"): link.get("href")
            for link in doc.iterfind(".//h:head/h:link[@rel='alternate']", NS)
            if page.name in (link.get("title") or "")
        }
        assert alternates == {
            "application/rss+xml": reverse(f"articles:{name}-feed", args=[page.slug]),
            "application/atom+xml": reverse(f"articles:{name}-feed-atom", args=[page.slug]),
        }


@pytest.mark.parametrize("url", ["/sections/news/", "/tags/transport/", "/"])
def test_list_pages_cost_the_same_queries_for_3_and_30_articles(
    client, news, transport, energy, url
):
    """Each listed article's section and tags come with the list (no query per article)."""

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        assert "Transport" in text_of(parse(response).find(".//h:main", NS))
        return len(captured)

    for _ in range(3):
        article_in(news, transport, energy)
    few = queries()
    for _ in range(27):
        article_in(news, transport, energy)
    assert queries() == few
    assert few <= 5


# What Varnish sends: the page's per-reader parts come through ESI, so it may keep it.
ESI = {"HTTP_SURROGATE_CAPABILITY": 'varnish="ESI/1.0"'}


def xkeys(response):
    """The keys the edge cache is told the response shows (its ``xkey`` header)."""
    assert response.status_code == 200
    return sorted(response[edge.XKEY_HEADER].split())


def test_list_pages_name_their_surrogate_keys(client, mixed, news, transport):
    """The edge cache purges a section or tag page with its key, any list with
    ``LISTS_KEY``, and with each listed article's key (its comment count shows)."""
    assert xkeys(client.get(news.get_absolute_url(), **ESI)) == sorted(
        [
            edge.LISTS_KEY,
            edge.section_key(news.pk),
            edge.article_key(mixed["newer"].pk),
            edge.article_key(mixed["older"].pk),
        ]
    )
    assert xkeys(client.get(transport.get_absolute_url(), **ESI)) == sorted(
        [
            edge.LISTS_KEY,
            edge.tag_key(transport.pk),
            edge.article_key(mixed["newer"].pk),
            edge.article_key(mixed["opinion"].pk),
        ]
    )


# --- feeds ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["feed", "feed-atom"])
def test_section_feeds_list_the_sections_public_articles(client, mixed, news, kind):
    response = client.get(reverse(f"articles:section-{kind}", args=["news"]))
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo
    assert feed.feed.title.startswith("News · ")
    assert feed.feed.link.endswith("/sections/news/")
    assert [entry.title for entry in feed.entries] == ["Newer news", "Older news"]


@pytest.mark.parametrize("kind", ["feed", "feed-atom"])
def test_tag_feeds_list_the_tags_public_articles(client, mixed, transport, kind):
    response = client.get(reverse(f"articles:tag-{kind}", args=["transport"]))
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo
    assert feed.feed.title.startswith("Transport · ")
    assert [entry.title for entry in feed.entries] == ["Newer news", "An opinion"]


def test_feeds_name_their_surrogate_keys(client, mixed, energy):
    for name in ["articles:tag-feed", "articles:tag-feed-atom"]:
        assert xkeys(client.get(reverse(name, args=["energy"]), **ESI)) == sorted(
            [edge.LISTS_KEY, edge.tag_key(energy.pk), edge.article_key(mixed["older"].pk)]
        )


# --- sitemap --------------------------------------------------------------------------
def test_the_sitemap_lists_sections_and_tags_with_a_public_article_only(client, mixed):
    """A section or tag whose articles are all drafts or scheduled has nothing to show."""
    only_draft = Section.objects.create(name="Drafts only", slug="drafts-only")
    article_in(only_draft, status=Article.Status.DRAFT)
    scheduled_tag = Tag.objects.create(name="Later", slug="later")
    article_in(None, scheduled_tag, days_ago=-3)
    Tag.objects.create(name="Unused", slug="unused")
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    locations = [
        loc.text.split("testserver", 1)[1]
        for loc in ET.fromstring(response.content).iterfind(".//s:loc", SITEMAP_NS)
    ]
    assert "/sections/news/" in locations
    assert "/sections/opinion/" in locations
    assert "/tags/transport/" in locations
    assert "/tags/energy/" in locations
    for hidden in ["/sections/drafts-only/", "/tags/later/", "/tags/unused/"]:
        assert hidden not in locations
    assert len(locations) == len(set(locations))  # a tag on two articles is listed once


# --- the article page and the home list -------------------------------------------------
def test_the_article_page_links_its_section_and_tags(client, mixed, news, transport):
    doc = parse(client.get(mixed["newer"].get_absolute_url()))
    header = doc.find(".//h:article/h:header", NS)
    section_link = header.find(".//h:p[@class='section-label']/h:a", NS)
    assert (text_of(section_link), section_link.get("href")) == ("News", "/sections/news/")
    nav = doc.find(".//h:nav[@class='article-tags']", NS)
    assert nav.get("aria-label") == "Tags"
    tags = [(text_of(a), a.get("href"), a.get("rel")) for a in nav.iterfind(".//h:li/h:a", NS)]
    assert tags == [("Transport", "/tags/transport/", "tag")]


def test_an_article_without_section_or_tags_shows_neither(client, mixed):
    doc = parse(client.get(mixed["untagged"].get_absolute_url()))
    assert doc.find(".//h:p[@class='section-label']", NS) is None
    assert doc.find(".//h:nav[@class='article-tags']", NS) is None


def test_the_home_list_shows_each_articles_section_and_tags(client, mixed):
    doc = parse(client.get("/"))
    shown = {}
    for article in doc.iterfind(".//h:main//h:article", NS):
        label = article.find("h:p[@class='section-label']/h:a", NS)
        tags = [text_of(a) for a in article.iterfind("h:ul[@class='tags']/h:li/h:a", NS)]
        shown[text_of(article.find("h:h2", NS))] = (
            label.get("href") if label is not None else None,
            tags,
        )
    assert shown == {
        "Newer news": ("/sections/news/", ["Transport"]),
        "Older news": ("/sections/news/", ["Energy"]),
        "An opinion": ("/sections/opinion/", ["Transport"]),
        "Nowhere": (None, []),
    }


# --- invalidation -----------------------------------------------------------------------
def anonymous_text(article):
    response = Client().get(article.get_absolute_url())
    assert response.status_code == 200
    return text_of(parse(response).find(".//h:article", NS))


@pytest.fixture
def cached(mixed):
    """The newer article's page, cached: a change made behind the cache's back (an
    ``update()`` no hook sees) does not show."""
    article = mixed["newer"]
    assert "Transport" in anonymous_text(article)
    Tag.objects.filter(slug="transport").update(name="Behind the cache")
    assert "Behind the cache" not in anonymous_text(article)
    return article


def test_renaming_a_tag_changes_its_articles_cached_pages(cached):
    tag = Tag.objects.get(slug="transport")
    tag.name = "Public transport"
    tag.save()
    assert "Public transport" in anonymous_text(cached)


def test_renaming_a_section_changes_its_articles_cached_pages(cached, news):
    news.name = "Local news"
    news.save()
    text = anonymous_text(cached)
    assert "Local news" in text
    assert "Behind the cache" in text  # rendered afresh


def test_adding_a_tag_to_an_article_changes_its_cached_page(cached, energy):
    cached.tags.add(energy)
    assert "Energy" in anonymous_text(cached)


def test_removing_a_tag_from_an_article_changes_its_cached_page(cached, transport):
    cached.tags.remove(transport)
    assert "Transport" not in anonymous_text(cached)


def test_clearing_an_articles_tags_changes_its_cached_page(cached):
    cached.tags.clear()
    assert "Transport" not in anonymous_text(cached)


def test_tagging_from_the_tags_side_changes_the_articles_cached_pages(cached, energy):
    energy.articles.add(cached)
    assert "Energy" in anonymous_text(cached)


def test_deleting_a_tag_changes_its_articles_cached_pages(cached):
    Tag.objects.get(slug="transport").delete()
    assert "Transport" not in anonymous_text(cached)


def test_changing_tags_in_the_admin_changes_the_cached_page(cached, superuser, energy, news):
    client = Client()
    client.force_login(superuser)
    url = reverse("admin:articles_article_change", args=[cached.pk])
    form = client.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in {"tags", "published_at", "comments_close_at"}
    }
    published = timezone.localtime(cached.published_at)
    data.update(
        {
            "author": cached.author_id,
            "section": news.pk,
            "tags": [energy.pk],
            "published_at_0": published.strftime("%Y-%m-%d"),
            "published_at_1": published.strftime("%H:%M:%S"),
            "comments_open": "on",
            "comments_premoderated": "unknown",
            "comments_allow_links": "unknown",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(cached.tags.values_list("name", flat=True)) == ["Energy"]
    text = anonymous_text(cached)
    assert "Energy" in text
    assert "Behind the cache" not in text


# --- admin ------------------------------------------------------------------------------
def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def moderator():
    user = StaffFactory(username="mod")
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


def test_the_section_admin_lists_sections_with_their_article_counts(superuser, mixed, news):
    response = logged_in(superuser).get(reverse("admin:articles_section_changelist"))
    assert response.status_code == 200
    rows = {
        text_of(row.find(".//h:th", NS)): [text_of(td) for td in row.iterfind("h:td", NS)]
        for row in parse(response).iterfind(".//h:table[@id='result_list']/h:tbody/h:tr", NS)
    }
    # News: two public, four in all (a draft and a scheduled one).
    assert rows["News"][-2:] == ["2", "4"]
    assert rows["Opinion"][-2:] == ["1", "1"]


def test_a_section_and_a_tag_are_added_in_the_admin_with_a_prefilled_slug(superuser):
    client = logged_in(superuser)
    add = client.get(reverse("admin:articles_section_add"))
    assert add.context["adminform"].prepopulated_fields[0]["field"].name == "slug"
    response = client.post(
        reverse("admin:articles_section_add"),
        {"name": "Reviews", "slug": "reviews", "description": "", "position": "2"},
    )
    assert response.status_code == 302
    assert Section.objects.filter(slug="reviews").exists()
    response = client.post(reverse("admin:articles_tag_add"), {"name": "Film", "slug": "film"})
    assert response.status_code == 302
    assert Tag.objects.filter(slug="film").exists()


def test_a_section_with_articles_cannot_be_deleted_and_the_admin_says_why(superuser, mixed, news):
    """Articles protect their section: the admin names them instead of deleting."""
    url = reverse("admin:articles_section_delete", args=[news.pk])
    response = logged_in(superuser).post(url, {"post": "yes"})
    assert response.status_code == 200
    assert "Newer news" in text_of(parse(response).find(".//h:div[@id='content']", NS))
    assert Section.objects.filter(pk=news.pk).exists()


def test_the_article_admin_filters_by_section_and_shows_it(superuser, mixed, news):
    client = logged_in(superuser)
    url = reverse("admin:articles_article_changelist")
    response = client.get(url, {"section__id__exact": news.pk})
    assert response.status_code == 200
    assert {article.section for article in response.context["cl"].result_list} == {news}
    assert response.context["cl"].result_count == 4
    assert "section" in response.context["cl"].list_display


def test_tags_are_picked_with_an_autocomplete_searching_names(superuser, mixed):
    client = logged_in(superuser)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "articles", "model_name": "article", "field_name": "tags", "term": "trans"},
    )
    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == ["Transport"]


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:articles_section_changelist",
        "admin:articles_section_add",
        "admin:articles_tag_changelist",
        "admin:articles_tag_add",
    ],
)
def test_a_moderator_cannot_open_sections_or_tags_in_the_admin(moderator, url_name):
    assert logged_in(moderator).get(reverse(url_name)).status_code == 403


def test_a_moderator_cannot_change_sections_or_tags(moderator, news, transport):
    client = logged_in(moderator)
    for url, data in [
        (
            reverse("admin:articles_section_change", args=[news.pk]),
            {"name": "Defaced", "slug": "defaced", "position": "0"},
        ),
        (
            reverse("admin:articles_tag_change", args=[transport.pk]),
            {"name": "Defaced", "slug": "defaced"},
        ),
        (reverse("admin:articles_tag_delete", args=[transport.pk]), {"post": "yes"}),
    ]:
        assert client.post(url, data).status_code == 403
    news.refresh_from_db()
    assert news.name == "News"
    assert Tag.objects.get(pk=transport.pk).name == "Transport"


def test_a_moderator_cannot_change_an_articles_section_or_tags(moderator, mixed, opinion, energy):
    """Section and tags are read-only on the moderator's article page; posted values
    for them change nothing."""
    article = mixed["newer"]
    client = logged_in(moderator)
    url = reverse("admin:articles_article_change", args=[article.pk])
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "section" not in form.fields
    assert "tags" not in form.fields
    response = client.post(
        url,
        {
            "section": opinion.pk,
            "tags": [energy.pk],
            "comments_open": "on",
            "comments_premoderated": "unknown",
            "comments_allow_links": "unknown",
        },
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.section.slug == "news"
    assert list(article.tags.values_list("slug", flat=True)) == ["transport"]


# --- demo content -----------------------------------------------------------------------
def test_seed_demo_files_the_demo_articles_under_sections_and_tags_once():
    call_command("seed_demo", stdout=StringIO())
    assert list(Section.objects.values_list("name", flat=True)) == ["News", "Opinion", "Reviews"]
    assert not Article.objects.filter(section=None).exists()
    links = sorted(Article.tags.through.objects.values_list("article_id", "tag_id"))
    assert not Article.objects.filter(tags=None).exists()
    versions = dict(Article.objects.values_list("pk", "updated_at"))
    call_command("seed_demo", stdout=StringIO())
    assert Section.objects.count() == 3
    assert sorted(Article.tags.through.objects.values_list("article_id", "tag_id")) == links
    assert dict(Article.objects.values_list("pk", "updated_at")) == versions


def test_seed_demo_keeps_an_editors_filing():
    call_command("seed_demo", stdout=StringIO())
    article = Article.objects.get(slug="night-bus-timetables-go-open")
    article.section = Section.objects.get(slug="opinion")
    article.save()
    article.tags.set([Tag.objects.get(slug="energy")])
    call_command("seed_demo", stdout=StringIO())
    article.refresh_from_db()
    assert article.section.slug == "opinion"
    assert list(article.tags.values_list("slug", flat=True)) == ["energy"]


# --- edge purges ------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_section_and_tag_changes_purge_their_pages_and_articles(
    purge_server,
):
    """A rename purges the section's or tag's own pages, every list, and the pages of
    its articles; a tag change on an article purges the tag pages concerned and the
    article; deleting a tag purges what showed it."""
    news = Section.objects.create(name="News", slug="news")
    transport = Tag.objects.create(name="Transport", slug="transport")
    energy = Tag.objects.create(name="Energy", slug="energy")
    first = article_in(news, transport)
    second = article_in(news)
    purged(purge_server)
    purge_server.received.clear()

    news.name = "Local news"
    news.save()
    assert {
        edge.LISTS_KEY,
        edge.section_key(news.pk),
        edge.article_key(first.pk),
        edge.article_key(second.pk),
    } <= purged(purge_server)
    purge_server.received.clear()

    transport.name = "Public transport"
    transport.save()
    assert purged(purge_server) == {
        edge.LISTS_KEY,
        edge.tag_key(transport.pk),
        edge.article_key(first.pk),
    }
    purge_server.received.clear()

    second.tags.add(energy)
    assert purged(purge_server) == {
        edge.LISTS_KEY,
        edge.tag_key(energy.pk),
        edge.article_key(second.pk),
    }
    purge_server.received.clear()

    transport_pk = transport.pk
    transport.delete()
    assert {edge.tag_key(transport_pk), edge.article_key(first.pk)} <= purged(purge_server)


@pytest.mark.django_db(transaction=True)
def test_a_sections_position_or_description_leaves_its_articles_pages_alone(
    purge_server,
):
    """Nothing shows a section's position, and only its own page and feeds show its
    description: reordering sections in the admin's list re-renders no article."""
    news = Section.objects.create(name="News", slug="news")
    article = article_in(news)
    purged(purge_server)
    purge_server.received.clear()
    version = Article.objects.get(pk=article.pk).comments_version

    news = Section.objects.get(pk=news.pk)  # as the admin loads it
    news.position = 5
    news.save()
    assert purged(purge_server) == set()
    news.description = "What happened."
    news.save()
    assert purged(purge_server) == {edge.section_key(news.pk)}
    assert Article.objects.get(pk=article.pk).comments_version == version
