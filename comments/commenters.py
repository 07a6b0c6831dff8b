"""Commenters: the person behind each comment, by email address, and their record.

Every comment belongs to the ``Commenter`` of its author's email address as
``normalize_email`` spells it ("Ann@Example.com " and "ann@example.com" are one
person). The counts, first and last seen, the recent rejection rate and the last
rejection are kept here, so the desk lists 20,000 commenters and the trust rule judges
a new comment without counting comments:

* posting (``comments.treewrites.insert``): ``commenter_for`` finds or creates the
  commenter (name and account updated), ``record_comment`` counts the new comment in
  one ``UPDATE``;
* a change of status (``comments.moderation.set_status``, which edits and reports go
  through too): ``refresh_stats`` recounts the affected commenters, a bounded number of
  queries per batch of 500 commenters, however many comments they have;
* bulk writes (``comments.treewrites.bulk_insert``, the WordPress importer): ``assign``
  gives unsaved comments their commenters, creating the missing ones in bulk.

A comment counts as **rejected** when a person (``moderated_by``) marked it spam or
removed it; the **recent rejection rate** is the share of rejected among the last
``RECENT_DECISIONS`` comments a person decided on (the definition migration 0006 used
to backfill them).
"""

from collections import defaultdict
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Min, Q, Window
from django.db.models.functions import Greatest, RowNumber
from django.utils import timezone

from comments.models import Comment, Commenter, normalize_email

Status = Comment.Status

RECENT_DECISIONS = 10
REJECTED = (Status.SPAM, Status.REMOVED)
BATCH = 500
COUNT_FIELDS = {
    Status.APPROVED: "approved_count",
    Status.PENDING: "pending_count",
    Status.SPAM: "spam_count",
    Status.REMOVED: "removed_count",
}
STAT_FIELDS = [
    *COUNT_FIELDS.values(),
    "recent_rejection_rate",
    "last_rejected_at",
    "first_seen",
    "last_seen",
]


def find(email):
    """The commenter of ``email`` (any spelling), or None: one query."""
    return Commenter.objects.filter(email=normalize_email(email)).first()


def commenter_for(email, *, name="", user=None, seen_at=None):
    """The commenter of ``email``, created (no comments counted yet) when there is none.

    Call inside the transaction that stores their comment. A created commenter is first
    and last seen at ``seen_at`` (default: now). Concurrent first comments from one
    address get the same row (the loser of the race reads the winner's).
    """
    email = normalize_email(email)
    commenter = Commenter.objects.filter(email=email).first()
    if commenter is not None:
        return commenter
    seen_at = seen_at or timezone.now()
    try:
        with transaction.atomic():
            return Commenter.objects.create(
                email=email,
                name=name,
                user=user if user is not None and user.pk else None,
                first_seen=seen_at,
                last_seen=seen_at,
            )
    except IntegrityError:
        return Commenter.objects.get(email=email)


def record_comment(comment):
    """Count the stored new ``comment`` on its commenter, in one ``UPDATE``: its status's
    count, last seen, the name it was posted under and the account it was posted from
    (an anonymous comment keeps the account known before)."""
    updates = {
        COUNT_FIELDS[comment.status]: F(COUNT_FIELDS[comment.status]) + 1,
        "last_seen": Greatest(F("last_seen"), comment.created_at),
        "name": comment.author_name,
    }
    if comment.user_id is not None:
        updates["user_id"] = comment.user_id
    Commenter.objects.filter(pk=comment.commenter_id).update(**updates)


