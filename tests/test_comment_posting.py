"""Posting and replying: happy paths, every bad input, closed comments, edit and withdraw."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from comments.models import Comment, CommentRevision
from tests.factories import ArticleFactory, CommentFactory, StaffFactory, UserFactory
from tests.html import NS, classes, comments_section, parse, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_flood(settings):
    settings.COMMENTS_FLOOD_SECONDS = 0


def post_url(article):
    return reverse("comments:post", args=[article.slug])


def field_error(response, name):
    doc = parse(response)
    error = doc.find(f".//h:span[@id='id_{name}_error']", NS)
    if error is None:
        error = doc.find(f".//h:p[@id='id_{name}_error']", NS)
    return text_of(error) if error is not None else None


def form_value(response, name):
    form = parse(response).find(".//h:form[@id='comment-form']", NS)
    if name == "body":
        return "".join(form.find(".//h:textarea[@name='body']", NS).itertext())
    return form.find(f".//h:input[@name='{name}']", NS).get("value")


# --- happy paths ----------------------------------------------------------------------
def test_new_thread_redirects_303_to_the_comment(client, article, comment_data):
    response = client.post(post_url(article), comment_data())
    comment = Comment.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"{article.get_absolute_url()}#comment-{comment.pk}"
    assert comment.parent is None and comment.level == 0
    assert comment.status == Comment.Status.PENDING  # first comment from this email is held


def test_poster_sees_their_pending_comment_and_nobody_else_does(client, article, comment_data):
    client.post(post_url(article), comment_data(body="Mine, awaiting."))
    comment = Comment.objects.get()
    mine = parse(client.get(article.get_absolute_url()))
    item = mine.find(f".//h:li[@id='comment-{comment.pk}']", NS)
    assert "Your comment is awaiting moderation." in text_of(item)
    assert item.find(".//h:a[@class='comment-reply-link']", NS) is None  # no replies to pending
    from django.test import Client

    other = parse(Client().get(article.get_absolute_url()))
    assert other.find(f".//h:li[@id='comment-{comment.pk}']", NS) is None
    assert comments_section(other).get("data-comment-count") == "0"


def test_reply_and_reply_to_a_reply_are_nested(client, article, comment_data):
    root = CommentFactory(article=article, author_email="ada@example.org")  # approved before
    client.post(post_url(article), comment_data(parent=str(root.pk), body="first reply"))
    reply = Comment.objects.get(body="first reply")
    assert reply.status == Comment.Status.APPROVED  # same email approved before
    client.post(post_url(article), comment_data(parent=str(reply.pk), body="deeper"))
    deeper = Comment.objects.get(body="deeper")
    assert deeper.parent == reply and deeper.level == 2 and deeper.tree_id == root.tree_id
    doc = parse(client.get(article.get_absolute_url()))
    li = doc.find(f".//h:li[@id='comment-{deeper.pk}']", NS)
    assert "depth-3" in classes(li)


def test_reply_is_inserted_as_the_last_child(client, article, comment_data):
    root = CommentFactory(article=article, author_email="ada@example.org")
    older = CommentFactory(parent=root)
    client.post(post_url(article), comment_data(parent=str(root.pk), body="newest"))
    root.refresh_from_db()
    assert [c.pk for c in root.get_children()] == [older.pk, Comment.objects.get(body="newest").pk]


def test_staff_comment_is_approved_and_needs_no_name_or_email(client, article, comment_data):
    staff = StaffFactory(first_name="Eda", last_name="Tor")
    client.force_login(staff)
    response = client.post(post_url(article), comment_data(name="", email=""))
    assert response.status_code == 303
    comment = Comment.objects.get()
    assert comment.status == Comment.Status.APPROVED
    assert comment.user == staff and comment.author_name == "Eda Tor"


def test_logged_in_reader_does_not_retype_name_and_email(client, article):
    user = UserFactory()
    client.force_login(user)
    form = parse(client.get(article.get_absolute_url())).find(".//h:form[@id='comment-form']", NS)
    # The account says who they are: no name, email or website fields at all.
    for name in ("name", "email", "url", "remember"):
        assert form.find(f".//h:input[@name='{name}']", NS) is None


def test_unicode_is_stored_and_shown_exactly(client, article, comment_data, settings):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    text = "Emoji 🎉👩🏽‍💻, עברית מימין לשמאל, combining e\u0301 and Å"
    name = "Zoë 名前 ‮RTL"
    client.post(post_url(article), comment_data(body=text, name=name))
    comment = Comment.objects.get()
    assert comment.body == text and comment.author_name == name
    doc = parse(client.get(article.get_absolute_url()))
    body = doc.find(".//h:div[@class='comment-content']", NS)
    assert "".join(body.itertext()) == text


def test_remember_me_cookie_prefills_the_form(client, article, comment_data):
    client.post(post_url(article), comment_data(remember="on", url="https://ada.example"))
    response = client.get(article.get_absolute_url())
    assert form_value(response, "name") == "Ada Reader"
    assert form_value(response, "email") == "ada@example.org"
    assert form_value(response, "url") == "https://ada.example"


def test_without_remember_me_nothing_is_prefilled(client, article, comment_data):
    client.post(post_url(article), comment_data())
    assert form_value(client.get(article.get_absolute_url()), "name") is None


# --- bad input: 400 with the reader's text and a message at the field ---------------------
BAD_INPUTS = [
    ({"name": ""}, "name"),
    ({"email": ""}, "email"),
    ({"body": ""}, "body"),
    ({"body": "   \n\t  "}, "body"),
    ({"body": "x" * 5001}, "body"),
    ({"name": "n" * 101}, "name"),
    ({"email": "not-an-email"}, "email"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"url": "data:text/html,hi"}, "url"),
    ({"url": "ftp://files.example"}, "url"),
    ({"parent": "abc"}, "parent"),
    ({"parent": "999999"}, "parent"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_INPUTS)
def test_bad_input_is_refused_with_the_text_kept(client, article, comment_data, overrides, field):
    data = comment_data(body="My carefully written comment.", **{})
    data.update(overrides)
    response = client.post(post_url(article), data)
    assert response.status_code == 400
    assert field_error(response, field)
    if field != "body":
        assert form_value(response, "body").strip() == data["body"].strip()
    if field != "name":
        assert form_value(response, "name") == data["name"]
    assert not Comment.objects.exists()


def test_reply_to_a_comment_of_another_article_is_refused(client, article, comment_data):
    elsewhere = CommentFactory(article=ArticleFactory())
    response = client.post(post_url(article), comment_data(parent=str(elsewhere.pk)))
    assert response.status_code == 400
    assert "another article" in field_error(response, "parent")
    assert Comment.objects.count() == 1


@pytest.mark.parametrize(
    "status", [Comment.Status.PENDING, Comment.Status.SPAM, Comment.Status.REMOVED]
)
def test_reply_to_a_non_public_comment_is_refused(client, article, comment_data, status):
    hidden = CommentFactory(article=article, status=status)
    response = client.post(post_url(article), comment_data(parent=str(hidden.pk)))
    assert response.status_code == 400
    assert field_error(response, "parent")


def test_control_characters_are_stripped_never_stored(client, article, comment_data):
    client.post(post_url(article), comment_data(body="null\x00byte and bell\x07", name="Bo\x00b"))
    comment = Comment.objects.get()
    assert comment.body == "nullbyte and bell" and comment.author_name == "Bob"


def test_a_body_of_only_control_characters_counts_as_empty(client, article, comment_data):
    response = client.post(post_url(article), comment_data(body="\x00\x01\x02"))
    assert response.status_code == 400 and field_error(response, "body")


@pytest.mark.parametrize(
    "make_article",
    [
        lambda: ArticleFactory(status=Article.Status.DRAFT),
        lambda: ArticleFactory(published_at=timezone.now() + timedelta(days=1)),
    ],
)
def test_posting_to_a_draft_or_scheduled_article_is_404(client, comment_data, make_article):
    article = make_article()
    assert client.post(post_url(article), comment_data()).status_code == 404
    assert not Comment.objects.exists()


def test_posting_to_an_unknown_article_is_404(client, db, comment_data):
    response = client.post(reverse("comments:post", args=["no-such-article"]), comment_data())
    assert response.status_code == 404


def test_closed_article_refuses_posts_with_403_and_keeps_the_text(client, comment_data):
    article = ArticleFactory(comments_open=False)
    response = client.post(post_url(article), comment_data(body="Too late?"))
    assert response.status_code == 403
    assert "Comments are closed." in response.content.decode()
    assert "Too late?" in response.content.decode()
    assert not Comment.objects.exists()


def test_get_on_the_post_url_redirects_to_the_form(client, article):
    """A reload or Back on a refused post's address shows the form, never a 405."""
    response = client.get(post_url(article))
    assert response.status_code == 302
    assert response["Location"] == f"{article.get_absolute_url()}#respond"


