"""Following a discussion (comments.follows): double opt-in for anonymous readers, at
once for a signed-in reader's verified address, instant emails with RFC 8058 one-click
unsubscribe, a signed-in reader's page of follows."""

import re
from datetime import timedelta
from unittest import mock

import html5lib
import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from comments import follows, moderation
from comments.models import Comment, Follow
from tests.factories import ArticleFactory, CommentFactory
from tests.test_accounts import make_reader, signed_in

pytestmark = pytest.mark.django_db

URL = re.compile(r"http://\S+")


def parse_html(content):
    return html5lib.parse(content, namespaceHTMLElements=False)


def follow_data(**overrides):
    data = {"email": "fan@example.org", "scope": "all", "delivery": "instant"}
    data.update(overrides)
    return data


def request_follow(client, article, capture, **overrides):
    with capture(execute=True):
        return client.post(
            reverse("comments:follow", args=[article.slug]), follow_data(**overrides)
        )


def link_in(message, name):
    """The first absolute link of ``message`` whose path contains ``name``."""
    return next(url for url in URL.findall(message.body) if name in url)


def path_of(url):
    return url.removeprefix("http://127.0.0.1:8000")


def confirmed_follow(article, email="fan@example.org", **fields):
    return follows.save_follow(
        article=article,
        email=email,
        scope=fields.get("scope", Follow.Scope.ALL),
        delivery=fields.get("delivery", Follow.Delivery.INSTANT),
    )


def approve_new(article, capture, **fields):
    """A comment posted as pending and approved by a moderator, its emails sent."""
    comment = CommentFactory(article=article, status=Comment.Status.PENDING, **fields)
    mail.outbox.clear()
    with capture(execute=True):
        moderation.approve([comment])
    return comment


