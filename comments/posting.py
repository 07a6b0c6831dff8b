"""Posting, editing and withdrawing comments: the write paths readers use."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from comments import moderation, rules
from comments.locking import lock_new_tree, lock_tree, retry_write
from comments.models import Comment, CommentRevision
from comments.threads import editable_until


@dataclass
class RequestMeta:
    ip_address: str | None
    user_agent: str = ""


def post_comment(*, article, form, request_meta, user=None):
    """Store a valid form's comment with the verdict of the moderation rules.

    Raises ``rules.CommentRefused`` (duplicate, flood: nothing stored) or
    ``ValidationError`` (the parent stopped being a valid target meanwhile).
    """
    data = form.cleaned_data
    parent = data["parent"]
    user = user if user is not None and user.is_authenticated else None
    candidate = rules.Candidate(
        article=article,
        name=data["name"],
        email=data["email"],
        url=data["url"],
        body=data["body"],
        ip_address=request_meta.ip_address,
        user_agent=request_meta.user_agent[:500],
        user=user,
        honeypot_filled=form.honeypot_filled,
        seconds_since_render=form.seconds_since_render,
        parent=parent,
    )
    verdict = rules.evaluate(candidate)
    comment = Comment(
        article=article,
        author_name=candidate.name,
        author_email=candidate.email,
        author_url=candidate.url,
        user=user,
        body=candidate.body,
        status=verdict.status,
        moderation_reason=verdict.reason,
        ip_address=candidate.ip_address,
        user_agent=candidate.user_agent,
        notify_replies=bool(data.get("notify")),
        created_at=timezone.now(),
    )
    # Each attempt saves a fresh copy: a failed save leaves pk and tree fields behind.
    return retry_write(
        lambda: _store_comment(_unsaved_copy(comment), parent=parent, article=article)
    )


def _unsaved_copy(comment):
    return Comment(
        **{f.attname: getattr(comment, f.attname) for f in Comment._meta.concrete_fields}
    )


def _store_comment(comment, *, parent, article):
    """The locked, atomic insert (retried by ``retry_write`` when the database is locked)."""
    with transaction.atomic():
        if parent is None:
            lock_new_tree()
        else:
            lock_tree(parent.tree_id)
            # Re-read the parent under the lock: its rght may have moved since the form
            # was validated, and it may no longer be public.
            parent = Comment.objects.select_for_update().get(pk=parent.pk)
            if not parent.is_public or parent.article_id != article.pk:
                raise ValidationError(
                    {"parent": "You can only reply to published comments."}, code="not_public"
                )
        comment.parent = parent
        # The article and the parent (re-read under the lock) are known to exist, and the
        # check constraints are the database's own: skip the queries that re-prove them.
        comment.full_clean(
            exclude=["lft", "rght", "tree_id", "level", "article", "parent"],
            validate_constraints=False,
        )
        if parent is not None:
            # Make room under the parent just re-read under the lock: django-mptt need
            # not read its boundaries a second time.
            comment.insert_at(parent, position="last-child", refresh_target=False)
        comment.save()
        moderation.record_new_comment(comment)
    return comment


def can_edit(comment, *, now=None):
    return (now or timezone.now()) <= editable_until(comment) and comment.status in (
        Comment.Status.APPROVED,
        Comment.Status.PENDING,
    )


def edit_comment(comment, *, body):
    """Replace the text, keeping the previous one as a revision for moderators."""
    with transaction.atomic():
        comment = Comment.objects.select_for_update().get(pk=comment.pk)
        if body == comment.body:
            return comment
        CommentRevision.objects.create(comment=comment, body=comment.body)
        comment.body = body
        comment.edited_at = timezone.now()
        comment.save(update_fields=["body", "body_html", "edited_at"])
        if comment.is_public:
            moderation.bump_thread_version([comment.article_id])
    return comment


def withdraw_comment(comment):
    """The poster takes their comment back: removed, replies kept under a placeholder."""
    return moderation.remove([comment], reason="withdrawn by its author")
