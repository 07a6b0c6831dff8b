"""Checking and repairing the comment trees' nested-set (MPTT) invariants.

Every tree must hold, for its ``n`` nodes:

* exactly one root (no parent, level 0, ``lft`` 1, ``rght`` 2n) whose ``tree_id`` no
  other root shares;
* every node in its parent's tree, on its parent's article, one level deeper, with
  ``lft``/``rght`` strictly inside its parent's;
* boundaries exactly those a depth-first walk of the parent links gives.

The parent links are the truth: ``repair_trees()`` recomputes ``tree_id``, ``lft``,
``rght`` and ``level`` from them (``comments.treewrites.number_trees``, the numbering
the importer and the benchmarks' builder use) and updates only the rows that differ
(``treewrites.renumber``), under the same locks as posting, taken before the rows are
read. A reply attached to a comment on another article, or a cycle of parents, cannot
be repaired automatically and is reported as such.

Bodies are checked too: ``body_html`` is derived from ``body`` on save, so rows
rendered by an older renderer (say, before a linking fix) keep the old markup until
``rerender_bodies()`` renders them again.

Used by ``manage.py comments_check`` and by tests (``check_trees()``).
"""

from dataclasses import dataclass, field

from django.db import transaction

from comments.models import Comment
from comments.signals import invalidate
from comments.text import render_comment_body
from comments.treewrites import Numbers, lock_new_tree, lock_tree, number_trees, renumber

MAX_MESSAGES = 10
FIELDS = ("pk", "parent_id", "article_id", "tree_id", "lft", "rght", "level", "created_at")


@dataclass
class Node:
    pk: int
    parent_id: int | None
    article_id: int
    tree_id: int
    lft: int
    rght: int
    level: int
    created_at: object


@dataclass
class TreeProblem:
    tree_id: int
    root_id: int | None
    messages: list = field(default_factory=list)
    repairable: bool = True

    def __str__(self):
        root = f"root #{self.root_id}" if self.root_id is not None else "no root"
        shown = self.messages[:MAX_MESSAGES]
        more = len(self.messages) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more" if more else "")
        fix = "" if self.repairable else " [cannot be repaired automatically]"
        return f"tree {self.tree_id} ({root}){fix}: {text}"


@dataclass
class Report:
    comments: int = 0
    trees: int = 0
    problems: list = field(default_factory=list)
    changed: dict = field(default_factory=dict)  # comment pk -> (old, new) boundaries

    @property
    def ok(self):
        return not self.problems


def _load():
    rows = Comment.objects.order_by("tree_id", "lft", "pk").values_list(*FIELDS)
    return {row[0]: Node(*row) for row in rows.iterator(chunk_size=5000)}


