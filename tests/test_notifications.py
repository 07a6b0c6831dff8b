"""Email after commit: moderators hear of held comments, subscribers of approved replies."""

import logging
import re
import smtplib

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse
from django_tasks import TaskResultStatus

from comments import moderation, notifications
from comments.models import Comment
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

Status = Comment.Status


class BrokenEmailBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


BROKEN_BACKEND = f"{__name__}.BrokenEmailBackend"


@pytest.fixture
def moderators():
    group = Group.objects.get(name="Moderators")
    active = [
        StaffFactory(username="mod1", email="mod1@example.com"),
        StaffFactory(username="mod2", email="mod2@example.com"),
    ]
    inactive = StaffFactory(username="gone", email="gone@example.com", is_active=False)
    no_email = StaffFactory(username="noemail", email="")
    for user in [*active, inactive, no_email]:
        user.groups.add(group)
    StaffFactory(username="outsider", email="outsider@example.com")
    return active


def post(client, article, data, **extra):
    return client.post(reverse("comments:post", args=[article.slug]), data, **extra)


# --- held comments -------------------------------------------------------------------
def test_held_comment_emails_each_active_moderator_with_an_email_once(
    moderators, article, comment_data, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(Client(), article, comment_data(body="Please look at this."))
    assert response.status_code == 303
    comment = Comment.objects.get()
    assert comment.status == Status.PENDING
    assert sorted(m.to[0] for m in mail.outbox) == ["mod1@example.com", "mod2@example.com"]
    assert all(len(m.to) == 1 for m in mail.outbox)
    message = mail.outbox[0]
    assert article.title in message.subject
    assert "Ada Reader" in message.body
    assert "Please look at this." in message.body
    assert "held: first comment from this email" in message.body
    admin_url = reverse("admin:comments_comment_change", args=[comment.pk])
    assert f"http://127.0.0.1:8000{admin_url}" in message.body


def test_held_email_is_sent_only_after_commit(
    moderators, article, comment_data, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post(Client(), article, comment_data())
    assert mail.outbox == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(mail.outbox) == 2


def test_approved_comment_sends_no_moderator_email(
    moderators, article, comment_data, comment_factory, django_capture_on_commit_callbacks
):
    comment_factory(author_email="ada@example.org", status=Status.APPROVED)
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), article, comment_data())
    assert Comment.objects.filter(article=article).get().status == Status.APPROVED
    assert mail.outbox == []


def test_spam_sends_no_moderator_email(
    moderators, article, comment_data, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), article, comment_data(homepage="http://spam.example"))
    assert Comment.objects.get().status == Status.SPAM
    assert mail.outbox == []


def test_comment_returned_to_queue_by_reports_emails_moderators(
    moderators, comment_factory, django_capture_on_commit_callbacks
):
    comment = comment_factory(status=Status.APPROVED)
    with django_capture_on_commit_callbacks(execute=True):
        moderation.restore([comment], reason="reported by readers")
    assert len(mail.outbox) == 2
    assert "reported by readers" in mail.outbox[0].body


def test_moderator_restoring_a_comment_sends_no_email(
    moderators, comment_factory, django_capture_on_commit_callbacks
):
    comment = comment_factory(status=Status.SPAM)
    with django_capture_on_commit_callbacks(execute=True):
        moderation.restore([comment], by=moderators[0])
    assert mail.outbox == []


# --- replies -------------------------------------------------------------------------
@pytest.fixture
def subscribed_parent(comment_factory, article):
    return comment_factory(
        article=article,
        author_name="Pat Parent",
        author_email="pat@example.net",
        notify_replies=True,
    )


def reply_data(comment_data, parent, **overrides):
    return comment_data(parent=str(parent.pk), body="A reply worth reading.", **overrides)


def test_approved_reply_emails_the_subscribed_parent_author(
    article, subscribed_parent, comment_data, comment_factory, django_capture_on_commit_callbacks
):
    comment_factory(author_email="ada@example.org")  # previously approved: no hold
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), article, reply_data(comment_data, subscribed_parent))
    reply = Comment.objects.get(parent=subscribed_parent)
    assert reply.status == Status.APPROVED
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["pat@example.net"]
    assert "A reply worth reading." in message.body
    assert "Ada Reader" in message.body
    assert reverse("comments:permalink", args=[reply.pk]) in message.body
    assert "/comments/unsubscribe/" in message.body


