"""The moderation queue's priority: which pending comment to look at first.

A comment's priority is a sum of points computed by the database, so the queue is
ordered, filtered and paginated there (``Comment.objects.with_priority()``):

* reader reports: ``REPORT_POINTS`` each, at most ``REPORT_POINTS_MAX``;
* what the automatic rules found in its text (``RULE_POINTS``, read from the stored
  moderation reason: a suspect word, links, the spam service failing);
* its commenter's history: their recent rejection rate times ``REJECTION_POINTS``,
  ``NEW_COMMENTER_POINTS`` when nothing of theirs was approved yet,
  ``SANCTIONED_POINTS`` when a sanction on their email address is in force;
* the article's heat: ``HOT_ARTICLE_POINTS`` when it received at least
  ``HOT_ARTICLE_COMMENTS`` comments in the last hour. An ``EXISTS`` with an offset
  (is there a 10th comment on this article since an hour ago?) along the
  ``(article, created_at)`` index reads at most ``HOT_ARTICLE_COMMENTS`` index entries
  per pending comment, however busy the article: bounded without a counter to keep
  up to date on every post;
* how long it has waited (``AGE_POINTS``, in steps), so nothing waits forever.

The queue shows the highest priority first and, among equal priorities, the comment
that has waited longest (``QUEUE_ORDER``). ``reasons()`` says in words which
ingredients gave a comment its points; docs/moderation.md lists the weights.
"""

from datetime import timedelta

from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Least, Round
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from comments.models import Comment, Sanction

REPORT_POINTS = 10
REPORT_POINTS_MAX = 30
# (words in a "held: …" reason, points); the first that matches counts. Reasons about
# the person or the article ("first comment from this email", "commenter is
# pre-moderated") earn nothing here: the commenter's history scores those.
RULE_POINTS = [
    ("suspect word", 25),
    ("moderation key", 25),
    ("links", 15),
    ("spam service", 10),
]
REJECTION_POINTS = 30  # times the commenter's recent rejection rate (0 to 1)
NEW_COMMENTER_POINTS = 10
SANCTIONED_POINTS = 20
HOT_ARTICLE_COMMENTS = 10
HOT_ARTICLE_WINDOW = timedelta(hours=1)
HOT_ARTICLE_POINTS = 10
# (waited at least, points), longest first.
AGE_POINTS = [
    (timedelta(hours=24), 20),
    (timedelta(hours=12), 15),
    (timedelta(hours=6), 10),
    (timedelta(hours=2), 6),
    (timedelta(hours=1), 4),
    (timedelta(minutes=30), 2),
]
QUEUE_ORDER = ["-priority", "created_at", "pk"]

HELD_PREFIX = "held:"


def sanction_in_force(now):
    """``EXISTS``: a sanction in force on the comment's commenter's email address."""
    return Exists(
        Sanction.objects.in_force(now).filter(
            target_type=Sanction.Target.EMAIL, target=OuterRef("commenter__email")
        )
    )


def hot_article(now):
    """``EXISTS``: the comment's article received ``HOT_ARTICLE_COMMENTS`` comments or
    more since ``HOT_ARTICLE_WINDOW`` ago (at most that many index entries read)."""
    recent = Comment.objects.filter(
        article_id=OuterRef("article_id"), created_at__gte=now - HOT_ARTICLE_WINDOW
    ).order_by()
    return Exists(recent[HOT_ARTICLE_COMMENTS - 1 : HOT_ARTICLE_COMMENTS])


def _points(condition, points):
    return Case(When(condition, then=Value(points)), default=Value(0))


