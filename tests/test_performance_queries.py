"""Constant query counts whatever the data size, and no recursion limit anywhere.

No timings here (those are in ``python -m benchmarks``): the number of queries a
page makes must not grow with the comments it shows, and the deepest chain must
render. Data is built the benchmarks' way (bulk rows with precomputed trees).
"""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from benchmarks.data import Builder, chain_parents, random_parents
from comments import threads
from comments.integrity import check_trees
from tests.factories import ArticleFactory
from tests.html import comment_ids, parse

pytestmark = pytest.mark.django_db


def build(article, parents):
    builder = Builder(progress=False)
    builder.write(builder.comments(article, parents), label="test")
    builder.finish()


def queries_for(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_benchmark_data_is_a_valid_mptt_forest(article):
    build(article, random_parents(300, seed=3))
    assert check_trees().ok


def test_article_page_query_count_does_not_grow_with_the_thread(client, settings):
    settings.COMMENTS_THREADS_PER_PAGE = 20
    # The reaction counts are read at most once per period and article: read them on
    # every view here, so that each view makes the same queries.
    settings.COMMENTS_REACTION_COUNTS_SECONDS = 0
    small, big = ArticleFactory(), ArticleFactory()
    build(small, random_parents(10, seed=1))
    build(big, random_parents(1500, seed=2))
    small_queries = queries_for(client, small.get_absolute_url())
    big_queries = queries_for(client, big.get_absolute_url())
    assert big_queries == small_queries
    assert big_queries <= 10
    # Other pages of the thread cost the same.
    assert queries_for(client, big.get_absolute_url() + "?cpage=3") == small_queries


def test_cached_article_page_makes_fewer_queries(client, django_assert_max_num_queries):
    article = ArticleFactory()
    build(article, random_parents(200, seed=4))
    uncached = queries_for(client, article.get_absolute_url())
    with django_assert_max_num_queries(uncached - 3):
        client.get(article.get_absolute_url())


def test_home_page_query_count_does_not_grow_with_articles_or_comments(client, settings):
    settings.ARTICLES_PER_PAGE = 10
    first = ArticleFactory()
    build(first, random_parents(5, seed=5))
    few = queries_for(client, "/")
    for number in range(15):
        build(ArticleFactory(), random_parents(40, seed=10 + number))
    assert queries_for(client, "/") == few
    assert few <= 5


def test_admin_changelist_query_count_does_not_grow_with_comments(client, superuser):
    client.force_login(superuser)
    url = "/admin/comments/comment/"
    build(ArticleFactory(), random_parents(5, seed=6))
    queries_for(client, url)  # the word lists (highlighted in the rows) reach the cache
    few = queries_for(client, url)
    for number in range(4):
        build(ArticleFactory(), random_parents(150, seed=20 + number))
    assert queries_for(client, url) == few


def test_a_chain_of_a_thousand_replies_renders_without_recursion(client):
    article = ArticleFactory()
    build(article, chain_parents(1000))
    doc = parse(client.get(article.get_absolute_url()))
    assert len(comment_ids(doc)) == 1000


def test_full_thread_render_is_a_constant_three_queries():
    article = ArticleFactory()
    build(article, random_parents(800, seed=7))
    with (
        override_settings(COMMENTS_THREADS_PER_PAGE=10**6, COMMENTS_PER_PAGE=0),
        CaptureQueriesContext(connection) as captured,
    ):
        page = threads.render_page(article, use_cache=False)
    assert page.html.count('<li id="comment-') == 800
    # The threads' sizes, their rows, the editors' picks.
    assert len(captured.captured_queries) == 3
