"""Locks for writes that change ``lft/rght/tree_id``.

django-mptt shifts a whole tree's boundaries on every insert and gives a new
root ``max(tree_id) + 1``, with no locking of its own. Every such write runs
inside ``transaction.atomic()`` after taking the matching lock:

* PostgreSQL: transaction-level advisory locks, one per tree for replies and a
  site-wide one for new trees, released at commit or rollback.
* SQLite: transactions are IMMEDIATE (see settings), so the first statement
  takes the database's write lock and writers queue behind the busy timeout.
"""

from django.db import connection

# Advisory lock key space: (namespace, id). The namespace keeps our keys apart
# from any other application sharing the database.
LOCK_NAMESPACE = 0x7470  # "tp"
NEW_TREE_KEY = 0


def _advisory_lock(key):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, key])


def _serialize_sqlite_writer():
    # An IMMEDIATE transaction already holds the write lock; a no-op write makes
    # sure of it even if the transaction mode was changed.
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
