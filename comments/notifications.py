"""Email after commit: moderators hear of held comments and appeals, subscribers of
replies, commenters of a moderator's removal (its statement of reasons) and of the
answer to their appeal.

Emails are written when they are queued, in the language active then: the reader's or
moderator's whose request caused them, or ``LANGUAGE_CODE`` outside a request. No
reader's language is stored, so a recipient may get the language of the person who
replied (docs/translation.md).

Messages are enqueued as django-tasks tasks (immediate backend in development
and tests, the database backend with ``db_worker`` in production), so posting
never waits on, or fails because of, the mail server.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

logger = logging.getLogger("threadpress")

UNSUBSCRIBE_SALT = "comments.unsubscribe"
MODERATORS_GROUP = "Moderators"


def _absolute(path):
    return settings.SITE_URL + path


def excerpt(text, limit):
    """The reader's text exactly as typed, cut at ``limit`` characters if longer.

    (Django's ``truncatechars`` would also re-compose the Unicode; emails quote verbatim.)
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unsubscribe_token(comment):
    return signing.dumps({"c": comment.pk}, salt=UNSUBSCRIBE_SALT)


def comment_for_unsubscribe_token(token):
    """The comment id a token stands for, or None when it is forged."""
    try:
        return signing.loads(token, salt=UNSUBSCRIBE_SALT)["c"]
    except (signing.BadSignature, KeyError, TypeError):
        return None


RETRY_DELAYS = (60, 300, 1800, 7200)  # seconds before each retry of a failed send


@task()
def send_email(subject, body, recipients, attempt=1, headers=None):
    """Send ``body`` to each recipient in a message of its own (no recipient sees the
    others), with extra ``headers`` if given (a follow's ``List-Unsubscribe``). A failing
    mail server is logged; on a backend that can defer tasks (the database backend) the
    send is retried later, then the task fails (visible in the tasks admin)."""
    from_email = settings.DEFAULT_FROM_EMAIL
    messages = [EmailMessage(subject, body, from_email, [to], headers=headers) for to in recipients]
    try:
        get_connection().send_messages(messages)
    except Exception:
        logger.exception(
            "Could not send email %r to %d recipient(s) (attempt %d)",
            subject,
            len(recipients),
            attempt,
        )
        _retry_later(subject, body, recipients, attempt, headers)
        raise


def _retry_later(subject, body, recipients, attempt, headers=None):
    if attempt > len(RETRY_DELAYS):
        return
    if not send_email.get_backend().supports_defer:
        return
    run_after = timezone.now() + timedelta(seconds=RETRY_DELAYS[attempt - 1])
    try:
        extra = {"headers": headers} if headers else {}  # the task's arguments, as before
        send_email.using(run_after=run_after).enqueue(
            subject, body, recipients, attempt + 1, **extra
        )
    except Exception:
        logger.exception("Could not schedule a retry of email %r", subject)


def _enqueue(subject, body, recipients, headers=None):
    """Queue one email; never raise (posting and moderation must not fail because of it)."""
    try:
        extra = {"headers": headers} if headers else {}
        result = send_email.enqueue(subject, body, recipients, **extra)
    except Exception:
        logger.exception("Could not enqueue email %r", subject)
        return None
    return result


def moderator_emails():
    users = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=MODERATORS_GROUP)
        .exclude(email="")
    )
    return sorted(set(users.values_list("email", flat=True)))


def comments_held(comment_ids):
    """Tell every active moderator about each held comment: one message per comment."""
    from comments.models import Comment

    recipients = moderator_emails()
    if not recipients:
        return
    held = Comment.objects.filter(pk__in=comment_ids, status=Comment.Status.PENDING)
    for comment in held.select_related("article"):
        context = {
            "comment": comment,
            "excerpt": excerpt(comment.body, 500),
            "article": comment.article,
            "admin_url": _absolute(reverse("admin:comments_comment_change", args=[comment.pk])),
        }
        subject = _("[%(site)s] Comment held on “%(title)s”") % {
            "site": settings.SITE_NAME,
            "title": comment.article.title,
        }
        body = render_to_string("comments/email/comment_held.txt", context)
        _enqueue(subject, body, recipients)


