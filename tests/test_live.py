"""Live updates: the version endpoint (one query, public, ETag/304, cacheable for a few
seconds) and the fragment of newly approved comments (the thread's own markup, each
naming its parent), neither personal nor touching the session."""

import json
from datetime import timedelta

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from comments import live
from comments.models import Comment
from tests.factories import ArticleFactory, CommentFactory, UserFactory
from tests.html import NS, parse, text_of

pytestmark = pytest.mark.django_db

Status = Comment.Status


@pytest.fixture(autouse=True)
def _forget_states():
    """Each test starts with no article's state remembered by the worker."""
    live._memo.clear()
    yield
    live._memo.clear()


def version_url(article):
    return reverse("comments:live_version", args=[article.pk])


def new_url(article, since):
    return f"{reverse('comments:live_new', args=[article.pk])}?since={int(since.timestamp())}"


def test_version_answers_version_count_and_newest_of_approved_comments(client, article):
    first = CommentFactory(article=article)
    CommentFactory(article=article, status=Status.PENDING)
    CommentFactory(article=article, status=Status.SPAM)
    article.refresh_from_db()
    response = client.get(version_url(article))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data == {
        "version": article.comments_version,
        "count": 1,
        "newest": int(first.created_at.timestamp()),
    }


def test_version_of_an_article_without_comments_has_no_newest(client, article):
    data = client.get(version_url(article)).json()
    assert data["count"] == 0 and data["newest"] is None


def test_version_moves_when_a_comment_is_approved(client, article):
    pending = CommentFactory(article=article, status=Status.PENDING)
    before = client.get(version_url(article)).json()
    live._memo.clear()  # a second later
    pending.status = Status.APPROVED
    pending.save()
    after = client.get(version_url(article)).json()
    assert after["count"] == before["count"] + 1
    assert after["version"] > before["version"]


def test_version_is_one_query_then_none_on_a_warm_worker(
    client, article, django_assert_num_queries
):
    CommentFactory(article=article)
    with django_assert_num_queries(1):
        first = client.get(version_url(article))
    with django_assert_num_queries(0):
        again = client.get(version_url(article))
    assert first.json() == again.json()


def test_a_worker_asks_again_after_memo_seconds(client, article, monkeypatch):
    """The state a worker remembers is at most MEMO_SECONDS old."""
    clock = [1000.0]
    monkeypatch.setattr(live, "_clock", lambda: clock[0])
    assert client.get(version_url(article)).json()["count"] == 0
    CommentFactory(article=article)
    assert client.get(version_url(article)).json()["count"] == 0
    clock[0] += live.MEMO_SECONDS
    assert client.get(version_url(article)).json()["count"] == 1


def test_version_is_publicly_cacheable_for_a_few_seconds_and_sets_no_cookie(client, article):
    response = client.get(version_url(article))
    assert response["Cache-Control"] == f"public, max-age={live.FRESH_SECONDS}"
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert "sessionid" not in client.cookies


