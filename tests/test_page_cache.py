"""The anonymous page cache: shared pages served from the cache with each reader's own
CSRF token and form timestamp, rendered afresh after every change made through the models
(tests/test_invalidation.py), never used for anyone with personal state."""

import time

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from comments import moderation
from comments.forms import TIMESTAMP_SALT
from comments.models import Comment
from tests.factories import CommentFactory, StaffFactory
from tests.html import NS, comment_ids, parse

pytestmark = pytest.mark.django_db


def form_values(response):
    form = parse(response).find(".//h:form[@id='comment-form']", NS)
    return {
        field.get("name"): field.get("value") or ""
        for field in form.iter(f"{{{NS['h']}}}input")
        if field.get("name")
    }


def test_a_repeat_anonymous_view_costs_one_query(article, django_assert_num_queries):
    CommentFactory(article=article)
    Client().get(article.get_absolute_url())
    with django_assert_num_queries(1):  # the article itself: its version is the cache key
        response = Client().get(article.get_absolute_url())
    assert response.status_code == 200
    assert len(comment_ids(parse(response))) == 1


def test_each_reader_of_a_cached_page_gets_their_own_token_and_timestamp(article):
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    values_a = form_values(first.get(article.get_absolute_url()))
    values_b = form_values(second.get(article.get_absolute_url()))
    assert values_a["csrfmiddlewaretoken"] != values_b["csrfmiddlewaretoken"]
    assert values_a["timestamp"] != values_b["timestamp"]
    for values in (values_a, values_b):
        assert "tp-hole-" not in values["csrfmiddlewaretoken"] + values["timestamp"]
        assert time.time() - signing.loads(values["timestamp"], salt=TIMESTAMP_SALT) < 60


def test_a_cached_page_posts_successfully_with_csrf_enforced(article, settings):
    settings.COMMENTS_MIN_SUBMIT_SECONDS = 0
    Client().get(article.get_absolute_url())  # fill the cache
    reader = Client(enforce_csrf_checks=True)
    values = form_values(reader.get(article.get_absolute_url()))
    data = values | {"name": "Cached", "email": "c@example.org", "body": "From a cached page"}
    response = reader.post(reverse("comments:post", args=[article.slug]), data)
    assert response.status_code == 303
    assert Comment.objects.get().body == "From a cached page"


def test_moderation_changes_the_cached_page_at_once(article):
    pending = CommentFactory(article=article, status=Comment.Status.PENDING)
    assert comment_ids(parse(Client().get(article.get_absolute_url()))) == []
    moderation.approve([pending], by=StaffFactory())
    ids = comment_ids(parse(Client().get(article.get_absolute_url())))
    assert ids == [f"comment-{pending.pk}"]


def test_a_reader_with_a_session_gets_their_own_render(article, comment_data, settings):
    settings.COMMENTS_FLOOD_SECONDS = 0
    reader = Client()
    Client().get(article.get_absolute_url())  # a shared page is cached
    reader.post(reverse("comments:post", args=[article.slug]), comment_data(body="Mine"))
    mine = Comment.objects.get()
    doc = parse(reader.get(article.get_absolute_url()))
    assert comment_ids(doc) == [f"comment-{mine.pk}"]  # their pending comment, in place
    assert comment_ids(parse(Client().get(article.get_absolute_url()))) == []


@pytest.mark.parametrize("query", ["?replyto=1", "?utm_source=x"])
def test_unusual_queries_render_normally(article, query, django_assert_max_num_queries):
    Client().get(article.get_absolute_url())
    with django_assert_max_num_queries(8):
        response = Client().get(article.get_absolute_url() + query)
    assert response.status_code == 200
    assert b"tp-hole-" not in response.content


def test_staff_never_get_the_shared_page(article, staff_user):
    Client().get(article.get_absolute_url())
    staff = Client()
    staff.force_login(staff_user)
    doc = parse(staff.get(article.get_absolute_url()))
    assert doc.find(".//h:a[@href='/admin/']", NS) is not None  # their own header


def test_a_reader_typing_the_marker_prefix_changes_nothing(article, settings):
    CommentFactory(article=article, body="tp-hole- tp-hole-csrf- tp-hole-ts-abc")
    Client().get(article.get_absolute_url())
    response = Client().get(article.get_absolute_url())
    assert "tp-hole- tp-hole-csrf- tp-hole-ts-abc" in response.content.decode()
    values = form_values(response)
    assert "tp-hole-" not in values["csrfmiddlewaretoken"] + values["timestamp"]