# --- double opt-in ---------------------------------------------------------------------
def test_anonymous_follow_stores_nothing_until_the_address_is_confirmed(
    article, django_capture_on_commit_callbacks
):
    response = request_follow(Client(), article, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    page = parse_html(response.content)
    assert "fan@example.org" in "".join(page.find(".//*[@class='follow-sent']").itertext())
    assert not Follow.objects.exists()
    [message] = mail.outbox
    assert message.to == ["fan@example.org"]
    assert article.title in message.subject
    confirm_url = link_in(message, "/follow/confirm/")

    # The link shows a button (a link scanner's GET confirms nothing), the POST confirms.
    client = Client()
    assert client.get(path_of(confirm_url)).status_code == 200
    assert not Follow.objects.exists()
    response = client.post(path_of(confirm_url))
    assert response.status_code == 200
    follow = Follow.objects.get()
    assert (follow.article, follow.email, follow.scope, follow.delivery) == (
        article,
        "fan@example.org",
        "all",
        "instant",
    )
    assert follow.confirmed_at is not None


def test_asking_again_and_again_sends_one_confirmation_in_ten_minutes(
    article, django_capture_on_commit_callbacks
):
    first = request_follow(Client(), article, django_capture_on_commit_callbacks)
    again = request_follow(Client(), article, django_capture_on_commit_callbacks)
    assert first.status_code == again.status_code == 200  # the same answer both times
    assert len(mail.outbox) == 1
    other = ArticleFactory()
    request_follow(Client(), other, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 2  # another article: its own confirmation


def test_a_forged_confirmation_link_is_refused(article):
    token = follows.confirm_token(
        article=article, email="fan@example.org", scope="all", delivery="instant"
    )
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = Client().post(reverse("comments:follow-confirm", args=[forged]))
    assert response.status_code == 400
    assert not Follow.objects.exists()


def test_an_expired_confirmation_link_is_refused(article):
    token = follows.confirm_token(
        article=article, email="fan@example.org", scope="all", delivery="instant"
    )
    later = timezone.now() + timedelta(days=8)
    with mock.patch("time.time", return_value=later.timestamp()):
        response = Client().post(reverse("comments:follow-confirm", args=[token]))
    assert response.status_code == 400
    assert not Follow.objects.exists()


def test_confirming_a_follow_of_an_unpublished_article_is_refused(article):
    token = follows.confirm_token(
        article=article, email="fan@example.org", scope="all", delivery="instant"
    )
    Article.objects.filter(pk=article.pk).update(status=Article.Status.DRAFT)
    response = Client().post(reverse("comments:follow-confirm", args=[token]))
    assert response.status_code == 400
    assert not Follow.objects.exists()


def test_a_follow_without_an_address_is_refused_with_the_error(article):
    response = Client().post(reverse("comments:follow", args=[article.slug]), follow_data(email=""))
    assert response.status_code == 400
    page = parse_html(response.content)
    assert page.find(".//*[@id='form-errors']") is not None
    assert mail.outbox == []


def test_a_signed_in_reader_with_a_verified_address_follows_at_once(
    article, django_capture_on_commit_callbacks
):
    reader = make_reader("ada@example.org")
    response = request_follow(
        signed_in(reader), article, django_capture_on_commit_callbacks, email="", scope="replies"
    )
    assert response.status_code == 303
    follow = Follow.objects.get()
    assert (follow.user, follow.email, follow.scope) == (reader, "ada@example.org", "replies")
    assert mail.outbox == []


def test_an_unverified_reader_confirms_by_email(article, django_capture_on_commit_callbacks):
    reader = make_reader("ada@example.org", verified=False)
    response = request_follow(signed_in(reader), article, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert not Follow.objects.exists()
    assert [m.to for m in mail.outbox] == [["ada@example.org"]]


def test_the_article_page_offers_the_follow_form(article):
    page = parse_html(Client().get(article.get_absolute_url()).content)
    form = page.find(".//form[@id='follow-form']")
    assert form.get("action") == reverse("comments:follow", args=[article.slug])
    assert form.find(".//input[@name='email']") is not None
    assert {i.get("value") for i in form.iterfind(".//input[@name='scope']")} == {"all", "replies"}


# --- instant emails and one-click unsubscribe -----------------------------------------
def test_a_new_comment_emails_instant_followers_with_one_click_unsubscribe_headers(
    article, django_capture_on_commit_callbacks
):
    confirmed_follow(article)
    comment = approve_new(article, django_capture_on_commit_callbacks, body="Fresh words.")
    [message] = mail.outbox
    assert message.to == ["fan@example.org"]
    assert article.title in message.subject
    assert "Fresh words." in message.body
    assert f"http://127.0.0.1:8000{comment.get_absolute_url()}" in message.body
    link = link_in(message, "/follow/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    raw = message.message().as_string()
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw


def test_a_comment_posted_and_approved_at_once_emails_followers(
    article, comment_data, django_capture_on_commit_callbacks
):
    confirmed_follow(article)
    CommentFactory(article=article, author_email="ada@example.org")  # previously approved
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(reverse("comments:post", args=[article.slug]), comment_data())
    assert response.status_code == 303
    assert [m.to for m in mail.outbox] == [["fan@example.org"]]


def test_one_click_unsubscribe_by_post_without_csrf_works_twice(
    article, django_capture_on_commit_callbacks
):
    confirmed_follow(article)
    approve_new(article, django_capture_on_commit_callbacks)
    link = path_of(link_in(mail.outbox[0], "/follow/unsubscribe/"))
    client = Client(enforce_csrf_checks=True)
    first = client.post(link, {"List-Unsubscribe": "One-Click"})
    assert first.status_code == 200
    assert not Follow.objects.exists()
    second = client.post(link, {"List-Unsubscribe": "One-Click"})
    assert second.status_code == 200
    assert Client().get(link).status_code == 200  # the link in the text, clicked again

    approve_new(article, django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_a_forged_unsubscribe_link_is_refused(article):
    follow = confirmed_follow(article)
    token = follows.unsubscribe_token(follow)
    response = Client().get(reverse("comments:follow-unsubscribe", args=[token + "x"]))
    assert response.status_code == 404
    assert Follow.objects.exists()


def test_a_followers_own_comment_does_not_email_them(article, django_capture_on_commit_callbacks):
    confirmed_follow(article)
    approve_new(article, django_capture_on_commit_callbacks, author_email="Fan@Example.org")
    assert mail.outbox == []


def test_an_unpublished_article_emails_nobody(article, django_capture_on_commit_callbacks):
    confirmed_follow(article)
    Article.objects.filter(pk=article.pk).update(status=Article.Status.DRAFT)
    approve_new(article, django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_daily_followers_get_no_instant_email(article, django_capture_on_commit_callbacks):
    confirmed_follow(article, delivery=Follow.Delivery.DAILY)
    approve_new(article, django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_replies_followers_hear_only_of_replies_to_their_comments(
    article, django_capture_on_commit_callbacks
):
    confirmed_follow(article, scope=Follow.Scope.REPLIES)
    mine = CommentFactory(article=article, author_email="fan@example.org")
    approve_new(article, django_capture_on_commit_callbacks)  # a new thread: not for them
    assert mail.outbox == []
    approve_new(article, django_capture_on_commit_callbacks, parent=mine, body="An answer.")
    [message] = mail.outbox
    assert message.to == ["fan@example.org"]
    assert "replied to your comment" in message.body
    assert "List-Unsubscribe" in message.extra_headers


def test_a_reply_already_notified_by_notify_replies_is_not_sent_twice(
    article, django_capture_on_commit_callbacks
):
    confirmed_follow(article)
    mine = CommentFactory(article=article, author_email="fan@example.org", notify_replies=True)
    approve_new(article, django_capture_on_commit_callbacks, parent=mine)
    assert [m.to for m in mail.outbox] == [["fan@example.org"]]


def test_unconfirmed_follows_get_nothing(article, django_capture_on_commit_callbacks):
    Follow.objects.create(article=article, email="fan@example.org")
    approve_new(article, django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_an_address_follows_an_article_once(article):
    confirmed_follow(article, scope=Follow.Scope.ALL)
    confirmed_follow(article, email="FAN@example.org ", scope=Follow.Scope.REPLIES)
    assert list(Follow.objects.values_list("email", "scope")) == [("fan@example.org", "replies")]


# --- a signed-in reader's page ---------------------------------------------------------
def test_the_follows_page_needs_a_sign_in():
    response = Client().get(reverse("comments:follows"))
    assert response.status_code == 302


def test_a_reader_sees_changes_and_stops_their_follows_only(article):
    reader = make_reader("ada@example.org")
    other = ArticleFactory(title="Another story")
    mine = follows.save_follow(
        article=article, email="ada@example.org", scope="all", delivery="instant", user=reader
    )
    by_email = confirmed_follow(other, email="ada@example.org")
    someone_elses = confirmed_follow(other, email="bob@example.org")
    client = signed_in(reader)
    page = parse_html(client.get(reverse("comments:follows")).content)
    items = {li.get("id") for li in page.iterfind(".//li[@class='follow-item']")}
    assert items == {f"follow-{mine.pk}", f"follow-{by_email.pk}"}

    url = reverse("comments:follows")
    data = {"follow": mine.pk, "scope": "replies", "delivery": "daily", "action": "change"}
    assert client.post(url, data).status_code == 303
    mine.refresh_from_db()
    assert (mine.scope, mine.delivery) == ("replies", "daily")

    client.post(url, {"follow": someone_elses.pk, "action": "unfollow"})
    assert Follow.objects.filter(pk=someone_elses.pk).exists()
    client.post(url, {"follow": by_email.pk, "action": "unfollow"})
    assert not Follow.objects.filter(pk=by_email.pk).exists()


def test_signing_keys_separate_confirmation_and_unsubscribe_tokens(article):
    """An unsubscribe token cannot confirm a follow and the other way round."""
    follow = confirmed_follow(article)
    token = follows.unsubscribe_token(follow)
    assert follows.read_confirm_token(token) is None
    confirm = follows.confirm_token(
        article=article, email="x@example.org", scope="all", delivery="daily"
    )
    assert follows.read_unsubscribe_token(confirm) is None
    with pytest.raises(signing.BadSignature):
        signing.loads(token, salt=follows.CONFIRM_SALT)


# --- the personal Atom feed of replies -------------------------------------------------
ATOM = "{http://www.w3.org/2005/Atom}"


def feed_entries(response):
    from defusedxml import ElementTree

    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    return [entry.find(f"{ATOM}title").text for entry in root.iter(f"{ATOM}entry")]


def test_the_reply_feed_lists_others_replies_to_the_readers_comments(article):
    reader = make_reader("ada@example.org")
    mine = CommentFactory(article=article, user=reader, author_name="Ada Reader")
    CommentFactory(parent=mine, author_name="Bob")
    CommentFactory(parent=mine, author_name="Ada Reader", user=reader)  # her own
    CommentFactory(parent=mine, author_name="Pending", status=Comment.Status.PENDING)
    someone_else = CommentFactory(article=article, author_name="Cy")
    CommentFactory(parent=someone_else, author_name="Dee")
    key = follows.feed_key(reader, create=True)
    response = Client().get(reverse("comments:replies-feed", args=[key]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert feed_entries(response) == [f"Bob replied on “{article.title}”"]


def test_a_renewed_or_revoked_feed_address_stops_working(article):
    reader = make_reader("ada@example.org")
    client = signed_in(reader)
    url = reverse("comments:follows")
    client.post(url, {"action": "feed-new"})
    old = follows.feed_key(reader)
    page = parse_html(client.get(url).content)
    shown = page.find(".//input[@id='feed-url']").get("value")
    assert shown.endswith(reverse("comments:replies-feed", args=[old]))
    assert Client().get(reverse("comments:replies-feed", args=[old])).status_code == 200

    client.post(url, {"action": "feed-new"})
    new = follows.feed_key(reader)
    assert new != old
    assert Client().get(reverse("comments:replies-feed", args=[old])).status_code == 404
    assert Client().get(reverse("comments:replies-feed", args=[new])).status_code == 200

    client.post(url, {"action": "feed-off"})
    assert Client().get(reverse("comments:replies-feed", args=[new])).status_code == 404


def test_a_guessed_feed_address_is_refused():
    assert Client().get(reverse("comments:replies-feed", args=["guess"])).status_code == 404


# --- the moderators' email preview ----------------------------------------------------
def test_moderators_preview_every_email_with_its_headers(superuser):
    client = Client()
    client.force_login(superuser)
    changelist = parse_html(client.get(reverse("admin:comments_follow_changelist")).content)
    preview_url = reverse("admin:comments_email_preview")
    assert any(a.get("href") == preview_url for a in changelist.iter("a"))
    response = client.get(preview_url)
    assert response.status_code == 200
    page = parse_html(response.content)
    names = [h.text for h in page.iterfind(".//section[@class='email-preview']/h2")]
    for name in ("follow_confirm.txt", "follow_comment.txt (is_mention)", "digest.txt"):
        assert name in names
    assert "reply_notification.txt" in names
    digest = next(
        s
        for s in page.iterfind(".//section[@class='email-preview']")
        if s.find("h2").text == "digest.txt"
    )
    assert "List-Unsubscribe=One-Click" in "".join(digest.itertext())
    assert "2 new comments" in digest.find("pre").text
    assert mail.outbox == []
    assert not Follow.objects.exists()


def test_the_email_preview_is_refused_to_staff_without_moderation_rights(staff_user):
    client = Client()
    client.force_login(staff_user)
    assert client.get(reverse("admin:comments_email_preview")).status_code == 403
    assert Client().get(reverse("admin:comments_email_preview")).status_code == 302


# --- the Follow choice on the comment form ----------------------------------------------
def test_a_guest_who_follows_from_the_comment_form_confirms_by_email(
    article, comment_data, django_capture_on_commit_callbacks
):
    CommentFactory(article=article, author_email="ada@example.org")  # previously approved
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            reverse("comments:post", args=[article.slug]), comment_data(follow="replies")
        )
    assert response.status_code == 303
    assert not Follow.objects.exists()
    [message] = [m for m in mail.outbox if "/follow/confirm/" in m.body]
    assert message.to == ["ada@example.org"]
    Client().post(path_of(link_in(message, "/follow/confirm/")))
    follow = Follow.objects.get()
    assert (follow.email, follow.scope, follow.delivery) == (
        "ada@example.org",
        "replies",
        "instant",
    )


def test_a_comment_without_the_follow_choice_follows_nothing(
    article, comment_data, django_capture_on_commit_callbacks
):
    CommentFactory(article=article, author_email="ada@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(reverse("comments:post", args=[article.slug]), comment_data())
    assert not Follow.objects.exists()
    assert not [m for m in mail.outbox if "/follow/confirm/" in m.body]
