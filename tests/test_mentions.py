"""@Name mentions (comments.mentions): a link to the commenter's comment in the same
thread, and an email when they follow replies."""

import html5lib
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from comments import follows, mentions, moderation
from comments.models import Comment, Follow
from tests.factories import ArticleFactory, CommentFactory

pytestmark = pytest.mark.django_db


def links_of(comment):
    doc = html5lib.parse(comment.body_html, namespaceHTMLElements=False)
    return [(a.get("href"), a.text) for a in doc.iter("a") if "mention" in (a.get("class") or "")]


@pytest.fixture
def thread():
    article = ArticleFactory()
    first = CommentFactory(article=article, author_name="Ada Lovelace", author_email="ada@x.org")
    second = CommentFactory(parent=first, author_name="Ada", author_email="short@x.org")
    return article, first, second


def test_a_mention_of_a_commenter_in_the_thread_links_to_their_comment(thread):
    article, first, second = thread
    reply = CommentFactory(parent=second, body="Thanks @ada lovelace, and @Ada too.")
    assert links_of(reply) == [
        (reverse("comments:permalink", args=[first.pk]), "@ada lovelace"),
        (reverse("comments:permalink", args=[second.pk]), "@Ada"),
    ]
    assert mentions.mentioned_ids(reply) == [first.pk, second.pk]


def test_a_name_from_another_thread_or_unknown_is_left_as_text(thread):
    article, first, second = thread
    elsewhere = CommentFactory(article=article, author_name="Grace")
    reply = CommentFactory(parent=second, body="@Grace @Nobody @Adamant")
    assert links_of(reply) == []
    assert "@Grace" in reply.body_html
    assert elsewhere.pk not in mentions.mentioned_ids(reply)


def test_a_pending_commenter_is_not_linked(thread):
    article, first, second = thread
    CommentFactory(parent=first, author_name="Hidden", status=Comment.Status.PENDING)
    reply = CommentFactory(parent=first, body="@Hidden hello")
    assert links_of(reply) == []


def test_a_mention_inside_a_link_or_an_address_is_not_linked(thread):
    article, first, second = thread
    html = mentions.link_mentions(
        '<p><a href="http://x">@Ada</a> mail@Ada.example</p>', {"Ada": second.pk}
    )
    assert 'class="mention"' not in html
    assert html == '<p><a href="http://x">@Ada</a> mail@Ada.example</p>'


def test_a_name_with_markup_characters_is_matched_escaped():
    article = ArticleFactory()
    first = CommentFactory(article=article, author_name="O'Brien <3")
    reply = CommentFactory(parent=first, body="Hi @O'Brien <3!")
    assert links_of(reply) == [(reverse("comments:permalink", args=[first.pk]), "@O'Brien <3")]


def test_a_mentioned_follower_of_replies_is_emailed(thread, django_capture_on_commit_callbacks):
    article, first, second = thread
    follows.save_follow(
        article=article, email="ada@x.org", scope=Follow.Scope.REPLIES, delivery="instant"
    )
    reply = CommentFactory(
        parent=second, body="As @Ada Lovelace said.", status=Comment.Status.PENDING
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        moderation.approve([reply])
    [message] = mail.outbox
    assert message.to == ["ada@x.org"]
    assert "mentioned you" in message.body
    assert "List-Unsubscribe" in message.extra_headers


def test_a_mentioned_commenter_who_asked_for_replies_is_emailed_once(
    django_capture_on_commit_callbacks,
):
    article = ArticleFactory()
    first = CommentFactory(
        article=article, author_name="Bea", author_email="bea@x.org", notify_replies=True
    )
    middle = CommentFactory(parent=first, author_name="Cy", author_email="cy@x.org")
    reply = CommentFactory(parent=middle, body="@Bea look", status=Comment.Status.PENDING)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        moderation.approve([reply])
    [message] = mail.outbox
    assert message.to == ["bea@x.org"]
    link = message.extra_headers["List-Unsubscribe"].strip("<>")
    Client().post(link.removeprefix("http://127.0.0.1:8000"))
    first.refresh_from_db()
    assert not first.notify_replies


def test_a_mention_of_someone_not_following_sends_nothing(
    thread, django_capture_on_commit_callbacks
):
    article, first, second = thread
    reply = CommentFactory(parent=second, body="@Ada hi", status=Comment.Status.PENDING)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        moderation.approve([reply])
    assert mail.outbox == []


def test_a_body_without_an_at_sign_costs_no_query(thread, django_assert_num_queries):
    article, first, second = thread
    comment = Comment(article=article, parent=second, body="Plain words.")
    with django_assert_num_queries(0):
        html = mentions.render_mentions(comment, "<p>Plain words.</p>")
    assert html == "<p>Plain words.</p>"
