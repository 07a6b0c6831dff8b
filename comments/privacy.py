"""A reader's own data: how long the network addresses we store are kept.

``clear_old_ips`` blanks the IP addresses and user agents stored with comments, the IP
addresses and networks stored with reports, and the networks stored with anonymous
reactions once they are older than ``COMMENTS_IP_RETENTION_DAYS`` (default 90). It is
run every day by ``manage.py clear_old_ips`` (docs/privacy.md): clearing a cleared row
again changes nothing, so a run can be repeated or interrupted at any point.

The rules that read addresses look at recent rows only: flood control compares the last
``COMMENTS_FLOOD_SECONDS``, a report or an anonymous reaction counts once per network
among the rows since the last moderator decision, and sanctions keep their own address
(a moderator's decision, lifted or expired by the moderator's own dates).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from comments.conf import conf
from comments.models import Comment, CommentReport, Reaction


@dataclass(frozen=True)
class ClearedAddresses:
    comments: int
    reports: int
    reactions: int

    @property
    def total(self):
        return self.comments + self.reports + self.reactions


def retention_cutoff(*, now=None):
    """The moment before which stored addresses are cleared; ``None`` when
    ``COMMENTS_IP_RETENTION_DAYS`` is ``0`` or unset (keep them)."""
    days = conf.IP_RETENTION_DAYS
    if not days:
        return None
    return (now or timezone.now()) - timedelta(days=days)


def clear_old_ips(*, now=None):
    """Blank the addresses and user agents stored before the retention cutoff; returns
    how many rows of each kind changed (a second run changes none). One UPDATE per
    table, filtered on rows that still hold something, so it never rewrites a row twice
    and never touches a comment's tree or status."""
    cutoff = retention_cutoff(now=now)
    if cutoff is None:
        return ClearedAddresses(0, 0, 0)
    with transaction.atomic():
        comments = (
            Comment.objects.filter(created_at__lt=cutoff)
            .filter(Q(ip_address__isnull=False) | ~Q(user_agent=""))
            .update(ip_address=None, user_agent="")
        )
        reports = (
            CommentReport.objects.filter(created_at__lt=cutoff)
            .filter(Q(ip_address__isnull=False) | ~Q(network=""))
            .update(ip_address=None, network="")
        )
        reactions = (
            Reaction.objects.filter(created_at__lt=cutoff).exclude(network="").update(network="")
        )
    return ClearedAddresses(comments, reports, reactions)
