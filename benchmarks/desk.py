"""The moderation desk with 100,000 comments from 20,000 commenters.

``build()`` writes a desk's worth of data the fast way (rows with precomputed trees and
commenter records, ``bulk_create``): commenters of every kind (new, trusted, often
rejected, some under a sanction), a few percent of the comments pending for every
reason the rules give, reader reports, articles busy in the last hour. ``run()`` times
the pages a moderator works on, each as a ratio against a **baseline** measured in the
same process, in turns: the plain Django admin changelist of the same comments
(``ModelAdmin``'s defaults: ``__str__``, 100 rows, ordered by ``-pk``, the full count),
so the ratios say what the desk costs over what any Django site pays, on this machine
and database. ``tests/test_desk_queries.py`` holds the query counts of the same pages
at two data sizes.

While ``run()`` measures, ``ROOT_URLCONF`` is this module: the site's URLs and the
baseline's admin site at ``/plain-admin/``.
"""

import random
from dataclasses import dataclass
from datetime import timedelta

from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import include, path, reverse
from django.utils import timezone

from benchmarks.data import Builder, random_parents
from comments.models import Comment, Commenter, CommenterNote, CommentReport, Sanction

Status = Comment.Status

FULL = {"comments": 100_000, "commenters": 20_000}
QUICK = {"comments": 10_000, "commenters": 2_000}
PER_ARTICLE = 200
HOT_ARTICLES = 5
HOT_COMMENTS = 30  # each, in the last hour
SANCTIONED_SHARE = 0.01
# (share of comments, status); the rest are approved.
STATUSES = [(0.04, Status.PENDING), (0.03, Status.SPAM), (0.02, Status.REMOVED)]
HELD_REASONS = [
    "held: first comment from this email",
    "held: 3 links",
    "held: suspect word “casino”",
    "held: commenter is pre-moderated",
    "held: spam service unavailable",
    "reported by readers",
    "",
]
REPORT_REASONS = [reason for reason, _label in CommentReport.Reason.choices]


# --- the data ------------------------------------------------------------------------------
@dataclass
class Desk:
    comments: int
    commenters: int
    busiest: Commenter  # the commenter page measured: the one with the most comments
    hot_article_id: int


def _commenter_of(rng, index, commenters):
    """Every commenter comments once; after that a few comment a lot (a skewed draw)."""
    return index if index < commenters else int(commenters * rng.random() ** 3)


def _status(rng):
    draw = rng.random()
    for share, status in STATUSES:
        if draw < share:
            return status
        draw -= share
    return Status.APPROVED


