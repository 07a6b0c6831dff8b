"""Locks for writes that change ``lft/rght/tree_id``.

django-mptt shifts a whole tree's boundaries on every insert and gives a new
root ``max(tree_id) + 1``, with no locking of its own. Every such write runs
inside ``transaction.atomic()`` after taking the matching lock:

* PostgreSQL: transaction-level advisory locks, one per tree for replies and a
  site-wide one for new trees, released at commit or rollback.
* SQLite: transactions are IMMEDIATE (see settings), so the first statement
  takes the database's write lock and writers queue behind the busy timeout.

``retry_write()`` runs such a write again, briefly, when the database reports a
transient conflict (SQLite locked, a PostgreSQL deadlock or serialization
failure); if it still fails, the error reaches the 503 page, text kept.
"""

import logging
import random
import time

from django.db import OperationalError, connection

logger = logging.getLogger("threadpress")

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
    """Take the lock for allocating a new tree id. Call inside ``atomic()``."""
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
