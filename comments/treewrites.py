"""Every write that changes where comments sit in their trees.

A comment's place in its thread is django-mptt's nested set: ``tree_id`` (one tree
per top-level comment), ``lft``/``rght`` (the interval that holds its replies) and
``level``. Inserting, moving or deleting one comment shifts the boundaries of others,
so those writes live here, and only here:

* ``insert()``: a new comment as the last reply to its parent, or a new thread
  (posting);
* ``move()``: a comment and its replies under another parent (the admin's change form);
* ``delete_leaf()``: a comment without replies (the admin's superuser delete);
* ``number_trees()``: the numbers of whole trees computed in Python from
  ``(key, parent)`` pairs, for writers that build trees in bulk (the WordPress
  importer through ``place_new_comments()`` and ``bulk_insert()``, the benchmarks'
  data builder) and for ``comments_check``, which compares them with what is stored;
* ``renumber()``: stores such numbers (the importer's grafts, ``comments_check --repair``).

django-mptt gives a new root ``max(tree_id) + 1`` and shifts a whole tree on every
insert, with no locking of its own. Every write above runs inside a transaction after
taking the matching lock:

* PostgreSQL: transaction-level advisory locks, one per tree and a site-wide one for
  allocating new tree ids, released at commit or rollback. Posting takes one; a move
  or a repair takes the new-tree lock first, then trees in ascending id order; an
  import takes each thread's as it reaches it (PostgreSQL ends a deadlock, should one
  arise, by failing one of the transactions).
* SQLite: transactions are IMMEDIATE (see settings), so the first statement takes the
  database's write lock and writers queue behind the busy timeout.

``retry_write()`` runs such a write again, briefly, when the database reports a
transient conflict (SQLite locked, a PostgreSQL deadlock or serialization failure);
if it still fails, the error reaches the 503 page, text kept.

Why not django-mptt's ``partial_rebuild()`` for repairs: it reads one tree id at a
time, so it can't bring back a reply stored under another tree id or split two roots
sharing one (it raises); it recurses once per level (a reply chain a thousand deep
raises ``RecursionError``); and ``comments_check`` has to compute the expected numbers
anyway to say what is wrong. ``number_trees()`` does both jobs with one numbering.
"""

import logging
import random
import time
from collections import defaultdict
from typing import NamedTuple

from django.db import OperationalError, connection, transaction
from django.db.models import Max
from mptt.exceptions import InvalidMove

from comments import commenters
from comments.models import Comment

logger = logging.getLogger("threadpress")

__all__ = [
    "HasReplies",
    "InvalidMove",
    "Numbers",
    "TreeIds",
    "bulk_insert",
    "delete_leaf",
    "insert",
    "is_transient",
    "lock_new_tree",
    "lock_tree",
    "move",
    "number_trees",
    "place_new_comments",
    "renumber",
    "retry_write",
]

# --- locks ---------------------------------------------------------------------------
# Transient conflicts worth another try: SQLite's lock errors (shared-cache
# databases report "table is locked" without waiting for the busy timeout) and
# PostgreSQL's deadlock / serialization failures.
TRANSIENT_MESSAGES = ("database is locked", "database table is locked", "deadlock detected")
TRANSIENT_SQLSTATES = ("40001", "40P01")
WRITE_ATTEMPTS = 6
FIRST_RETRY_DELAY = 0.02  # seconds, doubled each time: about 1.3 s in all at most

# Advisory lock key space: (namespace, id). The namespace keeps our keys apart
# from any other application sharing the database.
LOCK_NAMESPACE = 0x7470  # "tp"
NEW_TREE_KEY = 0

TREE_FIELDS = ["tree_id", "lft", "rght", "level"]
BATCH_SIZE = 500


def _advisory_lock(key):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, key])


def _serialize_sqlite_writer():
    """An IMMEDIATE transaction (our settings) took the write lock at BEGIN; only a
    DEFERRED one needs a write now to take it before reading the tree."""
    if connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") == "IMMEDIATE":
        return
    with connection.cursor() as cursor:
        cursor.execute("UPDATE comments_comment SET id = id WHERE 0")


def lock_tree(tree_id):
    """Take the lock for changing tree ``tree_id``. Call inside ``atomic()``."""
    if connection.vendor == "postgresql":
        _advisory_lock(int(tree_id) % 2_147_483_647 + 1)
    elif connection.vendor == "sqlite":
        _serialize_sqlite_writer()


def lock_new_tree():
    """Take the lock for allocating new tree ids. Call inside ``atomic()``."""
    if connection.vendor == "postgresql":
        _advisory_lock(NEW_TREE_KEY)
    elif connection.vendor == "sqlite":
        _serialize_sqlite_writer()


def is_transient(exc):
    """True when ``exc`` is a lock conflict that a retry of the transaction can clear."""
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate in TRANSIENT_SQLSTATES or any(
        message in str(exc).lower() for message in TRANSIENT_MESSAGES
    )