def test_held_reply_notifies_only_when_a_moderator_approves_it(
    article, subscribed_parent, comment_data, superuser, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), article, reply_data(comment_data, subscribed_parent))
    reply = Comment.objects.get(parent=subscribed_parent)
    assert reply.status == Status.PENDING
    assert [m.to for m in mail.outbox] == []  # no moderators in this test, no subscriber yet
    client = Client()
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:comments_comment_changelist"),
            {"action": "approve_selected", "_selected_action": [reply.pk]},
        )
    assert [m.to for m in mail.outbox] == [["pat@example.net"]]


def test_replying_to_yourself_sends_no_email(
    article, subscribed_parent, comment_data, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(
            Client(),
            article,
            reply_data(comment_data, subscribed_parent, email="Pat@Example.net"),
        )
    assert Comment.objects.get(parent=subscribed_parent).status == Status.APPROVED
    assert mail.outbox == []


def test_parent_who_did_not_ask_gets_no_email(
    article, comment_factory, comment_data, django_capture_on_commit_callbacks
):
    parent = comment_factory(article=article, notify_replies=False)
    comment_factory(author_email="ada@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), article, reply_data(comment_data, parent))
    assert mail.outbox == []


def test_notify_checkbox_subscribes_the_poster(
    article, comment_data, comment_factory, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        post(Client(), article, comment_data(notify="on"))
    assert Comment.objects.get(article=article).notify_replies is True


def unsubscribe_link(message):
    return re.search(r"http://127\.0\.0\.1:8000(/comments/unsubscribe/\S+/)", message.body)[1]


def test_one_click_unsubscribe_stops_further_emails(
    article, subscribed_parent, comment_factory, django_capture_on_commit_callbacks
):
    first = comment_factory(parent=subscribed_parent, status=Status.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        moderation.approve([first])
    link = unsubscribe_link(mail.outbox[0])
    response = Client().get(link)  # no login
    assert response.status_code == 200
    subscribed_parent.refresh_from_db()
    assert subscribed_parent.notify_replies is False
    second = comment_factory(parent=subscribed_parent, status=Status.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        moderation.approve([second])
    assert len(mail.outbox) == 1


def test_forged_unsubscribe_token_is_refused(subscribed_parent):
    token = notifications.unsubscribe_token(subscribed_parent)
    response = Client().get(reverse("comments:unsubscribe", args=[token[:-2] + "xx"]))
    assert response.status_code == 404
    subscribed_parent.refresh_from_db()
    assert subscribed_parent.notify_replies is True


# --- a failing mail server ---------------------------------------------------------------
def test_failing_mail_server_never_breaks_posting(
    settings, moderators, article, comment_data, caplog, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = BROKEN_BACKEND
    with (
        caplog.at_level(logging.ERROR, logger="threadpress"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post(Client(), article, comment_data())
    assert response.status_code == 303
    assert Comment.objects.filter(article=article).exists()
    assert "Could not send email" in caplog.text


def test_failing_mail_server_never_breaks_moderation(
    settings,
    superuser,
    subscribed_parent,
    comment_factory,
    caplog,
    django_capture_on_commit_callbacks,
):
    settings.EMAIL_BACKEND = BROKEN_BACKEND
    reply = comment_factory(parent=subscribed_parent, status=Status.PENDING)
    client = Client()
    client.force_login(superuser)
    with (
        caplog.at_level(logging.ERROR, logger="threadpress"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            reverse("admin:comments_comment_moderate", args=[reply.pk, "approve"])
        )
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.status == Status.APPROVED
    assert "Could not send email" in caplog.text


def test_immediate_backend_records_a_failed_send_without_raising(settings):
    """The immediate backend (development, tests) runs the task in place and keeps its
    exception on the result: the caller never sees it."""
    settings.EMAIL_BACKEND = BROKEN_BACKEND
    result = notifications._enqueue("Subject", "Body", ["someone@example.com"])
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class_path == "smtplib.SMTPServerDisconnected"


def test_failed_send_is_retried_later_on_the_database_backend(settings):
    from django_tasks_db.models import DBTaskResult

    settings.EMAIL_BACKEND = BROKEN_BACKEND
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with pytest.raises(smtplib.SMTPServerDisconnected):
        notifications.send_email.call("Subject", "Body", ["someone@example.com"])
    retry = DBTaskResult.objects.get()
    assert retry.args_kwargs["args"] == ["Subject", "Body", ["someone@example.com"], 2]
    assert retry.run_after is not None


def test_retries_stop_after_the_last_delay(settings):
    from django_tasks_db.models import DBTaskResult

    settings.EMAIL_BACKEND = BROKEN_BACKEND
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    last = len(notifications.RETRY_DELAYS) + 1
    with pytest.raises(smtplib.SMTPServerDisconnected):
        notifications.send_email.call("Subject", "Body", ["someone@example.com"], last)
    assert not DBTaskResult.objects.exists()