def reply_approved(comment_ids):
    """Tell the authors of parents who asked to be notified, never the replier themselves."""
    from comments.models import Comment

    replies = Comment.objects.filter(
        pk__in=comment_ids,
        status=Comment.Status.APPROVED,
        parent__notify_replies=True,
        parent__status=Comment.Status.APPROVED,
    ).select_related("article", "parent")
    for reply in replies:
        parent = reply.parent
        if parent.author_email.lower() == reply.author_email.lower():
            continue
        context = {
            "reply": reply,
            "reply_text": excerpt(reply.body, 1000),
            "parent": parent,
            "article": reply.article,
            "reply_url": _absolute(reply.get_absolute_url()),
            "unsubscribe_url": _absolute(
                reverse("comments:unsubscribe", args=[unsubscribe_token(parent)])
            ),
        }
        subject = _("[%(site)s] New reply to your comment on “%(title)s”") % {
            "site": settings.SITE_NAME,
            "title": reply.article.title,
        }
        body = render_to_string("comments/email/reply_notification.txt", context)
        _enqueue(subject, body, [parent.author_email])


def comments_published(comment_ids):
    """Comments just made public: the replies' ``notify_replies`` emails, then the
    articles' followers' (``comments.follows``)."""
    from comments import follows

    reply_approved(comment_ids)
    follows.comments_published(comment_ids)


# --- the statement of reasons and appeals (comments.appeals) -------------------------
def comments_removed(comment_ids):
    """Tell each commenter whose comment a moderator removed with a reason: the reason
    (with the moderator's note), a copy of their comment and the link to appeal once."""
    from comments.appeals import appeal_token
    from comments.conf import conf
    from comments.models import Comment

    removed = (
        Comment.objects.filter(pk__in=comment_ids, status=Comment.Status.REMOVED)
        .exclude(removal_reason="")
        .exclude(author_email="")
        .select_related("article", "appeal")
    )
    for comment in removed:
        context = {
            "comment": comment,
            "article": comment.article,
            "reason": comment.get_removal_reason_display(),
            "note": comment.removal_note,
            "text": comment.body,
            "appealed": hasattr(comment, "appeal"),
            "appeal_url": _absolute(reverse("comments:appeal", args=[appeal_token(comment)])),
            "appeal_days": conf.APPEAL_DAYS,
        }
        subject = _("[%(site)s] Your comment on “%(title)s” was removed") % {
            "site": settings.SITE_NAME,
            "title": comment.article.title,
        }
        body = render_to_string("comments/email/removed.txt", context)
        _enqueue(subject, body, [comment.author_email])


def appeal_received(appeal_id):
    """Tell every active moderator that a commenter appealed a removal."""
    from comments.models import Appeal

    recipients = moderator_emails()
    appeal = Appeal.objects.filter(pk=appeal_id).select_related("comment__article").first()
    if not recipients or appeal is None:
        return
    comment = appeal.comment
    context = {
        "appeal": appeal,
        "comment": comment,
        "article": comment.article,
        "reason": comment.get_removal_reason_display(),
        "appeal_text": excerpt(appeal.body, 1000),
        "admin_url": _absolute(reverse("admin:comments_comment_change", args=[comment.pk])),
    }
    subject = _("[%(site)s] Appeal against a removal on “%(title)s”") % {
        "site": settings.SITE_NAME,
        "title": comment.article.title,
    }
    body = render_to_string("comments/email/appeal_received.txt", context)
    _enqueue(subject, body, recipients)


def appeal_answered(appeal_id):
    """Send the moderator's answer to the commenter who appealed."""
    from comments.models import Appeal

    appeal = Appeal.objects.filter(pk=appeal_id).select_related("comment__article").first()
    if appeal is None or not appeal.answered_at or not appeal.comment.author_email:
        return
    comment = appeal.comment
    context = {
        "appeal": appeal,
        "comment": comment,
        "article": comment.article,
        "reinstated": appeal.outcome == Appeal.Outcome.REINSTATED,
        "text": excerpt(comment.body, 1000),
        "comment_url": _absolute(comment.get_absolute_url()),
    }
    subject = _("[%(site)s] The answer to your appeal on “%(title)s”") % {
        "site": settings.SITE_NAME,
        "title": comment.article.title,
    }
    body = render_to_string("comments/email/appeal_answer.txt", context)
    _enqueue(subject, body, [comment.author_email])
