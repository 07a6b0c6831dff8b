"""Removing a comment states its reason: asked for in the admin (bulk action and button),
shown to readers in the comment's place, emailed to the commenter with a link to appeal."""

import re

import html5lib
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from comments import appeals, moderation, posting
from comments.models import Comment, RemovalReason
from tests.factories import CommentFactory, StaffFactory
from tests.html import NS, parse, text_of

pytestmark = pytest.mark.django_db

Status = Comment.Status
CHANGELIST = "admin:comments_comment_changelist"


def admin_parse(response):
    return html5lib.parse(response.content, treebuilder="etree", namespaceHTMLElements=False)


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def moderate_url(comment, action="remove"):
    return reverse("admin:comments_comment_moderate", args=[comment.pk, action])


@pytest.fixture
def moderator():
    user = StaffFactory(username="mod", email="mod@example.com")
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def moderator_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


def placeholder_text(client, comment, **headers):
    response = client.get(comment.article.get_absolute_url(), **headers)
    assert response.status_code == 200
    item = parse(response).find(f".//h:li[@id='comment-{comment.pk}']", NS)
    return text_of(item.find("h:div[@class='comment-body']", NS))


# --- the domain function ----------------------------------------------------------------
def test_remove_with_a_reason_stores_it_and_logs_the_statement(moderator):
    comment = CommentFactory()
    assert moderation.remove(
        [comment], by=moderator, removal_reason=RemovalReason.ABUSE, removal_note=" Insults. "
    )
    comment.refresh_from_db()
    assert (comment.status, comment.removal_reason, comment.removal_note) == (
        Status.REMOVED,
        "abuse",
        "Insults.",
    )
    entry = LogEntry.objects.get(object_id=str(comment.pk))
    assert entry.user == moderator
    assert "statement of reasons: abuse — Insults." in entry.change_message


def test_remove_for_another_reason_needs_the_moderators_words(moderator):
    comment = CommentFactory()
    with pytest.raises(ValidationError) as refused:
        moderation.remove([comment], by=moderator, removal_reason="other", removal_note="  ")
    assert refused.value.code == "removal_note_required"
    comment.refresh_from_db()
    assert comment.status == Status.APPROVED


def test_remove_refuses_an_unknown_reason(moderator):
    comment = CommentFactory()
    with pytest.raises(ValidationError):
        moderation.remove([comment], by=moderator, removal_reason="boring")
    assert Comment.objects.get(pk=comment.pk).status == Status.APPROVED


def test_remove_keeps_its_old_call_form_without_a_statement_or_email(
    moderator, django_capture_on_commit_callbacks
):
    comment = CommentFactory()
    with django_capture_on_commit_callbacks(execute=True):
        assert moderation.remove([comment], by=moderator, reason="off topic") == 1
    comment.refresh_from_db()
    assert (comment.status, comment.removal_reason, comment.moderation_reason) == (
        Status.REMOVED,
        "",
        "off topic",
    )
    assert mail.outbox == []


@pytest.mark.parametrize("action", [moderation.approve, moderation.restore, moderation.mark_spam])
def test_leaving_removed_clears_the_statement_of_reasons(moderator, action):
    """Only a removed comment carries a statement: approving, restoring or marking it as
    spam clears it, so a later placeholder never names an old reason."""
    comment = CommentFactory()
    moderation.remove([comment], by=moderator, removal_reason="other", removal_note="Why.")
    action([comment], by=moderator)
    comment.refresh_from_db()
    assert (comment.removal_reason, comment.removal_note) == ("", "")


# --- the public placeholder -----------------------------------------------------------
def test_placeholder_names_the_moderators_reason(client, moderator):
    removed = CommentFactory(body="Secret words.")
    CommentFactory(parent=removed)
    moderation.remove([removed], by=moderator, removal_reason="off_topic")
    text = placeholder_text(client, removed)
    assert text == "Removed by a moderator: off-topic."


def test_placeholder_for_another_reason_keeps_the_moderators_words_private(client, moderator):
    removed = CommentFactory()
    CommentFactory(parent=removed)
    moderation.remove(
        [removed], by=moderator, removal_reason="other", removal_note="Names a private person."
    )
    assert placeholder_text(client, removed) == "Removed by a moderator."


def test_placeholder_is_in_the_readers_language(client, moderator):
    removed = CommentFactory()
    CommentFactory(parent=removed)
    moderation.remove([removed], by=moderator, removal_reason="personal_data")
    with translation.override("de"):
        expected = translation.gettext("Removed by a moderator: %(reason)s.") % {
            "reason": translation.gettext("personal data")
        }
    assert placeholder_text(client, removed, HTTP_ACCEPT_LANGUAGE="de") == expected
    assert placeholder_text(client, removed) == "Removed by a moderator: personal data."