def assign(comments):
    """Give each of ``comments`` (unsaved, or stored ones whose email may have changed)
    the commenter of its ``author_email``, creating the missing commenters in bulk (named
    and dated from the comments). Returns the ids of the commenters assigned; their
    stats are the caller's to refresh (``refresh_stats``) once the comments are stored.

    Queries per 500 distinct addresses: one read, and for new addresses an insert and a
    second read.
    """
    by_email = defaultdict(list)
    for comment in comments:
        by_email[normalize_email(comment.author_email)].append(comment)
    emails = list(by_email)
    ids = {}
    for start in range(0, len(emails), BATCH):
        batch = emails[start : start + BATCH]
        ids.update(Commenter.objects.filter(email__in=batch).values_list("email", "pk"))
        missing = [email for email in batch if email not in ids]
        if not missing:
            continue
        new = []
        for email in missing:
            dated = sorted(by_email[email], key=lambda c: c.created_at or timezone.now())
            new.append(
                Commenter(
                    email=email,
                    name=dated[-1].author_name,
                    user_id=next((c.user_id for c in reversed(dated) if c.user_id), None),
                    first_seen=dated[0].created_at or timezone.now(),
                    last_seen=dated[-1].created_at or timezone.now(),
                )
            )
        # A concurrent writer may have created some meanwhile: keep theirs.
        Commenter.objects.bulk_create(new, ignore_conflicts=True)
        ids.update(Commenter.objects.filter(email__in=missing).values_list("email", "pk"))
    for email, group in by_email.items():
        for comment in group:
            comment.commenter_id = ids[email]
    return set(ids.values())


def refresh_stats(commenter_ids):
    """Recount the commenters ``commenter_ids`` from their comments: counts by status,
    first and last seen, the recent rejection rate and the last rejection.

    Three queries per batch of 500 commenters (counts, last decisions, one update),
    whatever the number of their comments. Call in the transaction that changed them.
    """
    ids = sorted({pk for pk in commenter_ids if pk is not None})
    for start in range(0, len(ids), BATCH):
        _refresh_batch(ids[start : start + BATCH])


def _refresh_batch(ids):
    decided = Q(moderated_by__isnull=False, moderated_at__isnull=False)
    totals = {
        row["commenter_id"]: row
        for row in Comment.objects.filter(commenter_id__in=ids)
        .order_by()
        .values("commenter_id")
        .annotate(
            **{
                field: Count("pk", filter=Q(status=status))
                for status, field in COUNT_FIELDS.items()
            },
            first_seen=Min("created_at"),
            last_seen=Max("created_at"),
            last_rejected_at=Max("moderated_at", filter=decided & Q(status__in=REJECTED)),
        )
    }
    recent = (
        Comment.objects.filter(decided, commenter_id__in=ids)
        .annotate(
            recency=Window(
                RowNumber(),
                partition_by=[F("commenter_id")],
                order_by=[F("moderated_at").desc(), F("pk").desc()],
            )
        )
        .filter(recency__lte=RECENT_DECISIONS)
        .values_list("commenter_id", "status")
    )
    decisions = defaultdict(list)
    for commenter_id, status in recent:
        decisions[commenter_id].append(status in REJECTED)
    dated, undated = [], []  # undated: no comments left (a superuser deleted them)
    for pk in ids:
        row = totals.get(pk, {})
        commenter = Commenter(pk=pk)
        for field in COUNT_FIELDS.values():
            setattr(commenter, field, row.get(field, 0))
        rejections = decisions.get(pk)
        commenter.recent_rejection_rate = sum(rejections) / len(rejections) if rejections else 0.0
        commenter.last_rejected_at = row.get("last_rejected_at")
        if row:
            commenter.first_seen, commenter.last_seen = row["first_seen"], row["last_seen"]
            dated.append(commenter)
        else:
            undated.append(commenter)
    if dated:
        Commenter.objects.bulk_update(dated, STAT_FIELDS, batch_size=BATCH)
    if undated:
        Commenter.objects.bulk_update(undated, STAT_FIELDS[:-2], batch_size=BATCH)


def comment_count(commenter):
    """How many comments ``commenter`` has, whatever their status."""
    return sum(getattr(commenter, field) for field in COUNT_FIELDS.values())


def rejected_within(commenter, days, *, now=None):
    """Whether a person rejected one of ``commenter``'s comments in the last ``days``."""
    if commenter.last_rejected_at is None:
        return False
    return commenter.last_rejected_at > (now or timezone.now()) - timedelta(days=days)
