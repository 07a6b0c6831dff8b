"""Invalidation: one hook, reached from the model signals whatever code path saved a row.

``invalidate(article_ids)`` gives the articles a new ``CacheVersion`` (an ``UPDATE`` in
the caller's transaction, so every cached page and thread of theirs gets a new key) and,
once the transaction has committed, sends ``discussion_changed`` with every article id
the transaction touched, once. The edge cache (a later issue) purges on that signal;
nothing else has to know which pages a change touches.

The receivers below call it for every visible change:

- a comment saved or deleted: the admin's change form, posting, editing, ``seed_demo``,
  anything calling ``save()``. A comment that was and stays unpublished changes nothing
  a reader sees unless it stands as a placeholder above shown replies; saves that only
  touch bookkeeping fields (reports, notification choice, moderation reason) neither.
- an article saved or deleted (a save moves its ``updated_at``, which is in the key);
- a user whose display name changed (the byline of each of their articles);
- a user who gained or lost staff status, or was deleted (the "Staff" and "Author"
  badges on their comments: ``comments.rendering.person_badges``).

Writes that send no model signals call it themselves: ``comments.moderation`` (one
``UPDATE`` for a batch of comments), the WordPress importer and ``comments_check
--repair`` (``bulk_create`` / ``bulk_update``). A ``QuerySet.update()`` typed in a shell
bypasses it: the per-worker page copies expire within ``PROCESS_CACHE_SECONDS``, the
shared cache only when the article changes next (or ``invalidate`` is called).
"""

import logging

from django.contrib.auth import get_user_model
from django.db import router, transaction
from django.db.models.signals import post_delete, post_init, post_save, pre_delete
from django.dispatch import Signal

from articles.models import Article, display_name
from comments.models import Comment

logger = logging.getLogger("threadpress")

# Sent after commit, once per transaction that made visible changes, with
# ``article_ids``: a frozenset of the articles whose pages changed.
discussion_changed = Signal()

UNKNOWN = object()
LOADED_ATTR = "_status_and_article_at_load"
NAME_AT_LOAD = "_display_name_at_load"
STAFF_AT_LOAD = "_is_staff_at_load"
PENDING_ATTR = "_discussion_changed_pending"
BATCH = 500  # ids per UPDATE, well inside every database's parameter limit
# Comment fields no reader sees: saving only these changes no page.
BOOKKEEPING_FIELDS = frozenset(
    {
        "report_count",
        "moderation_reason",
        "moderated_at",
        "moderated_by",
        "moderated_by_id",
        "notify_replies",
        "ip_address",
        "user_agent",
        "author_email",
        "user",
        "user_id",
    }
)


def invalidate(article_ids, *, using=None):
    """The one invalidation hook: new cache versions for ``article_ids`` now (same
    transaction as the change), ``discussion_changed`` after commit."""
    ids = frozenset(pk for pk in article_ids if pk is not None)
    if not ids:
        return
    using = using or router.db_for_write(Article)
    ordered = sorted(ids)  # the same lock order in every transaction
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        Article.objects.using(using).filter(pk__in=chunk).bump_cache_version()
    _announce_after_commit(ids, using)


class _Announcement:
    """The article ids one transaction changed, announced once when it commits."""

    def __init__(self):
        self.article_ids = set()
        self.sent = False

    def __call__(self):
        self.sent = True
        send_discussion_changed(frozenset(self.article_ids))


def _announce_after_commit(ids, using):
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        send_discussion_changed(ids)  # autocommit: the change is already committed
        return
    pending = getattr(connection, PENDING_ATTR, None)
    # A new announcement unless this transaction's is still waiting for the commit (a
    # rollback, or a savepoint's, discards the callback Django was keeping).
    if (
        pending is None
        or pending.sent
        or not any(
            func is pending for _sids, func, _robust in getattr(connection, "run_on_commit", ())
        )
    ):
        pending = _Announcement()
        setattr(connection, PENDING_ATTR, pending)
        transaction.on_commit(pending, using=using, robust=True)
    pending.article_ids |= ids


def send_discussion_changed(article_ids):
    """Send ``discussion_changed``; a failing receiver is logged, never raised into the
    request that made the change (and does not keep the other receivers from running)."""
    for receiver, response in discussion_changed.send_robust(
        sender=Article, article_ids=frozenset(article_ids)
    ):
        if isinstance(response, Exception):
            logger.error("discussion_changed receiver %r failed", receiver, exc_info=response)


# --- comments ----------------------------------------------------------------------
def _loaded_state(comment):
    # Never a query: a deferred field is simply not known.
    return comment.__dict__.get("status", UNKNOWN), comment.__dict__.get("article_id", UNKNOWN)


