"""Soft purge through a real Varnish (deploy/varnish/threadpress.vcl, the fixtures of
tests/test_edge_varnish.py): a purged page expires but stays for grace. While the app is
healthy the next reader gets it fetched anew (never the old page); when the refetch fails
or the app is sick, readers get the last good page instead of an error.
"""

import time

import pytest

from articles.views import ArticleDetailView
from comments import moderation
from comments.models import Comment
from site_config import edge
from tests.factories import CommentFactory
from tests.test_edge_varnish import Reader, edge_site, page_text, varnish  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def cached_then_approved(edge_site, article, body):  # noqa: F811
    """The article's page cached at the edge without a pending comment, then the comment
    approved (and its keys purged)."""
    comment = CommentFactory(article=article, status=Comment.Status.PENDING, body=body)
    url = article.get_absolute_url()
    Reader(edge_site.url).get(url)
    cached = Reader(edge_site.url).get(url)
    assert cached.headers["X-Cache"] == "HIT" and body not in page_text(cached)
    moderation.approve(Comment.objects.filter(pk=comment.pk))
    assert edge.wait_for_purges(10)
    return url


def test_a_soft_purged_page_is_fetched_again_for_the_very_next_reader(edge_site, article):  # noqa: F811
    """While the app is healthy, the first request after a purge waits for the new page
    (no stale copy with a background refresh); the one after is a hit on it."""
    url = cached_then_approved(edge_site, article, "Now shown")
    fresh = Reader(edge_site.url).get(url)
    assert fresh.status == 200 and "Now shown" in page_text(fresh)
    assert fresh.headers["X-Cache"] == "MISS"
    again = Reader(edge_site.url).get(url)
    assert again.headers["X-Cache"] == "HIT" and "Now shown" in page_text(again)


def test_after_a_purge_a_failing_app_leaves_readers_the_last_good_page(
    edge_site,  # noqa: F811
    article,
    monkeypatch,
):
    """The refetch after a purge answered 500 (the app failing, its probe still
    healthy): the reader gets the purged page from grace, not an error; once the app
    answers again, the next reader gets the new page."""
    url = cached_then_approved(edge_site, article, "After the restart")

    def failing(self, request, *args, **kwargs):
        raise RuntimeError("the database is restarting")

    with monkeypatch.context() as patch:
        patch.setattr(ArticleDetailView, "get", failing)
        stale = Reader(edge_site.url).get(url)
    assert stale.status == 200 and article.title in page_text(stale)
    assert "After the restart" not in page_text(stale)
    fresh = Reader(edge_site.url).get(url)
    assert fresh.status == 200 and "After the restart" in page_text(fresh)


def test_after_a_purge_a_sick_app_leaves_readers_the_last_good_page(edge_site, article):  # noqa: F811
    """A purge while the probe says sick: readers keep getting the purged page."""
    url = cached_then_approved(edge_site, article, "Held while sick")
    edge_site.admin("backend.set_health", "boot.app", "sick")
    try:
        stale = Reader(edge_site.url).get(url)
    finally:
        edge_site.admin("backend.set_health", "boot.app", "auto")
    assert stale.status == 200 and article.title in page_text(stale)
    assert stale.headers["X-Cache"] == "HIT"


def test_a_page_past_its_own_ttl_is_still_refreshed_in_the_background(
    edge_site,  # noqa: F811
    article,
    settings,
):
    """Only a purge makes the next reader wait: a page that merely outlived its TTL is
    served from grace once while a background fetch replaces it."""
    settings.EDGE_CACHE_SECONDS = 1
    url = article.get_absolute_url()
    assert Reader(edge_site.url).get(url).headers["X-Cache"] == "MISS"
    time.sleep(1.5)
    assert Reader(edge_site.url).get(url).headers["X-Cache"] == "HIT"