def retry_write(write, *, attempts=WRITE_ATTEMPTS, first_delay=FIRST_RETRY_DELAY):
    """Call ``write()`` (which opens its own ``atomic()``) until it stops hitting locks.

    Only outside an enclosing transaction: inside one, the failed statement has
    already broken the outer transaction, so the error is raised at once.
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except OperationalError as exc:
            if attempt == attempts or connection.in_atomic_block or not is_transient(exc):
                raise
            logger.info("Write hit a lock (%s); retry %d of %d", exc, attempt, attempts - 1)
        time.sleep(delay * (1 + random.random()))
        delay *= 2
    return None  # not reached


def _locked_row(pk, tree_id, *, fields=None):
    """Comment ``pk`` re-read under the lock of its tree (``tree_id`` as the caller
    last read it). Moves take the same locks, so a tree id that changed meanwhile
    means a move committed just before: its new tree is locked too."""
    while True:
        lock_tree(tree_id)
        rows = Comment.objects.select_for_update()
        row = (rows.only(*fields) if fields else rows).get(pk=pk)
        if row.tree_id == tree_id:
            return row
        tree_id = row.tree_id


class TreeIds:
    """Fresh tree ids for a transaction that starts trees in bulk. The first call
    takes the new-tree lock (held until the transaction ends: call inside
    ``atomic()``) and reads the highest id in use; later calls count on from there.
    Accepts and ignores a root, so it can be ``number_trees()``'s ``tree_id``."""

    def __init__(self):
        self._next = None

    def __call__(self, _root=None):
        if self._next is None:
            lock_new_tree()
            self._next = (Comment.objects.aggregate(top=Max("tree_id"))["top"] or 0) + 1
        tree_id = self._next
        self._next += 1
        return tree_id


# --- one comment at a time: django-mptt's own writes, under our locks -------------------
# They run in the caller's transaction, which holds the locks until it ends (posting's
# insert and its moderation record, the admin's change form and its log entry).


def _require_transaction():
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError(
            "Tree writes run inside atomic(): their locks last until it ends."
        )


class HasReplies(Exception):
    """A comment with replies is never deleted (moderators remove it instead)."""


def insert(comment, *, parent, validate=None):
    """Store the unsaved ``comment`` as the last reply to ``parent``, or as a new
    thread when ``parent`` is None, under the tree's lock; return it.

    The parent is re-read under the lock (its ``rght`` may have moved since the caller
    read it) and set on ``comment``; ``validate(comment)`` then runs, still under the
    lock and before anything is written: raise there to refuse (nothing is stored, and
    the caller's transaction stays usable).

    The comment joins its commenter (``comments.commenters``): the one it carries, or
    the one of its email address, created if new; and is counted on their record.
    """
    _require_transaction()
    if comment.commenter_id is None:
        comment.commenter = commenters.commenter_for(
            comment.author_email,
            name=comment.author_name,
            user=comment.user if comment.user_id else None,
            seen_at=comment.created_at,
        )
    if parent is None:
        lock_new_tree()
    else:
        parent = _locked_row(parent.pk, parent.tree_id)
    comment.parent = parent
    if validate is not None:
        validate(comment)
    if parent is not None:
        # Make room under the parent just re-read: django-mptt need not read its
        # boundaries a second time.
        comment.insert_at(parent, position="last-child", refresh_target=False)
    comment.save()
    commenters.record_comment(comment)
    return comment


def move(comment, *, parent):
    """Save the stored ``comment`` (with any other changed fields) as the last reply to
    ``parent``, its replies with it, or as a thread of its own when ``parent`` is None.

    Takes the locks of both trees (and the new-tree lock for a new thread) and re-reads
    both comments' boundaries under them. Raises ``InvalidMove`` when ``parent`` is the
    comment itself or one of its replies (checked under the locks, before any write).
    """
    _require_transaction()
    stored = Comment.objects.filter(pk=comment.pk).values_list("tree_id", flat=True).get()
    if parent is None:
        lock_new_tree()
    for tree in sorted({stored, parent.tree_id if parent is not None else stored}):
        lock_tree(tree)
    node = _locked_row(comment.pk, stored, fields=TREE_FIELDS)
    if parent is not None:
        parent = _locked_row(parent.pk, parent.tree_id)
    if parent is not None and parent.is_descendant_of(node, include_self=True):
        raise InvalidMove("A comment can't become a reply to itself or to its replies.")
    comment.parent = parent
    # django-mptt sees the new parent, re-reads the comment's own boundaries and moves
    # the subtree after the parent's (just re-read) last reply.
    comment.save()
    return comment


def delete_leaf(comment):
    """Delete ``comment``, which must have no replies, and close its gap in the tree,
    under the tree's lock. Raises ``HasReplies`` (nothing deleted) otherwise."""
    _require_transaction()
    node = _locked_row(comment.pk, comment.tree_id)
    if node.get_descendant_count():
        raise HasReplies("A comment with replies cannot be deleted.")
    node.delete()


