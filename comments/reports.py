"""Reader reports: counted per comment, once per session; enough of them send an
approved comment back to the moderation queue."""

from django.db import IntegrityError, transaction
from django.db.models import F

from comments import moderation
from comments.conf import conf
from comments.models import Comment, CommentReport

REPORTED_REASON = "reported by readers"


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
    comment.refresh_from_db(fields=["report_count", "status"])
    if comment.status == Comment.Status.APPROVED and comment.report_count >= conf.REPORT_THRESHOLD:
        moderation.restore([comment], reason=REPORTED_REASON)
    return True