def test_name_and_email_are_preserved_on_an_empty_body(client, article, comment_data):
    response = client.post(post_url(article), comment_data(body=""))
    assert form_value(response, "email") == "ada@example.org"
    assert field_error(response, "body") == "Please write a comment."


# --- edit and withdraw ----------------------------------------------------------------------
def posted_comment(client, article, comment_data, **overrides):
    client.post(post_url(article), comment_data(**overrides))
    return Comment.objects.latest("pk")


def test_poster_can_edit_within_the_window_and_the_old_text_is_kept(client, article, comment_data):
    comment = posted_comment(client, article, comment_data, body="Original")
    response = client.post(reverse("comments:edit", args=[comment.pk]), {"body": "Improved"})
    assert response.status_code == 303
    comment.refresh_from_db()
    assert comment.body == "Improved" and comment.edited_at is not None
    assert list(CommentRevision.objects.values_list("body", flat=True)) == ["Original"]


def test_edited_comment_is_marked_edited(client, article, comment_data, settings):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    comment = posted_comment(client, article, comment_data, body="Original")
    client.post(reverse("comments:edit", args=[comment.pk]), {"body": "Improved"})
    from django.test import Client

    doc = parse(Client().get(article.get_absolute_url()))
    item = doc.find(f".//h:li[@id='comment-{comment.pk}']", NS)
    assert item.find(".//h:span[@class='comment-edited']", NS) is not None