def test_withdrawn_comment_still_reads_removed_without_a_reason(client):
    """The author's withdrawal gives no reason: no moderator is named, nobody is emailed."""
    withdrawn = CommentFactory()
    CommentFactory(parent=withdrawn)
    posting.withdraw_comment(withdrawn)
    withdrawn.refresh_from_db()
    assert (withdrawn.status, withdrawn.removal_reason) == (Status.REMOVED, "")
    assert placeholder_text(client, withdrawn) == "This comment was removed."


def test_cached_page_shows_the_reason_once_removed(client, moderator):
    comment = CommentFactory(body="Visible for now.")
    CommentFactory(parent=comment)
    url = comment.article.get_absolute_url()
    assert "Visible for now." in client.get(url).content.decode()  # cached now
    moderation.remove([comment], by=moderator, removal_reason="spam")
    page = client.get(url).content.decode()
    assert "Visible for now." not in page
    assert "Removed by a moderator: spam." in page


def test_cached_placeholder_changes_with_a_later_reasoned_removal(client, moderator):
    """A withdrawn comment restored and removed again by a moderator: its placeholder
    follows each change, as any status change invalidates the page."""
    comment = CommentFactory()
    CommentFactory(parent=comment)
    posting.withdraw_comment(comment)
    assert placeholder_text(client, comment) == "This comment was removed."
    moderation.restore([comment], by=moderator)
    moderation.remove([comment], by=moderator, removal_reason="illegal")
    assert placeholder_text(client, comment) == "Removed by a moderator: illegal content."


# --- the email to the commenter ---------------------------------------------------------
def test_commenter_is_emailed_the_reason_a_copy_and_a_link_to_appeal(
    moderator, django_capture_on_commit_callbacks, client
):
    comment = CommentFactory(
        author_name="Rita", author_email="rita@example.org", body="My original\ntext."
    )
    with django_capture_on_commit_callbacks(execute=True):
        moderation.remove(
            [comment], by=moderator, removal_reason="other", removal_note="Quotes a leak."
        )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rita@example.org"]
    assert comment.article.title in message.subject
    assert "Hello Rita," in message.body
    assert "Reason: other" in message.body
    assert "The moderator explains: Quotes a leak." in message.body
    assert "My original\ntext." in message.body
    link = re.search(r"http://\S+/comments/appeal/(\S+)/", message.body)
    assert link is not None
    assert appeals.comment_id_for_token(link.group(1)) == comment.pk
    assert client.get(link.group(0).removeprefix("http://testserver")).status_code == 200


