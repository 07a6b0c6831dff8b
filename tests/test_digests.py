"""Daily digests (comments.follows.send_digests, manage.py send_digests): one email per
address and day listing each followed article's new comments, recorded with the email so
a run interrupted and run again sends nothing twice."""

import re
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from articles.models import Article
from comments import follows
from comments.models import Comment, DigestSent, Follow
from tests.factories import ArticleFactory, CommentFactory

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def daily_follow(article, email="fan@example.org", scope=Follow.Scope.ALL, confirmed_ago=DAY):
    follow = follows.save_follow(
        article=article, email=email, scope=scope, delivery=Follow.Delivery.DAILY
    )
    Follow.objects.filter(pk=follow.pk).update(confirmed_at=timezone.now() - confirmed_ago)
    follow.refresh_from_db()
    return follow


def new_comment(article, ago=timedelta(hours=2), **fields):
    return CommentFactory(article=article, created_at=timezone.now() - ago, **fields)


def test_one_digest_per_address_lists_each_followed_articles_new_comments():
    first, second = ArticleFactory(title="Alpha story"), ArticleFactory(title="Beta story")
    daily_follow(first)
    daily_follow(second)
    a = new_comment(first, body="Alpha words.")
    b = new_comment(second, body="Beta words.")
    new_comment(first, ago=3 * DAY, body="Too old.")
    CommentFactory(article=first, status=Comment.Status.PENDING, body="Not public.")

    assert follows.send_digests() == 1
    [message] = mail.outbox
    assert message.to == ["fan@example.org"]
    assert "Alpha story" in message.body and "Beta story" in message.body
    assert "Alpha words." in message.body and "Beta words." in message.body
    assert "Too old." not in message.body and "Not public." not in message.body
    for comment in (a, b):
        assert f"http://127.0.0.1:8000{comment.get_absolute_url()}" in message.body
    url = re.search(r"http://\S+/follow/unsubscribe/\S+", message.body).group()
    assert message.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert DigestSent.objects.count() == 2


def test_running_twice_sends_nothing_twice():
    article = ArticleFactory()
    daily_follow(article)
    new_comment(article)
    assert follows.send_digests() == 1
    assert follows.send_digests() == 0
    assert len(mail.outbox) == 1


def test_a_run_interrupted_and_run_again_sends_each_digest_once():
    article = ArticleFactory()
    daily_follow(article, email="ann@example.org")
    daily_follow(article, email="bob@example.org")
    new_comment(article)
    real = follows._send_digest
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run is killed while sending the second digest
        return real(*args, **kwargs)

    with (
        mock.patch.object(follows, "_send_digest", crash_on_second),
        pytest.raises(KeyboardInterrupt),
    ):
        follows.send_digests()
    assert [m.to for m in mail.outbox] == [["ann@example.org"]]

    assert follows.send_digests() == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.org", "bob@example.org"]
    assert follows.send_digests() == 0


def test_a_send_that_fails_before_it_is_recorded_is_sent_on_the_next_run():
    """The record and the queued email are one transaction: if queueing raises, nothing
    is recorded and the next run sends it."""
    article = ArticleFactory()
    daily_follow(article)
    new_comment(article)
    with (
        mock.patch.object(follows, "render_to_string", side_effect=RuntimeError),
        pytest.raises(RuntimeError),
    ):
        follows.send_digests()
    assert not DigestSent.objects.exists()
    assert follows.send_digests() == 1


def test_an_unpublished_article_sends_no_digest():
    article = ArticleFactory()
    daily_follow(article)
    new_comment(article)
    Article.objects.filter(pk=article.pk).update(status=Article.Status.DRAFT)
    assert follows.send_digests() == 0
    assert mail.outbox == []


def test_no_new_comments_no_digest_and_the_next_one_lists_only_what_is_new():
    article = ArticleFactory()
    daily_follow(article, confirmed_ago=3 * DAY)
    assert follows.send_digests() == 0
    new_comment(article, body="First news.")
    assert follows.send_digests(now=timezone.now()) == 1
    new_comment(article, ago=timedelta(0), body="Second news.")
    assert follows.send_digests(now=timezone.now() + DAY) == 1
    second = mail.outbox[-1].body
    assert "Second news." in second and "First news." not in second


def test_followers_own_comments_and_other_threads_are_left_out_for_replies_followers():
    article = ArticleFactory()
    daily_follow(article, scope=Follow.Scope.REPLIES, confirmed_ago=3 * DAY)
    mine = new_comment(article, ago=2 * DAY, author_email="fan@example.org")
    new_comment(article, body="Own words.", author_email="FAN@example.org")
    new_comment(article, body="Elsewhere.")
    new_comment(article, body="An answer.", parent=mine)
    assert follows.send_digests() == 1
    body = mail.outbox[0].body
    assert "An answer." in body
    assert "Own words." not in body and "Elsewhere." not in body


def test_instant_followers_get_no_digest():
    article = ArticleFactory()
    follows.save_follow(article=article, email="fan@example.org", scope="all", delivery="instant")
    Follow.objects.update(confirmed_at=timezone.now() - DAY)
    new_comment(article)
    assert follows.send_digests() == 0


def test_the_digests_unsubscribe_link_stops_every_follow_it_lists():
    first, second = ArticleFactory(), ArticleFactory()
    daily_follow(first)
    daily_follow(second)
    other = daily_follow(second, email="other@example.org")
    new_comment(first)
    new_comment(second)
    follows.send_digests()
    message = next(m for m in mail.outbox if m.to == ["fan@example.org"])
    url = message.extra_headers["List-Unsubscribe"].strip("<>")
    path = url.removeprefix("http://127.0.0.1:8000")
    assert Client(enforce_csrf_checks=True).post(path).status_code == 200
    assert list(Follow.objects.all()) == [other]
    assert Client().post(path).status_code == 200  # twice is fine


def test_the_command_reports_the_digests_it_queued():
    article = ArticleFactory()
    daily_follow(article)
    new_comment(article)
    out = StringIO()
    call_command("send_digests", stdout=out)
    assert out.getvalue().strip() == "1 digest(s) queued."
    out = StringIO()
    call_command("send_digests", stdout=out)
    assert out.getvalue().strip() == "0 digest(s) queued."
