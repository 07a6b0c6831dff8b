"""New since your last visit, on the server: a signed-in reader's visits are one row per
reader and article (comments.visits), written by one upsert per view of the article
page; the page carries the previous visit for the script. Anonymous readers leave
nothing on the server and get nothing personal in the page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from comments import visits
from comments.models import ArticleVisit
from tests.factories import ArticleFactory, CommentFactory, UserFactory
from tests.html import comments_section, parse

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
def reader(db):
    return UserFactory()


def visit(reader, article, at):
    return visits.record_visit(user=reader, article=article, now=at)


def test_the_first_visit_has_no_previous_visit(reader, article):
    assert visit(reader, article, T0) is None
    row = ArticleVisit.objects.get()
    assert (row.user, row.article, row.visited_at, row.previous_visit_at) == (
        reader,
        article,
        T0,
        None,
    )


def test_a_reload_within_the_gap_keeps_the_previous_visit(reader, article):
    visit(reader, article, T0)
    assert visit(reader, article, T0 + timedelta(minutes=40)) == T0
    # Reloads a few seconds and minutes later: the marks stay.
    assert visit(reader, article, T0 + timedelta(minutes=40, seconds=5)) == T0
    assert visit(reader, article, T0 + timedelta(minutes=65)) == T0
    assert ArticleVisit.objects.get().visited_at == T0 + timedelta(minutes=65)


def test_the_first_visit_stays_without_a_previous_one_while_it_lasts(reader, article):
    visit(reader, article, T0)
    assert visit(reader, article, T0 + timedelta(seconds=3)) is None


def test_a_view_after_the_gap_compares_with_the_last_view_of_the_visit_before(reader, article):
    visit(reader, article, T0)
    visit(reader, article, T0 + timedelta(minutes=20))  # the same visit, read longer
    later = T0 + timedelta(minutes=20) + visits.VISIT_GAP
    assert visit(reader, article, later) == T0 + timedelta(minutes=20)
    row = ArticleVisit.objects.get()
    assert (row.visited_at, row.previous_visit_at) == (later, T0 + timedelta(minutes=20))


def test_one_row_per_reader_and_article(reader, article):
    other_article, other_reader = ArticleFactory(), UserFactory()
    for minutes in (0, 10, 50, 100):
        visit(reader, article, T0 + timedelta(minutes=minutes))
    visit(reader, other_article, T0)
    visit(other_reader, article, T0 + timedelta(hours=5))
    assert ArticleVisit.objects.count() == 3
    mine = ArticleVisit.objects.get(user=reader, article=article)
    assert mine.previous_visit_at == T0 + timedelta(minutes=50)
    # Another reader's or another article's visits move nothing of this one.
    assert ArticleVisit.objects.get(user=other_reader).previous_visit_at is None


def test_recording_a_visit_is_one_query(reader, article, django_assert_num_queries):
    visit(reader, article, T0)
    with django_assert_num_queries(1):
        assert visit(reader, article, T0 + timedelta(hours=1)) == T0


# --- the article page -----------------------------------------------------------------


def previous_visit_attribute(response):
    return comments_section(parse(response)).get("data-previous-visit")


@pytest.fixture
def discussed(article):
    CommentFactory(article=article)
    return article


def test_a_signed_in_reader_first_visit_says_so_with_an_empty_previous_visit(
    client, reader, discussed
):
    client.force_login(reader)
    assert previous_visit_attribute(client.get(discussed.get_absolute_url())) == ""
    assert ArticleVisit.objects.get(user=reader, article=discussed).previous_visit_at is None


def test_a_signed_in_reader_page_carries_the_previous_visit_in_utc(client, reader, discussed):
    visit(reader, discussed, T0)
    client.force_login(reader)
    response = client.get(discussed.get_absolute_url())
    assert previous_visit_attribute(response) == "2026-03-01T12:00:00+00:00"  # to the second


def test_an_anonymous_reader_leaves_no_visit_and_gets_nothing_personal(discussed):
    for _ in range(2):  # a render, then the shared page from the cache
        response = Client().get(discussed.get_absolute_url())
        assert response.status_code == 200
        assert previous_visit_attribute(response) is None
    assert not ArticleVisit.objects.exists()


def test_a_signed_in_page_makes_one_query_more_for_the_visit(
    client, reader, discussed, monkeypatch
):
    """The same signed-in page with the visit recorded and without: one query apart."""
    client.force_login(reader)
    url = discussed.get_absolute_url()
    client.get(url)  # warm what a first view caches (sessions, word lists…)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries.captured_queries)

    with_visit = count()
    monkeypatch.setattr(visits, "record_visit", lambda **kwargs: None)
    without_visit = count()
    assert with_visit == without_visit + 1


def test_a_visit_is_recorded_on_each_signed_in_view(client, reader, discussed):
    client.force_login(reader)
    client.get(discussed.get_absolute_url())
    first = ArticleVisit.objects.get().visited_at
    client.get(discussed.get_absolute_url())
    assert ArticleVisit.objects.get().visited_at > first