def test_each_commenter_of_a_bulk_removal_gets_their_own_email(
    moderator, django_capture_on_commit_callbacks
):
    comments = [CommentFactory(author_email=f"c{n}@example.org") for n in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        moderation.remove(comments, by=moderator, removal_reason="spam")
    assert sorted(m.to[0] for m in mail.outbox) == [f"c{n}@example.org" for n in range(3)]
    assert all("Reason: spam" in m.body for m in mail.outbox)


def test_withdrawal_emails_nobody(django_capture_on_commit_callbacks):
    comment = CommentFactory()
    with django_capture_on_commit_callbacks(execute=True):
        posting.withdraw_comment(comment)
    assert mail.outbox == []


# --- the admin: the bulk action asks first -----------------------------------------------
def post_remove_action(client, comments, **extra):
    return client.post(
        reverse(CHANGELIST) + "?status=all",
        {"action": "remove_selected", "_selected_action": [c.pk for c in comments], **extra},
    )


def test_bulk_remove_asks_for_the_reason_and_removes_nothing_yet(moderator_client):
    comments = [CommentFactory(body=f"Listed comment {n}.") for n in range(2)]
    response = post_remove_action(moderator_client, comments)
    assert response.status_code == 200
    page = admin_parse(response)
    form = page.find(".//form[@class='comment-remove-reason-form']")
    assert form.get("action") == reverse(CHANGELIST) + "?status=all"
    assert "Listed comment 0." in text_of(page.find(".//ul[@class='comment-remove-list']"))
    reasons = [o.get("value") for o in form.iter("option")]
    assert reasons == ["", *RemovalReason.values]
    hidden = {
        (i.get("name"), i.get("value")) for i in form.iter("input") if i.get("type") == "hidden"
    }
    assert ("action", "remove_selected") in hidden
    assert {("_selected_action", str(c.pk)) for c in comments} <= hidden
    assert Comment.objects.filter(status=Status.REMOVED).count() == 0


def test_bulk_remove_sent_without_a_reason_shows_the_form_again_with_a_message(
    moderator_client,
):
    comment = CommentFactory()
    response = post_remove_action(moderator_client, [comment], apply_removal="1")
    assert response.status_code == 200
    assert "Nothing was removed: give the reason first." in messages_of(response)
    errors = admin_parse(response).find(".//form[@class='comment-remove-reason-form']//ul")
    assert "Choose the reason for removing." in text_of(errors)
    assert Comment.objects.get(pk=comment.pk).status == Status.APPROVED


def test_bulk_remove_for_another_reason_without_words_is_refused(moderator_client):
    comment = CommentFactory()
    response = post_remove_action(
        moderator_client, [comment], apply_removal="1", removal_reason="other"
    )
    assert response.status_code == 200
    assert "Explain the reason: the commenter is told it." in response.content.decode()
    assert Comment.objects.get(pk=comment.pk).status == Status.APPROVED


def test_bulk_remove_with_a_reason_removes_with_its_statement(
    moderator_client, moderator, django_capture_on_commit_callbacks
):
    comments = [CommentFactory() for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_remove_action(
            moderator_client, comments, apply_removal="1", removal_reason="abuse"
        )
    assert response.status_code == 302
    for comment in comments:
        comment.refresh_from_db()
        assert (comment.status, comment.removal_reason, comment.moderated_by) == (
            Status.REMOVED,
            "abuse",
            moderator,
        )
    assert len(mail.outbox) == 2


def test_bulk_remove_of_everything_filtered_keeps_select_across(moderator_client):
    comments = [CommentFactory() for _ in range(3)]
    response = post_remove_action(moderator_client, comments[:1], select_across="1")
    hidden = {
        (i.get("name"), i.get("value"))
        for i in admin_parse(response).iter("input")
        if i.get("type") == "hidden"
    }
    assert ("select_across", "1") in hidden
    response = post_remove_action(
        moderator_client,
        comments[:1],
        select_across="1",
        apply_removal="1",
        removal_reason="spam",
    )
    assert Comment.objects.filter(status=Status.REMOVED).count() == 3


# --- the admin: the change page's button --------------------------------------------------
def test_change_page_remove_button_carries_the_reason(moderator_client):
    comment = CommentFactory()
    response = moderator_client.get(reverse("admin:comments_comment_change", args=[comment.pk]))
    form = admin_parse(response).find(".//form[@id='comment-remove-form']")
    assert form.get("action") == moderate_url(comment)
    select = form.find(".//select[@name='removal_reason']")
    assert select.get("required") is not None
    assert [o.get("value") for o in select.iter("option")] == ["", *RemovalReason.values]
    assert form.find(".//textarea[@name='removal_note']") is not None


def test_remove_button_without_a_reason_asks_again_and_removes_nothing(moderator_client):
    comment = CommentFactory()
    response = moderator_client.post(moderate_url(comment), {"action": "remove"})
    assert response.status_code == 200
    assert "Nothing was removed: give the reason first." in messages_of(response)
    form = admin_parse(response).find(".//form[@class='comment-remove-reason-form']")
    assert form.get("action") == moderate_url(comment)
    assert Comment.objects.get(pk=comment.pk).status == Status.APPROVED


def test_remove_button_with_a_reason_removes_and_keeps_open_next(moderator_client, moderator):
    comment = CommentFactory()
    response = moderator_client.post(
        moderate_url(comment), {"removal_reason": "off_topic", "_next": "1"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(CHANGELIST)  # no other pending comment
    comment.refresh_from_db()
    assert (comment.status, comment.removal_reason) == (Status.REMOVED, "off_topic")


def test_remove_button_for_another_reason_needs_words(moderator_client):
    comment = CommentFactory()
    response = moderator_client.post(
        moderate_url(comment), {"removal_reason": "other", "removal_note": ""}
    )
    assert response.status_code == 200
    assert Comment.objects.get(pk=comment.pk).status == Status.APPROVED


def test_staff_without_change_permission_cannot_remove(comment_factory):
    viewer = StaffFactory(username="viewer")
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_comment"))
    client = Client()
    client.force_login(viewer)
    comment = comment_factory()
    response = client.post(moderate_url(comment), {"removal_reason": "spam"})
    assert response.status_code == 403
    assert Comment.objects.get(pk=comment.pk).status == Status.APPROVED
