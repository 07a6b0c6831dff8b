"""Email after commit: moderators hear of held comments, subscribers of replies.

Messages are enqueued as django-tasks tasks (immediate backend in development
and tests, the database backend with ``db_worker`` in production), so posting
never waits on, or fails because of, the mail server.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django_tasks import task

logger = logging.getLogger("threadpress")

UNSUBSCRIBE_SALT = "comments.unsubscribe"
MODERATORS_GROUP = "Moderators"


def _absolute(path):
    return settings.SITE_URL + path


def unsubscribe_token(comment):
    return signing.dumps({"c": comment.pk}, salt=UNSUBSCRIBE_SALT)


def comment_for_unsubscribe_token(token):
    """The comment id a token stands for, or None when it is forged."""
    try:
        return signing.loads(token, salt=UNSUBSCRIBE_SALT)["c"]
    except (signing.BadSignature, KeyError, TypeError):
        return None


@task()
def send_email(subject, body, recipients):
    """Send one message; a failing mail server is logged, never raised to a reader."""
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:
        logger.exception("Could not send email %r to %d recipient(s)", subject, len(recipients))
        raise


def _enqueue(subject, body, recipients):
    try:
        send_email.enqueue(subject, body, recipients)
    except Exception:
        # The immediate backend runs the task here; its failure is already logged.
        logger.warning("Email task for %r failed or could not be enqueued", subject)


def moderator_emails():
    users = get_user_model().objects.filter(
        is_active=True, groups__name=MODERATORS_GROUP
    ).exclude(email="")
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
            "article": comment.article,
            "admin_url": _absolute(reverse("admin:comments_comment_change", args=[comment.pk])),
        }
        subject = f"[{settings.SITE_NAME}] Comment held on “{comment.article.title}”"
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
            "parent": parent,
            "article": reply.article,
            "reply_url": _absolute(reply.get_absolute_url()),
            "unsubscribe_url": _absolute(
                reverse("comments:unsubscribe", args=[unsubscribe_token(parent)])
            ),
        }
        subject = f"[{settings.SITE_NAME}] New reply to your comment on “{reply.article.title}”"
        body = render_to_string("comments/email/reply_notification.txt", context)
        _enqueue(subject, body, [parent.author_email])