def test_version_has_a_strong_etag_and_answers_304_when_it_matches(client, article):
    response = client.get(version_url(article))
    etag = response["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = client.get(version_url(article), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert again["Cache-Control"] == f"public, max-age={live.FRESH_SECONDS}"


def test_version_etag_changes_with_a_new_comment(client, article):
    etag = client.get(version_url(article))["ETag"]
    CommentFactory(article=article)
    live._memo.clear()
    response = client.get(version_url(article), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


@pytest.mark.parametrize(
    "state",
    [
        {"status": Article.Status.DRAFT},
        {"published_at": timezone.now() + timedelta(days=1)},
    ],
    ids=["draft", "scheduled"],
)
def test_version_of_an_unpublished_article_is_404(client, state):
    article = ArticleFactory(**state)
    assert client.get(version_url(article)).status_code == 404
    assert client.get(new_url(article, timezone.now())).status_code == 404


def test_version_of_an_unknown_article_is_404(client):
    assert client.get(reverse("comments:live_version", args=[999999])).status_code == 404


def test_version_refuses_post(article):
    assert Client(enforce_csrf_checks=True).post(version_url(article)).status_code == 405


def test_new_comments_are_the_threads_markup_with_their_parents(client, article):
    old = CommentFactory(article=article, created_at=timezone.now() - timedelta(hours=1))
    since = timezone.now() - timedelta(minutes=1)
    reply = CommentFactory(article=article, parent=old, body="A fresh reply.")
    thread = CommentFactory(article=article, body="A fresh thread.")
    CommentFactory(article=article, status=Status.PENDING, body="Not yet.")
    response = client.get(new_url(article, since))
    assert response.status_code == 200
    doc = parse(response)
    wrapper = doc.find(".//h:div[@class='live-new']", NS)
    assert int(wrapper.get("data-until")) >= int(since.timestamp())
    items = doc.findall(".//h:div[@class='live-item']", NS)
    assert [item.get("data-parent") for item in items] == [str(old.pk), ""]
    lis = [item.find(".//h:li", NS) for item in items]
    assert [li.get("id") for li in lis] == [f"comment-{reply.pk}", f"comment-{thread.pk}"]
    assert "depth-2" in lis[0].get("class") and "depth-1" in lis[1].get("class")
    assert "A fresh reply." in text_of(lis[0])
    assert "Not yet." not in response.content.decode()
    assert b"tp-keyed" not in response.content  # the reaction holes are filled
    assert response["Cache-Control"] == f"public, max-age={live.FRESH_SECONDS}"
    assert not response.cookies


def test_new_comments_include_a_comment_approved_after_since(client, article):
    held = CommentFactory(
        article=article, status=Status.PENDING, created_at=timezone.now() - timedelta(hours=2)
    )
    since = timezone.now() - timedelta(minutes=1)
    held.status, held.moderated_at = Status.APPROVED, timezone.now()
    held.save()
    doc = parse(client.get(new_url(article, since)))
    assert [li.get("id") for li in doc.iterfind(".//h:li", NS)] == [f"comment-{held.pk}"]


def test_new_comments_leave_out_comments_before_since(client, article):
    CommentFactory(article=article, created_at=timezone.now() - timedelta(hours=1))
    doc = parse(client.get(new_url(article, timezone.now() - timedelta(minutes=1))))
    assert doc.findall(".//h:li", NS) == []


def test_new_comments_show_nothing_personal(client, article):
    CommentFactory(article=article, author_email="secret@example.net", ip_address="192.0.2.55")
    content = client.get(new_url(article, timezone.now() - timedelta(minutes=1))).content
    assert b"secret@example.net" not in content and b"192.0.2.55" not in content
    assert b"csrfmiddlewaretoken" not in content


def test_new_comments_are_one_query_after_the_article(client, article, django_assert_num_queries):
    since = timezone.now() - timedelta(minutes=1)
    for _ in range(3):
        CommentFactory(article=article)
    with django_assert_num_queries(2):
        response = client.get(new_url(article, since))
    assert response.content.count(b'class="live-item"') == 3


@pytest.mark.parametrize("since", ["", "soon", "99999999999999999999"])
def test_new_comments_refuse_a_bad_since(client, article, since):
    url = f"{reverse('comments:live_new', args=[article.pk])}?since={since}"
    assert client.get(url).status_code == 400


def test_version_is_the_same_public_answer_for_a_signed_in_reader(article):
    client = Client()
    client.force_login(UserFactory())
    response = client.get(version_url(article))
    assert response["Cache-Control"] == f"public, max-age={live.FRESH_SECONDS}"
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies


# --- the version endpoint before Django's handler (site_config/wsgi.py) ---------------------
def fast_path_call(path, *, method="GET", **headers):
    """``path`` through ``live.VersionFastPath`` with a stand-in for the full stack:
    ``(status, headers, body, whether the full stack was asked)``."""
    handed_over = []

    def full_stack(environ, start_response):
        handed_over.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"full stack"]

    environ = RequestFactory().generic(method, path, **headers).environ
    # As Django's test client does: the test's transaction keeps its connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    answer = {}

    def start_response(status, response_headers):
        answer["status"], answer["headers"] = status, dict(response_headers)

    try:
        body = b"".join(live.VersionFastPath(full_stack)(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], body, bool(handed_over)


def test_the_fast_path_answers_what_the_view_answers(client, article):
    CommentFactory(article=article, status=Comment.Status.APPROVED)
    view = client.get(version_url(article))
    status, headers, body, handed_over = fast_path_call(version_url(article))
    assert not handed_over
    assert status == "200 OK"
    assert json.loads(body) == view.json()
    for name in ("Content-Type", "ETag", "Cache-Control"):
        assert headers[name] == view[name], name
    assert "Set-Cookie" not in headers and "Vary" not in headers


def test_the_fast_path_answers_304_and_404_as_the_view_does(client, article):
    etag = client.get(version_url(article))["ETag"]
    status, headers, body, _handed = fast_path_call(version_url(article), HTTP_IF_NONE_MATCH=etag)
    assert (status, body, headers["ETag"]) == ("304 Not Modified", b"", etag)
    draft = ArticleFactory(status=Article.Status.DRAFT)
    assert client.get(version_url(draft)).status_code == 404
    assert fast_path_call(version_url(draft))[0] == "404 Not Found"


def test_the_fast_path_hands_everything_else_to_the_full_stack(article):
    assert fast_path_call(version_url(article), method="POST")[3]
    assert fast_path_call(article.get_absolute_url())[3]
    assert fast_path_call(new_url(article, timezone.now()))[3]
    assert fast_path_call("/comments/live/12x/")[3]


def test_the_fast_path_falls_back_to_the_full_stack_when_it_fails(article, monkeypatch):
    def broken(pk):
        raise RuntimeError("database down")

    monkeypatch.setattr(live, "current_state", broken)
    assert fast_path_call(version_url(article))[3]


def test_the_wsgi_application_puts_the_fast_path_first():
    from site_config.wsgi import application

    assert isinstance(application, live.VersionFastPath)
