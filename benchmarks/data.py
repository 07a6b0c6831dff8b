"""Fast, seeded data sets: trees computed in Python, rows written with ``bulk_create``.

Inserting comments one at a time through django-mptt costs a tree shift per row;
here every row arrives with its ``tree_id/lft/rght/level`` already computed (by
``comments.treewrites.number_trees``, the numbering the WordPress importer and
``comments_check`` use), so 100,000 comments take seconds. The resulting trees are
exactly what mptt would have built by inserting each reply as the last child of its
parent.
"""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from tqdm import tqdm

from articles.models import Article
from comments.models import Comment
from comments.text import render_comment_body
from comments.treewrites import TreeIds, number_trees

BODIES = [
    "I think the piece misses the point about funding entirely.",
    "Great article. Thanks for writing it!\n\nOne question: where does the data come from?",
    "See https://example.org/report for the full numbers.",
    "Not convinced. The same argument was made in 2009 and it did not hold up then either.",
    "Short and sweet.",
    "This is a longer reply that goes on for a while, because some readers like to explain "
    "their reasoning in detail, with a second sentence and a third one for good measure.",
    "Agreed with the comment above <em>wholeheartedly</em> & without reservation.",
    "Could the author clarify the second paragraph?",
]
BODY_HTML = [render_comment_body(body) for body in BODIES]


def _answer_an_earlier_comment(rng, index, parents, depths, max_depth):
    """Comment ``index`` replies to a random earlier one with room for one more level."""
    while True:
        parent = rng.randrange(index)
        if depths[parent] < max_depth:
            break
    parents.append(parent)
    depths.append(depths[parent] + 1)


def random_parents(count, *, seed, top_level=0.3, max_depth=8):
    """Parent index (or None) of each comment, in posting order.

    About ``top_level`` of the comments start a thread; the others answer a
    random earlier comment whose depth allows one more level (depth ≤ ``max_depth``).
    """
    rng = random.Random(seed)
    parents, depths = [], []
    for index in range(count):
        if index == 0 or rng.random() < top_level:
            parents.append(None)
            depths.append(1)
            continue
        _answer_an_earlier_comment(rng, index, parents, depths, max_depth)
    return parents


def one_thread_parents(count, *, seed, max_depth=8):
    """A single thread: one top-level comment and ``count - 1`` replies."""
    rng = random.Random(seed)
    parents, depths = [None], [1]
    for index in range(1, count):
        _answer_an_earlier_comment(rng, index, parents, depths, max_depth)
    return parents


def chain_parents(count):
    """Each reply answers the previous comment."""
    return [None] + list(range(count - 1))


class Builder:
    """Writes articles and comment trees with precomputed ids and boundaries."""

    def __init__(self, *, progress=True):
        self.progress = progress
        self.author = get_user_model().objects.get_or_create(
            username="bench-author", defaults={"email": "author@example.org"}
        )[0]
        self.next_id = (Comment.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        self.tree_ids = TreeIds()
        self.start = timezone.now() - timedelta(days=30)
        self.rows_written = 0

    def articles(self, prefix, count):
        now = timezone.now()
        body_html = "<p>A benchmark article with a short body.</p>"
        objs = [
            Article(
                title=f"{prefix} {n}",
                slug=f"{prefix}-{n}",
                author=self.author,
                summary="Benchmark data.",
                body="",
                body_html=body_html,
                status=Article.Status.PUBLISHED,
                published_at=now - timedelta(days=1, minutes=n),
            )
            for n in range(count)
        ]
        Article.objects.bulk_create(objs, batch_size=500)
        return list(Article.objects.filter(slug__startswith=f"{prefix}-").order_by("pk"))

    def comments(self, article, parents):
        """Build the rows of one article's comments (not written yet)."""
        numbers = number_trees(enumerate(parents), tree_id=self.tree_ids)
        base = self.next_id
        self.next_id += len(parents)
        rows = []
        for index, parent in enumerate(parents):
            tree_id, lft, rght, level = numbers[index]
            body = index % len(BODIES)
            rows.append(
                Comment(
                    id=base + index,
                    article_id=article.pk,
                    parent_id=None if parent is None else base + parent,
                    tree_id=tree_id,
                    lft=lft,
                    rght=rght,
                    level=level,
                    author_name=f"Reader {index % 997}",
                    author_email=f"reader{index % 997}@example.net",
                    author_url="https://example.net/" if index % 5 == 0 else "",
                    body=BODIES[body],
                    body_html=BODY_HTML[body],
                    status=Comment.Status.APPROVED,
                    created_at=self.start + timedelta(seconds=index),
                    ip_address="203.0.113.9",
                    user_agent="benchmark",
                )
            )
        return rows

    def write(self, rows, *, label):
        batch = 1000
        with (
            transaction.atomic(),
            tqdm(
                total=len(rows), desc=label, unit="comment", disable=not self.progress, leave=False
            ) as bar,
        ):
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                Comment.objects.bulk_create(chunk)
                bar.update(len(chunk))
        self.rows_written += len(rows)

    def finish(self):
        """Move the id sequences past the explicit ids (PostgreSQL)."""
        statements = connection.ops.sequence_reset_sql(no_style(), [Comment, Article])
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)

    def settle(self):
        """PostgreSQL (outside a transaction): the statistics and visibility map that
        autovacuum keeps on a running site. Freshly bulk-loaded tables have neither, and
        autovacuum would otherwise arrive in the middle of a measurement."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