def _analyse(nodes, *, fresh_tree_id):
    """Compare every node with what its parent links say; return (report, changes).

    The expected numbers are ``treewrites.number_trees()``'s: siblings keep their
    current order where it is meaningful (same tree as their parent, by ``lft``), then
    creation order; a root whose tree id an earlier root claimed gets a fresh one.
    """
    roots = sorted(
        (node for node in nodes.values() if node.parent_id is None),
        key=lambda n: (n.tree_id, n.created_at, n.pk),
    )

    problems = {}

    def problem(root):
        if root.pk not in problems:
            problems[root.pk] = TreeProblem(tree_id=root.tree_id, root_id=root.pk)
        return problems[root.pk]

    tree_ids = {}  # root pk -> the tree id it keeps or gets
    claimed = {}  # tree id -> root
    next_id = fresh_tree_id
    for root in roots:
        if root.tree_id in claimed:
            problem(root).messages.append(f"tree id also used by root #{claimed[root.tree_id].pk}")
            tree_ids[root.pk], next_id = next_id, next_id + 1
        else:
            claimed[root.tree_id] = root
            tree_ids[root.pk] = root.tree_id
    root_by_tree = {tree_id: nodes[pk] for pk, tree_id in tree_ids.items()}

    def sibling_order(node):
        parent = nodes.get(node.parent_id)
        home = parent.tree_id if parent is not None else node.tree_id
        return (node.tree_id != home, node.lft, node.created_at, node.pk)

    pairs = [(root.pk, None) for root in roots] + [
        (node.pk, node.parent_id)
        for node in sorted(
            (node for node in nodes.values() if node.parent_id is not None), key=sibling_order
        )
    ]
    expected = number_trees(pairs, tree_id=tree_ids.__getitem__)

    unreachable = [node for node in nodes.values() if node.pk not in expected]
    if unreachable:
        orphan = TreeProblem(tree_id=unreachable[0].tree_id, root_id=None, repairable=False)
        orphan.messages.append(
            "comments not reachable from any root (a cycle of parents): "
            + ", ".join(f"#{n.pk}" for n in sorted(unreachable, key=lambda n: n.pk))
        )
        problems[None] = orphan

    changed = {}
    for pk, want in expected.items():
        node = nodes[pk]
        root = root_by_tree[want.tree_id]
        parent = nodes.get(node.parent_id)
        if parent is not None and parent.article_id != node.article_id:
            entry = problem(root)
            entry.repairable = False
            entry.messages.append(
                f"comment #{pk} is on article {node.article_id}, its parent #{parent.pk} "
                f"on article {parent.article_id}"
            )
        if parent is not None and parent.tree_id != node.tree_id:
            problem(root).messages.append(
                f"comment #{pk} has tree id {node.tree_id}, its parent #{parent.pk} "
                f"{parent.tree_id}"
            )
        have = (node.tree_id, node.lft, node.rght, node.level)
        if have != want:
            changed[pk] = (have, tuple(want))
            if have[1:] != want[1:]:
                problem(root).messages.append(
                    f"comment #{pk} has lft/rght/level {have[1]}/{have[2]}/{have[3]}, "
                    f"expected {want[1]}/{want[2]}/{want[3]}"
                )

    report = Report(
        comments=len(nodes),
        trees=len(roots),
        problems=sorted(problems.values(), key=lambda p: (p.root_id is None, p.tree_id)),
    )
    return report, changed


def check_trees():
    """Read every comment once and return a ``Report`` of the broken trees."""
    report, _changed = _analyse(_load(), fresh_tree_id=0)
    return report


def repair_trees():
    """Rebuild the broken trees from their parent links; return the report of what was
    wrong, with ``report.changed`` mapping each updated comment to (old, new) values.

    The trees to rewrite are locked before the rows the new numbers come from are read:
    read everything, lock the trees that need changes, read again, until no tree
    needing a change is unlocked (twice, unless a tree broke meanwhile).
    """
    with transaction.atomic():
        lock_new_tree()  # fresh tree ids for roots that share one
        locked = set()
        while True:
            nodes = _load()
            top = max((node.tree_id for node in nodes.values()), default=0)
            report, changed = _analyse(nodes, fresh_tree_id=top + 1)
            trees = {old[0] for old, _new in changed.values()}
            if trees <= locked:
                break
            for tree_id in sorted(trees - locked):
                lock_tree(tree_id)
            locked |= trees
        if not report.problems:
            return report
        renumber({pk: Numbers(*new) for pk, (_old, new) in changed.items()})
        article_ids = {nodes[pk].article_id for pk in changed}
        invalidate(article_ids)  # bulk_update sends no model signals
        report.changed = changed
    return report


def _stale_bodies():
    """``[(pk, article_id, fresh body_html)]`` for rows whose stored HTML is out of date."""
    rows = (
        Comment.objects.filter(body_is_html=False)  # imported HTML is kept as it is
        .order_by("pk")
        .values_list("pk", "article_id", "body", "body_html")
    )
    stale = []
    for pk, article_id, body, body_html in rows.iterator(chunk_size=5000):
        fresh = render_comment_body(body)
        if fresh != body_html:
            stale.append((pk, article_id, fresh))
    return stale


def count_stale_bodies():
    """How many comments' ``body_html`` differs from ``render_comment_body(body)``."""
    return len(_stale_bodies())


def rerender_bodies():
    """Store ``render_comment_body(body)`` where ``body_html`` differs; return the pks
    updated. Cached threads of the articles concerned are invalidated."""
    with transaction.atomic():
        stale = _stale_bodies()
        objs = [Comment(pk=pk, body_html=html) for pk, _article_id, html in stale]
        Comment.objects.bulk_update(objs, ["body_html"], batch_size=500)
        invalidate({article_id for _pk, article_id, _html in stale})  # bulk_update: no signals
    return [pk for pk, _article_id, _html in stale]
