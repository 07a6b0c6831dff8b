"""The moderation desk renders in a bounded number of queries, whatever its size: the
queue (the pending view, the other views, each filter), a commenter's page and the
commenter list make as many queries with ten times the comments and commenters.

Data is built as ``python -m benchmarks`` builds the desk of 100,000 comments from
20,000 commenters (``benchmarks.desk.build``), small here; no timings (those are in
``python -m benchmarks``).
"""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from benchmarks import desk
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

# Ten times the comments and commenters; the same articles' size, so that each page
# shows the same kinds of rows (reported ones, sanctioned commenters…) at both sizes.
SMALL = {"comments": 600, "commenters": 120, "per_article": 100}
BIG = {"comments": 6000, "commenters": 1200, "per_article": 100}
# The most any of these pages may make (session, user and permissions included).
MOST_QUERIES = 16


@pytest.fixture
def moderator_client(settings):
    settings.ROOT_URLCONF = "benchmarks.desk"  # the site, and the benchmark's baseline
    user = StaffFactory(username="desk-moderator")
    user.groups.add(Group.objects.get(name="Moderators"))
    client = Client()
    client.force_login(user)
    return client


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


def counts(client, built):
    """``{page name: queries}`` for every page the benchmark times."""
    pages = desk.pages(built)
    client.get(pages[1][1])  # caches warm (the word lists), as on a running site
    return {name: queries(client, url) for name, url in pages}


def test_desk_pages_make_as_many_queries_with_ten_times_the_data(moderator_client):
    small = counts(moderator_client, desk.build(**SMALL, prefix="small", progress=False))
    big = counts(moderator_client, desk.build(**BIG, prefix="big", progress=False))
    assert big == small
    assert max(big.values()) <= MOST_QUERIES, big


def test_the_desk_data_is_what_the_benchmark_says(moderator_client):
    """Comments from every commenter, a few percent pending, sanctions, busy articles:
    the pages measured have rows to show."""
    from comments.models import Comment, Commenter, Sanction

    built = desk.build(**SMALL, progress=False)
    assert Comment.objects.count() == SMALL["comments"]
    assert Commenter.objects.count() == SMALL["commenters"]
    assert not Comment.objects.filter(commenter__isnull=True).exists()
    assert Comment.objects.pending().exists()
    assert Comment.objects.held_by_rule().exists()
    assert Sanction.objects.in_force().exists()
    comments = Comment.objects.filter(commenter=built.busiest).count()
    assert comments == built.busiest.approved_count + built.busiest.pending_count + (
        built.busiest.spam_count + built.busiest.removed_count
    )
    for _name, url in desk.pages(built):
        response = moderator_client.get(url)
        assert response.status_code == 200, url
