"""Reader reports: every report is kept, one counts per reader, and enough readers
send an approved comment back to the moderation queue.

A browser session reports a comment once (a repeat changes nothing). A report
*counts* towards ``COMMENTS_REPORT_THRESHOLD`` only when none of its session, its
IP network (an IPv4 /24 or IPv6 /64, see ``reporter_network``) or its identity (the
account when logged in, otherwise the email the reader gave, lower-cased) matches
a report already counted for that comment: clearing cookies, or asking the
neighbours on the same network, still makes one reader.

Only reports made since a moderator last decided on the comment count: once a
moderator has approved a reported comment, it takes as many new readers to send
it back, not a single one. Reports of one comment are serialised on its row, so
two arriving together cannot both count as the same reader.
"""

import ipaddress

from django.db import transaction
from django.db.models import F, Q

from comments import moderation
from comments.conf import conf
from comments.models import Comment, CommentReport

REPORTED_REASON = "reported by readers"
IPV4_PREFIX = 24
IPV6_PREFIX = 64


def reporter_network(ip_address):
    """The network an address counts as, in CIDR text ("203.0.113.0/24",
    "2001:db8:1:2::/64"); "" when there is no (valid) address."""
    if not ip_address:
        return ""
    try:
        address = ipaddress.ip_address(ip_address)
    except ValueError:
        return ""
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def counted_since_last_decision(comment):
    """The reports that count towards the threshold for ``comment`` now."""
    return CommentReport.objects.since_last_decision(comment).counted()


def reports_since_last_decision(comment):
    """How many readers reported ``comment`` since a moderator last decided on it."""
    return counted_since_last_decision(comment).count()


def _same_reader(report):
    """A filter matching the reports made by the reader who made ``report``."""
    same = Q(session_key=report.session_key)
    if report.network:
        same |= Q(network=report.network)
    if report.user_id is not None:
        same |= Q(user_id=report.user_id)
    elif report.reporter_email:
        same |= Q(reporter_email=report.reporter_email)
    return same


def report_comment(
    comment, *, session_key, reason, explanation="", email="", user=None, ip_address=None
):
    """Record one report of ``comment`` and send it back to the queue when enough
    readers have reported it.

    Returns the stored report (``report.counted`` says whether it counted towards
    the threshold), or None for a repeat from the same session, which changes
    nothing. ``user`` is the logged-in reader (None otherwise); ``email`` is only
    kept for a reader who is not logged in.
    """
    if user is not None and not user.is_authenticated:
        user = None
    report = CommentReport(
        comment=comment,
        session_key=session_key,
        reason=reason,
        explanation=explanation.strip(),
        ip_address=ip_address,
        network=reporter_network(ip_address),
        user=user,
        reporter_email="" if user is not None else (email or "").strip().lower(),
    )
    report.full_clean(exclude=["comment"], validate_constraints=False)
    with transaction.atomic():
        # The comment's row is the lock every report of it queues behind (PostgreSQL;
        # SQLite transactions are IMMEDIATE and already serialise writers).
        locked = (
            Comment.objects.select_for_update()
            .only("pk", "status", "moderated_at", "moderated_by")
            .get(pk=comment.pk)
        )
        reports = CommentReport.objects.filter(comment=locked)
        if reports.filter(session_key=session_key).exists():
            return None
        counted = counted_since_last_decision(locked)
        report.counted = not counted.filter(_same_reader(report)).exists()
        report.save()
        Comment.objects.filter(pk=locked.pk).update(report_count=F("report_count") + 1)
        if (
            report.counted
            and locked.status == Comment.Status.APPROVED
            and counted.count() >= conf.REPORT_THRESHOLD
        ):
            moderation.restore([locked], reason=REPORTED_REASON)
    comment.refresh_from_db(fields=["report_count", "status", "moderated_at", "moderated_by"])
    return report