def test_editing_after_the_window_is_refused(client, article, comment_data):
    comment = posted_comment(client, article, comment_data, body="Original")
    Comment.objects.filter(pk=comment.pk).update(created_at=timezone.now() - timedelta(minutes=16))
    client.post(reverse("comments:edit", args=[comment.pk]), {"body": "Too late"})
    comment.refresh_from_db()
    assert comment.body == "Original"


def test_someone_else_cannot_edit_or_withdraw(client, article, comment_data):
    comment = CommentFactory(article=article)
    assert (
        client.post(reverse("comments:edit", args=[comment.pk]), {"body": "x"}).status_code == 404
    )
    assert client.post(reverse("comments:withdraw", args=[comment.pk])).status_code == 404
    comment.refresh_from_db()
    assert comment.status == Comment.Status.APPROVED


def test_withdraw_removes_the_comment_and_keeps_replies_under_a_placeholder(
    client, article, comment_data, settings
):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    comment = posted_comment(client, article, comment_data, body="I regret this")
    reply = CommentFactory(parent=comment)
    response = client.post(reverse("comments:withdraw", args=[comment.pk]))
    assert response.status_code == 303
    comment.refresh_from_db()
    assert comment.status == Comment.Status.REMOVED
    from django.test import Client

    doc = parse(Client().get(article.get_absolute_url()))
    placeholder = doc.find(f".//h:li[@id='comment-{comment.pk}']", NS)
    assert "placeholder" in classes(placeholder)
    assert doc.find(f".//h:li[@id='comment-{reply.pk}']", NS) is not None


def test_one_click_unsubscribe_post_from_a_mail_client_needs_no_csrf_token(db):
    from django.test import Client

    from comments.notifications import unsubscribe_token

    comment = CommentFactory(notify_replies=True)
    url = reverse("comments:unsubscribe", args=[unsubscribe_token(comment)])
    response = Client(enforce_csrf_checks=True).post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    comment.refresh_from_db()
    assert comment.notify_replies is False


def test_a_forged_unsubscribe_token_is_404(client, db):
    comment = CommentFactory(notify_replies=True)
    response = client.get(reverse("comments:unsubscribe", args=[f"{comment.pk}:forged"]))
    assert response.status_code == 404
    comment.refresh_from_db()
    assert comment.notify_replies is True