# --- whole trees: numbers computed in Python ------------------------------------------
class Numbers(NamedTuple):
    tree_id: int
    lft: int
    rght: int
    level: int


def number_trees(pairs, *, tree_id):
    """Nested-set numbers of the trees that ``(key, parent_key)`` pairs describe: the
    numbers django-mptt gives when each comment is inserted as its parent's last child.

    Keys are any hashable values (comment pks, list indexes…). A pair whose parent is
    None starts a tree, whose id is ``tree_id(root_key)`` (called once per root, in the
    order the roots come). Siblings are numbered in the order their pairs come, parents
    before or after their replies alike. Keys no root reaches (a cycle of parents, a
    parent not in ``pairs``) are left out. Iterative, so depth is unlimited.

    Returns ``{key: Numbers(tree_id, lft, rght, level)}``.
    """
    roots, children = [], defaultdict(list)
    for key, parent in pairs:
        if parent is None:
            roots.append(key)
        else:
            children[parent].append(key)
    numbers = {}
    for root in roots:
        tree = tree_id(root)
        counter = 0
        # (key, level, its lft once entered: None on the way down)
        stack = [(root, 0, None)]
        while stack:
            key, level, lft = stack.pop()
            counter += 1
            if lft is not None:
                numbers[key] = Numbers(tree, lft, counter, level)
                continue
            stack.append((key, level, counter))
            replies = children.get(key)
            if replies:
                stack.extend((reply, level + 1, None) for reply in reversed(replies))
    return numbers


def renumber(numbers):
    """Store ``numbers`` (``{pk: Numbers}``, the rows whose numbers change). The caller
    holds the locks of the trees concerned and computed the numbers from rows it read
    under them."""
    # The unique (tree_id, lft/rght) constraints are deferred to commit (PostgreSQL;
    # SQLite has none), so rows may pass through each other's numbers meanwhile.
    Comment.objects.bulk_update(
        [Comment(pk=pk, **value._asdict()) for pk, value in numbers.items()],
        TREE_FIELDS,
        batch_size=BATCH_SIZE,
    )


def place_new_comments(comments, *, tree_ids):
    """Number unsaved ``comments`` for ``bulk_insert()``: each one's ``parent`` is
    None (a new thread, its id from ``tree_ids``, e.g. a ``TreeIds``), another of
    ``comments``, or a stored comment. They become last replies in list order.

    The stored trees that receive replies are locked, read and renumbered (their rows
    are updated now, so call ``bulk_insert()`` in the same transaction).
    """
    grafted = sorted(
        {c.parent.tree_id for c in comments if c.parent is not None and c.parent.pk is not None}
    )
    for tree in grafted:
        lock_tree(tree)
    stored = []
    if grafted:
        stored = list(
            Comment.objects.filter(tree_id__in=grafted)
            .order_by("tree_id", "lft")
            .values_list("pk", "parent_id", *TREE_FIELDS)
        )
    # Keys: ("stored", pk) and ("new", position in comments): unsaved comments are
    # unhashable, and the two kinds must never collide.
    position = {id(comment): index for index, comment in enumerate(comments)}

    def key_of(parent):
        if parent is None:
            return None
        if parent.pk is not None:
            return ("stored", parent.pk)
        return ("new", position[id(parent)])

    stored_roots = {}
    pairs = []
    for pk, parent_id, tree, *_rest in stored:
        pairs.append((("stored", pk), None if parent_id is None else ("stored", parent_id)))
        if parent_id is None:
            stored_roots[("stored", pk)] = tree
    pairs.extend((("new", index), key_of(c.parent)) for index, c in enumerate(comments))
    numbers = number_trees(
        pairs, tree_id=lambda root: stored_roots[root] if root in stored_roots else tree_ids(root)
    )
    for index, comment in enumerate(comments):
        comment.tree_id, comment.lft, comment.rght, comment.level = numbers[("new", index)]
    moved = {
        pk: numbers[("stored", pk)]
        for pk, _parent_id, *have in stored
        if numbers[("stored", pk)] != tuple(have)
    }
    if moved:
        renumber(moved)


def bulk_insert(comments, *, batch_size=BATCH_SIZE):
    """Insert comments numbered by ``place_new_comments()``, parents before replies
    (one ``bulk_create`` per level, so each reply's parent has its pk by then).

    Each comment without a commenter gets the one of its email address (the missing
    ones created in bulk), and the commenters' records are recounted once at the end
    (``comments.commenters``)."""
    commenters.assign([comment for comment in comments if comment.commenter_id is None])
    by_level = defaultdict(list)
    for comment in comments:
        by_level[comment.level].append(comment)
    for level in sorted(by_level):
        Comment.objects.bulk_create(by_level[level], batch_size=batch_size)
    commenters.refresh_stats({comment.commenter_id for comment in comments})