def build(*, comments, commenters, per_article=PER_ARTICLE, prefix="desk", seed=13, progress=True):
    """Write ``comments`` comments from ``commenters`` commenters over articles of
    ``per_article`` comments each; returns a ``Desk`` naming what ``run()`` opens.
    ``prefix`` names the articles and commenters (another call needs another)."""
    rng = random.Random(seed)
    now = timezone.now()
    builder = Builder(progress=progress)
    article_count = max(HOT_ARTICLES + 1, comments // per_article)
    articles = builder.articles(prefix, article_count)
    first_commenter = (
        Commenter.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ) + 1
    stats = [
        {"approved": 0, "pending": 0, "spam": 0, "removed": 0, "first": None, "last": None}
        for _ in range(commenters)
    ]
    rows, reported = [], []
    index = 0
    for number, article in enumerate(articles):
        size = comments // article_count + (1 if number < comments % article_count else 0)
        hot = number < HOT_ARTICLES
        for comment in builder.comments(article, random_parents(size, seed=seed + number)):
            who = _commenter_of(rng, index, commenters)
            index += 1
            status = _status(rng)
            if hot and rng.random() < HOT_COMMENTS / size:
                created = now - timedelta(minutes=rng.uniform(0, 59))
            elif status == Status.PENDING:
                created = now - timedelta(hours=rng.uniform(0, 48))
            else:
                created = now - timedelta(days=rng.uniform(2, 30))
            comment.status = status
            comment.created_at = created
            comment.commenter_id = first_commenter + who
            comment.author_email = f"{prefix}{who}@example.org"
            comment.author_name = f"{prefix.capitalize()} reader {who}"
            comment.ip_address = f"198.51.{who % 256}.{who // 256 % 256}"
            if status == Status.PENDING:
                comment.moderation_reason = rng.choice(HELD_REASONS)
                comment.report_count = rng.choice([0, 0, 0, 1, 2, 3])
            elif status == Status.APPROVED and rng.random() < 0.01:
                comment.report_count = 1
            if comment.report_count:
                reported.append(comment)
            record = stats[who]
            record[status] += 1
            record["first"] = min(record["first"] or created, created)
            record["last"] = max(record["last"] or created, created)
            rows.append(comment)
    people = []
    for who, record in enumerate(stats):
        decided = record["approved"] + record["spam"] + record["removed"]
        rejected = record["spam"] + record["removed"]
        people.append(
            Commenter(
                id=first_commenter + who,
                email=f"{prefix}{who}@example.org",
                name=f"{prefix.capitalize()} reader {who}",
                first_seen=record["first"] or now,
                last_seen=record["last"] or now,
                approved_count=record["approved"],
                pending_count=record["pending"],
                spam_count=record["spam"],
                removed_count=record["removed"],
                recent_rejection_rate=round(rejected / decided, 2) if decided else 0.0,
                last_rejected_at=record["last"] if rejected else None,
            )
        )
    with transaction.atomic():
        Commenter.objects.bulk_create(people, batch_size=1000)
    builder.write(rows, label=f"{prefix}: {comments:,} comments")
    with transaction.atomic():
        CommentReport.objects.bulk_create(
            (
                CommentReport(
                    comment_id=comment.pk,
                    reason=rng.choice(REPORT_REASONS),
                    explanation="Please look at this." if rng.random() < 0.3 else "",
                    session_key=f"{prefix}-{comment.pk}-{n}",
                    network=f"203.0.{n}.0/24",
                    counted=True,
                )
                for comment in reported
                for n in range(comment.report_count)
            ),
            batch_size=1000,
        )
        sanctioned = rng.sample(range(commenters), max(1, int(commenters * SANCTIONED_SHARE)))
        kinds = [Sanction.Kind.BAN, Sanction.Kind.SUSPENSION, Sanction.Kind.PREMODERATION]
        Sanction.objects.bulk_create(
            Sanction(
                kind=kinds[n % 3],
                target_type=Sanction.Target.EMAIL,
                target=f"{prefix}{who}@example.org",
                commenter_id=first_commenter + who,
                reason="Benchmark sanction.",
                ends_at=now + timedelta(days=7) if n % 3 == 1 else None,
                lifted_at=now if n % 5 == 4 else None,
            )
            for n, who in enumerate(sanctioned)
        )
        busiest = max(range(commenters), key=lambda who: sum(stats[who][s] for s in Status.values))
        busiest = Commenter.objects.get(pk=first_commenter + busiest)
        CommenterNote.objects.bulk_create(
            CommenterNote(commenter=busiest, body=f"Note {n} on this commenter.") for n in range(5)
        )
    builder.finish()
    _reset_sequences()
    if not connection.in_atomic_block:
        builder.settle()  # PostgreSQL's VACUUM ANALYZE, outside any transaction
    return Desk(
        comments=comments,
        commenters=commenters,
        busiest=busiest,
        hot_article_id=articles[0].pk,
    )


def _reset_sequences():
    """PostgreSQL: move the commenter ids' sequence past the explicit ids."""
    statements = connection.ops.sequence_reset_sql(no_style(), [Commenter])
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


# --- the baseline: Django's admin out of the box ---------------------------------------------
plain_site = admin.AdminSite(name="plain_admin")


class PlainCommentAdmin(admin.ModelAdmin):
    """``ModelAdmin``'s defaults, ordered newest first (the model's tree order would
    sort 100,000 rows by tree and say nothing about the admin)."""

    ordering = ["-pk"]
    change_list_template = "admin/change_list.html"  # Django's, not the desk's


plain_site.register(Comment, PlainCommentAdmin)

urlpatterns = [
    path("plain-admin/", plain_site.urls),
    path("", include("site_config.urls")),
]


# --- the measurements ---------------------------------------------------------------------
def pages(desk):
    """``[(name, URL)]`` of what ``run()`` times, the baseline first."""
    commenters = reverse("admin:comments_commenter_changelist")
    queue = reverse("admin:comments_comment_changelist")
    by_rejection = admin.site.get_model_admin(Commenter).list_display.index("rejection_rate")
    return [
        (
            "baseline: Django's plain admin changelist of the comments",
            "/plain-admin/comments/comment/",
        ),
        ("queue: pending, by priority", queue),
        ("queue: all comments, newest first", f"{queue}?status=all"),
        ("queue: held by a rule", f"{queue}?held=yes"),
        ("queue: new commenters", f"{queue}?commenter_is=new"),
        ("queue: commenters under a sanction", f"{queue}?commenter_is=sanctioned"),
        ("queue: reported", f"{queue}?reported=yes"),
        ("queue: one hot article", f"{queue}?article__id__exact={desk.hot_article_id}"),
        (
            "commenter page (the busiest commenter)",
            reverse("admin:comments_commenter_change", args=[desk.busiest.pk]),
        ),
        ("commenter list, last seen first", commenters),
        ("commenter list by rejection rate", f"{commenters}?o=-{by_rejection}"),
        ("commenter list, search by email", f"{commenters}?q=desk12"),
    ]


def moderator():
    """A member of the Moderators group, as the desk's users are (no superuser)."""
    from django.contrib.auth import get_user_model

    user, _created = get_user_model().objects.get_or_create(
        username="bench-moderator", defaults={"is_staff": True}
    )
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


def run(*, quick=False, repeat=5, progress=True, sizes=None):
    """Build the desk's data and time its pages against the baseline (in turns)."""
    from benchmarks.run import measure_alternating

    sizes = sizes or (QUICK if quick else FULL)
    desk = build(**sizes, progress=progress)
    client = Client()
    client.force_login(moderator())

    def get(url):
        def fetch():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return fetch

    with override_settings(ROOT_URLCONF=__name__):
        listed = pages(desk)
        timings = measure_alternating({name: get(url) for name, url in listed}, repeat=repeat)
    baseline = timings[listed[0][0]]
    rows = []
    for name, url in listed:
        timing = timings[name]
        rows.append(
            {
                "page": name,
                "url": url,
                "median_ms": timing["median_ms"],
                "min_ms": timing["min_ms"],
                "queries": timing["queries"],
                "ratio": round(timing["median_ms"] / baseline["median_ms"], 2),
            }
        )
    return {
        "comments": desk.comments,
        "commenters": desk.commenters,
        "pending": Comment.objects.pending().count(),
        "rows": rows,
    }


def format_report(desk):
    lines = [
        f"| moderation desk: {desk['comments']:,} comments from {desk['commenters']:,} "
        f"commenters ({desk['pending']:,} pending in the table) | median / min (ms) "
        "| queries | ratio to the baseline |",
        "|---|---|---|---|",
    ]
    for row in desk["rows"]:
        lines.append(
            f"| {row['page']} | {row['median_ms']:.1f} / {row['min_ms']:.1f} "
            f"| {row['queries']} | {row['ratio']:.2f}× |"
        )
    return "\n".join(lines)