def annotate(queryset, now):
    """``queryset`` with ``priority`` and the facts its reasons need:
    ``commenter_sanctioned``, ``article_hot``, ``commenter_approved_count`` and
    ``commenter_rejection_rate`` (None without a commenter)."""
    rule = Case(
        When(
            moderation_reason__startswith=HELD_PREFIX,
            then=Case(
                *(
                    When(moderation_reason__contains=words, then=Value(points))
                    for words, points in RULE_POINTS
                ),
                default=Value(0),
            ),
        ),
        default=Value(0),
    )
    age = Case(
        *(When(created_at__lte=now - waited, then=Value(points)) for waited, points in AGE_POINTS),
        default=Value(0),
    )
    reports = Least(F("report_count"), Value(REPORT_POINTS_MAX // REPORT_POINTS)) * REPORT_POINTS
    sanctioned, hot = sanction_in_force(now), hot_article(now)
    rejection = Coalesce(
        Cast(Round(F("commenter__recent_rejection_rate") * REJECTION_POINTS), IntegerField()),
        Value(0),
    )
    priority = (
        reports
        + rule
        + rejection
        + _points(Q(commenter__approved_count=0), NEW_COMMENTER_POINTS)
        + _points(sanctioned, SANCTIONED_POINTS)
        + _points(hot, HOT_ARTICLE_POINTS)
        + age
    )
    return queryset.annotate(
        priority=Cast(priority, IntegerField()),
        # Selected again for the reasons: PostgreSQL evaluates these two after the
        # sort and the LIMIT, for the rows of the page only.
        commenter_sanctioned=sanctioned,
        article_hot=hot,
        commenter_approved_count=F("commenter__approved_count"),
        commenter_rejection_rate=F("commenter__recent_rejection_rate"),
    )


def rule_points(reason):
    if not reason.startswith(HELD_PREFIX):
        return 0
    for words, points in RULE_POINTS:
        if words in reason:
            return points
    return 0


def age_points(waited):
    for at_least, points in AGE_POINTS:
        if waited >= at_least:
            return points
    return 0


def reasons(comment, now):
    """What gave ``comment`` (annotated by ``annotate``) its priority, in words, e.g.
    ``["3 reports", "held: 3 links", "new commenter", "hot article", "waiting 2 hours"]``.
    Rule reasons are quoted as stored (English data, as everywhere on the desk)."""
    found = []
    if comment.report_count:
        found.append(
            ngettext("%(count)d report", "%(count)d reports", comment.report_count)
            % {"count": comment.report_count}
        )
    if rule_points(comment.moderation_reason):
        found.append(comment.moderation_reason)
    rate = getattr(comment, "commenter_rejection_rate", None)
    if rate and round(rate * REJECTION_POINTS):
        found.append(_("%(percent)d%% recently rejected") % {"percent": round(rate * 100)})
    if getattr(comment, "commenter_approved_count", None) == 0:
        found.append(_("new commenter"))
    if getattr(comment, "commenter_sanctioned", False):
        found.append(_("under a sanction"))
    if getattr(comment, "article_hot", False):
        found.append(_("hot article"))
    if age_points(now - comment.created_at):
        found.append(_("waiting %(time)s") % {"time": timesince(comment.created_at, now, depth=1)})
    return found


def queue(now):
    """Pending comments in the queue's order, each with its priority."""
    return annotate(Comment.objects.pending(), now).order_by(*QUEUE_ORDER)


def position(pk, now):
    """``(priority, created_at, pk)``: where comment ``pk`` stands (or would stand, if it
    is not pending) in the queue; None when there is no such comment."""
    return (
        annotate(Comment.objects.filter(pk=pk), now)
        .values_list("priority", "created_at", "pk")
        .first()
    )


def following(key, now):
    """The pk of the pending comment right after ``key`` (a ``position``) in the queue,
    or None."""
    priority, created_at, pk = key
    after = (
        Q(priority__lt=priority)
        | Q(priority=priority, created_at__gt=created_at)
        | Q(priority=priority, created_at=created_at, pk__gt=pk)
    )
    return queue(now).filter(after).values_list("pk", flat=True).first()


def preceding(key, now):
    """The pk of the pending comment right before ``key`` in the queue, or None."""
    priority, created_at, pk = key
    before = (
        Q(priority__gt=priority)
        | Q(priority=priority, created_at__lt=created_at)
        | Q(priority=priority, created_at=created_at, pk__lt=pk)
    )
    return queue(now).filter(before).reverse().values_list("pk", flat=True).first()


def first(now, *, exclude=None):
    """The pk of the comment at the top of the queue (other than ``exclude``), or None."""
    pending = queue(now)
    if exclude is not None:
        pending = pending.exclude(pk=exclude)
    return pending.values_list("pk", flat=True).first()
