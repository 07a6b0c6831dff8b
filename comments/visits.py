"""A signed-in reader's visits to an article, for "new since your last visit".

One ``ArticleVisit`` row per reader and article holds the time of their last view of
the article page (``visited_at``) and the time the comments are compared with
(``previous_visit_at``): comments posted after it are marked new by
``comments/static/comments/new-since-visit.js``, on every device the reader signs in
on.

A *visit* is a run of page views less than ``VISIT_GAP`` apart. Each view moves
``visited_at``; ``previous_visit_at`` moves only when a new visit begins, to the last
view of the visit before. So reloading the page, posting a reply or coming back from
another tab a few minutes later keeps the marks; coming back after the gap shows what
was posted since you last looked. The first visit marks nothing.

Anonymous readers keep the same two times in their browser's storage (the script,
with the same gap, read from the page): nothing is sent or written for them, and the
page they are served is the one cached for every anonymous reader.
"""

from datetime import UTC, timedelta

from django.db import connection
from django.utils import timezone

from comments.models import ArticleVisit

# Page views closer together than this are one visit (the script reads it from the
# page, ``data-visit-gap`` in seconds, for anonymous readers).
VISIT_GAP = timedelta(minutes=30)


def _upsert_sql():
    quote = connection.ops.quote_name
    table = quote(ArticleVisit._meta.db_table)
    user, article, visited, previous = (
        quote(ArticleVisit._meta.get_field(name).column)
        for name in ("user", "article", "visited_at", "previous_visit_at")
    )
    # PostgreSQL and SQLite (3.35+) spell the upsert alike. The right-hand sides of SET
    # read the row as it was before the update, so the CASE sees the old visited_at.
    return (
        f"INSERT INTO {table} ({user}, {article}, {visited}, {previous}) "
        f"VALUES (%s, %s, %s, NULL) "
        f"ON CONFLICT ({user}, {article}) DO UPDATE SET "
        f"{previous} = CASE WHEN {table}.{visited} <= %s THEN {table}.{visited} "
        f"ELSE {table}.{previous} END, "
        f"{visited} = excluded.{visited} "
        f"RETURNING {previous}"
    )


def _converted(value):
    """A ``previous_visit_at`` as the database returned it, as the ORM would read it
    (SQLite gives text; PostgreSQL an aware datetime)."""
    if value is None:
        return None
    field = ArticleVisit._meta.get_field("previous_visit_at")
    column = field.get_col(ArticleVisit._meta.db_table)
    for converter in connection.ops.get_db_converters(column) + field.get_db_converters(connection):
        value = converter(value, column, connection)
    return value


def record_visit(*, user, article, now=None):
    """Record ``user``'s view of ``article`` at ``now`` and return the time comments
    are new after (``previous_visit_at``: None on the first visit).

    One statement (an upsert returning the row's new value), whatever the row held, so
    a signed-in page costs one query more, and two tabs at once cannot make two rows.
    """
    now = now or timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(), [user.pk, article.pk, adapt(now), adapt(now - VISIT_GAP)])
        (previous,) = cursor.fetchone()
    return _converted(previous)


def previous_visit(request, article):
    """What the comments section says about the reader's last visit: ``None`` for an
    anonymous reader (nothing written; the browser keeps its own), else the signed-in
    reader's previous visit as ISO 8601 text in UTC to the second, ``""`` on the first
    visit. Records this view."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    previous = record_visit(user=user, article=article)
    if previous is None:
        return ""
    return previous.astimezone(UTC).isoformat(timespec="seconds")
