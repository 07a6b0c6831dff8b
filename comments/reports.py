"""Reader reports: counted per comment, once per session; enough of them send an
approved comment back to the moderation queue.

Only reports made since a moderator last decided on the comment count towards
``COMMENTS_REPORT_THRESHOLD``: once a moderator has approved a reported comment,
it takes as many new reports to send it back, not a single one.
"""

from django.db import IntegrityError, transaction
from django.db.models import F

from comments import moderation
from comments.conf import conf
from comments.models import Comment, CommentReport

REPORTED_REASON = "reported by readers"


def reports_since_last_decision(comment):
    reports = CommentReport.objects.filter(comment=comment)
    if comment.moderated_by_id is not None and comment.moderated_at is not None:
        reports = reports.filter(created_at__gt=comment.moderated_at)
    return reports.count()


def report_comment(comment, *, session_key, ip_address=None):
    """Record one report; returns True if it counted (not a repeat from this session)."""
    try:
        with transaction.atomic():
            CommentReport.objects.create(
                comment=comment, session_key=session_key, ip_address=ip_address
            )
            Comment.objects.filter(pk=comment.pk).update(report_count=F("report_count") + 1)
    except IntegrityError:
        return False
    comment.refresh_from_db(fields=["report_count", "status", "moderated_at", "moderated_by"])
    if (
        comment.status == Comment.Status.APPROVED
        and reports_since_last_decision(comment) >= conf.REPORT_THRESHOLD
    ):
        moderation.restore([comment], reason=REPORTED_REASON)
    return True
