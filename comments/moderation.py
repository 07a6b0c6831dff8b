"""Moderation decisions: moving comments from one status to another.

The admin, reader reports, edits and withdrawals call these functions for every
change of an existing comment's status. A new comment gets its first status from the
rules when it is posted (``comments.posting``), and the WordPress importer sets the
exported one. Each change here records who and when, writes an admin ``LogEntry`` when
a person made it, invalidates the articles' cached pages (``comments.signals``: one
``UPDATE`` for the whole batch sends no model signals, so it calls the hook itself)
and schedules notifications after commit. Nothing here deletes a row.
"""

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from comments import notifications, signals
from comments.models import Comment

Status = Comment.Status

ACTION_MESSAGES = {
    Status.APPROVED: "Approved",
    Status.SPAM: "Marked as spam",
    Status.REMOVED: "Removed",
    Status.PENDING: "Restored to pending",
}


def set_status(comments, status, *, by=None, reason=None):
    """Move ``comments`` (a queryset or iterable of comments) to ``status``.

    Returns how many comments changed. Comments already in ``status`` are left
    alone. ``by`` is the moderator (None for the site itself); ``reason`` is
    stored as the comment's moderation reason when given.
    """
    ids = [c.pk for c in comments] if not hasattr(comments, "values_list") else None
    with transaction.atomic():
        queryset = Comment.objects.filter(pk__in=ids if ids is not None else comments.values("pk"))
        changing = list(
            queryset.exclude(status=status)
            .select_for_update()
            .values_list("pk", "article_id", "status", "author_name")
        )
        if not changing:
            return 0
        now = timezone.now()
        changed_ids = [row[0] for row in changing]
        updates = {"status": status, "moderated_at": now, "moderated_by": by}
        if reason is not None:
            updates["moderation_reason"] = reason
        Comment.objects.filter(pk__in=changed_ids).update(**updates)
        signals.invalidate({row[1] for row in changing})
        if by is not None:
            _log_changes(changing, status, by=by, reason=reason)
        if status == Status.APPROVED:
            newly_public = [row[0] for row in changing]
            transaction.on_commit(lambda: notifications.reply_approved(newly_public), robust=True)
        if status == Status.PENDING and reason:
            transaction.on_commit(lambda: notifications.comments_held(changed_ids), robust=True)
    return len(changing)


def _log_changes(rows, status, *, by, reason):
    content_type = ContentType.objects.get_for_model(Comment)
    message = ACTION_MESSAGES[status] + (f" ({reason})" if reason else "")
    LogEntry.objects.bulk_create(
        LogEntry(
            user_id=by.pk,
            content_type=content_type,
            object_id=str(pk),
            object_repr=f"{author}: comment {pk}"[:200],
            action_flag=CHANGE,
            change_message=f"{message} (was {old}).",
        )
        for pk, _article_id, old, author in rows
    )


def record_new_comment(comment):
    """Bookkeeping for a comment just stored by posting with the rules' verdict (its
    save has invalidated the cached pages already, through ``comments.signals``)."""
    if comment.status == Status.APPROVED:
        parent = comment.parent  # read under the tree lock by posting
        if parent is not None and parent.notify_replies:
            transaction.on_commit(lambda: notifications.reply_approved([comment.pk]), robust=True)
    elif comment.status == Status.PENDING:
        transaction.on_commit(lambda: notifications.comments_held([comment.pk]), robust=True)


def approve(comments, *, by=None, reason=None):
    return set_status(comments, Status.APPROVED, by=by, reason=reason)


def mark_spam(comments, *, by=None, reason=None):
    return set_status(comments, Status.SPAM, by=by, reason=reason)


def remove(comments, *, by=None, reason=None):
    """Hide comments; their replies stay visible under a placeholder."""
    return set_status(comments, Status.REMOVED, by=by, reason=reason)


def restore(comments, *, by=None, reason=None):
    """Back to the moderation queue."""
    return set_status(comments, Status.PENDING, by=by, reason=reason)