def _remember_comment_state(sender, instance, **kwargs):
    instance.__dict__[LOADED_ATTR] = _loaded_state(instance)


def _stands_as_placeholder(comment):
    """True unless ``comment`` is known to have no replies (a held or removed comment
    with shown replies is shown as a placeholder)."""
    lft, rght = comment.__dict__.get("lft"), comment.__dict__.get("rght")
    return lft is None or rght is None or rght - lft > 1


def is_visible_change(comment, *, created, before, update_fields=None):
    """Whether saving ``comment`` (``before``: its status when loaded) changes a page."""
    if update_fields is not None and not set(update_fields) - BOOKKEEPING_FIELDS:
        return False
    if comment.status == Comment.Status.APPROVED:
        return True
    if created:
        return False  # held, spam or removed from the start: nobody else sees it
    if before is UNKNOWN or before == Comment.Status.APPROVED:
        return True
    return _stands_as_placeholder(comment)


def _comment_saved(sender, instance, created, update_fields, using, **kwargs):
    before, article_before = instance.__dict__.get(LOADED_ATTR, (UNKNOWN, UNKNOWN))
    instance.__dict__[LOADED_ATTR] = _loaded_state(instance)
    if is_visible_change(instance, created=created, before=before, update_fields=update_fields):
        moved_from = () if article_before is UNKNOWN else (article_before,)
        invalidate({instance.article_id, *moved_from}, using=using)


def _comment_deleted(sender, instance, using, **kwargs):
    invalidate([instance.article_id], using=using)


# --- articles ----------------------------------------------------------------------
def _article_changed(sender, instance, using, update_fields=None, **kwargs):
    if update_fields is not None and "updated_at" not in update_fields:
        invalidate([instance.pk], using=using)  # updated_at was not written: a new version
    else:
        # Saved (its updated_at, part of the key, moved) or deleted: the version stays, so
        # the instance in hand is not left behind the database.
        _announce_after_commit(frozenset([instance.pk]), using)


# --- authors -----------------------------------------------------------------------
def _loaded_display_name(user):
    if user.get_deferred_fields():
        return UNKNOWN  # reading it would cost a query per deferred field
    return display_name(user)


def _remember_display_name(sender, instance, **kwargs):
    instance.__dict__[NAME_AT_LOAD] = _loaded_display_name(instance)
    instance.__dict__[STAFF_AT_LOAD] = instance.__dict__.get("is_staff", UNKNOWN)


def _commented_on(user, using):
    """The articles ``user`` commented on from their account."""
    return list(
        Comment.objects.using(using)
        .filter(user=user)
        .order_by()
        .values_list("article_id", flat=True)
        .distinct()
    )


def _user_saved(sender, instance, created, using, update_fields=None, **kwargs):
    before = instance.__dict__.get(NAME_AT_LOAD, UNKNOWN)
    now = _loaded_display_name(instance)
    instance.__dict__[NAME_AT_LOAD] = now
    staff_before = instance.__dict__.get(STAFF_AT_LOAD, UNKNOWN)
    staff_now = instance.__dict__.get("is_staff", UNKNOWN)
    instance.__dict__[STAFF_AT_LOAD] = staff_now
    if created:
        return
    staff_written = update_fields is None or "is_staff" in update_fields
    if staff_written and (staff_now is UNKNOWN or staff_now != staff_before):
        # The "Staff" badge on each of their comments.
        invalidate(_commented_on(instance, using), using=using)
    if now is not UNKNOWN and now == before:
        return  # a login (last_login), a password change: no byline changed
    article_ids = Article.objects.using(using).filter(author=instance).values_list("pk", flat=True)
    invalidate(list(article_ids), using=using)


def _user_deleted(sender, instance, using, **kwargs):
    # Their comments stay, without their account (``Comment.user`` is set to NULL
    # by an UPDATE that sends no signals): no "Staff" or "Author" badge any more.
    invalidate(_commented_on(instance, using), using=using)


def connect():
    """Connect the receivers (``CommentsConfig.ready``)."""
    User = get_user_model()
    post_init.connect(_remember_comment_state, sender=Comment, dispatch_uid=LOADED_ATTR)
    post_save.connect(_comment_saved, sender=Comment, dispatch_uid="comment-saved")
    post_delete.connect(_comment_deleted, sender=Comment, dispatch_uid="comment-deleted")
    post_save.connect(_article_changed, sender=Article, dispatch_uid="article-saved")
    post_delete.connect(_article_changed, sender=Article, dispatch_uid="article-deleted")
    post_init.connect(_remember_display_name, sender=User, dispatch_uid=NAME_AT_LOAD)
    post_save.connect(_user_saved, sender=User, dispatch_uid="author-saved")
    pre_delete.connect(_user_deleted, sender=User, dispatch_uid="commenter-account-deleted")
