"""Posting, editing and withdrawing comments: the write paths readers use."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comments import moderation, rules, sanctions, treewrites
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
        commenter=candidate.commenter,  # read by the trust rule (None: a first comment)
    )
    # Each attempt saves a fresh copy: a failed save leaves pk and tree fields behind.
    return treewrites.retry_write(
        lambda: _store_comment(_unsaved_copy(comment), parent=parent, article=article)
    )


def _unsaved_copy(comment):
    return Comment(
        **{f.attname: getattr(comment, f.attname) for f in Comment._meta.concrete_fields}
    )


def _store_comment(comment, *, parent, article):
    """The locked, atomic insert (retried by ``retry_write`` when the database is locked)."""

    def check(comment):
        # Under the tree's lock, the parent just re-read: it may have stopped being
        # public since the form was validated.
        parent = comment.parent
        if parent is not None and (not parent.is_public or parent.article_id != article.pk):
            raise ValidationError(
                {"parent": _("You can only reply to published comments.")}, code="not_public"
            )
        # The article and the parent are known to exist, and the check constraints are
        # the database's own: skip the queries that re-prove them.
        comment.full_clean(
            exclude=["lft", "rght", "tree_id", "level", "article", "parent", "commenter"],
            validate_constraints=False,
        )

    with transaction.atomic():
        treewrites.insert(comment, parent=parent, validate=check)
        moderation.record_new_comment(comment)
    return comment


class EditRefused(Exception):
    """The comment can't be edited any more; ``message`` says why."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass
class EditResult:
    comment: Comment
    held: bool = False  # this edit sent the comment to moderation (held, or marked spam)


# An edit can make a comment's status stricter, never less strict: only a moderator
# approves, and a spam verdict is never undone by rewording.
_STRICTNESS = {Comment.Status.APPROVED: 0, Comment.Status.PENDING: 1, Comment.Status.SPAM: 2}


def edit_refusal(comment, *, now=None, sanctioned=None):
    """Why the poster can't edit ``comment`` now (a message for them), or None.

    Spam is editable like a held comment, so the poster can't tell the two apart. A
    banned or suspended poster (by the comment's email address or IP address) can't
    edit either: ``sanctioned`` is the refusal when the caller checked already.
    """
    if comment.status not in _STRICTNESS:
        return _("This comment can no longer be edited.")
    if not comment.article.accepts_comments:
        return _("Comments on this article are closed, so this comment can no longer be edited.")
    if (now or timezone.now()) > editable_until(comment):
        return _("The time to edit this comment has passed.")
    if sanctioned is None:
        sanctioned = _sanction_refusal(comment)
    if sanctioned:
        return sanctioned.message
    return None


def _sanction_refusal(comment):
    """The posting refusal a sanction on ``comment``'s author gives, or False."""
    in_force = sanctions.in_force_for(comment.author_email, comment.ip_address)
    return rules.sanction_refusal(in_force) or False


def can_edit(comment, *, now=None):
    return edit_refusal(comment, now=now) is None


def editable_comment_ids(*, article, ids):
    """Which of the reader's comments ``ids`` on ``article`` they may still edit."""
    if not ids or not article.accepts_comments:
        return frozenset()
    comments = Comment.objects.filter(pk__in=ids, article=article).only(
        "pk", "created_at", "status", "author_email", "ip_address"
    )
    editable, refusals = set(), {}
    for comment in comments:
        comment.article = article  # known: no query per comment
        if edit_refusal(comment, sanctioned=False) is not None:
            continue
        author = (comment.author_email, comment.ip_address)  # one sanction check each
        if author not in refusals:
            refusals[author] = _sanction_refusal(comment)
        if not refusals[author]:
            editable.add(comment.pk)
    return frozenset(editable)


def _edit_candidate(comment, body):
    """The edited comment as the content rules see a new one: its author, the new text."""
    user = comment.user if comment.user_id else None
    return rules.Candidate(
        article=comment.article,
        name=comment.author_name,
        email=comment.author_email,
        url=comment.author_url,
        body=body,
        ip_address=comment.ip_address,
        user_agent=comment.user_agent,
        user=user if user is not None and user.is_active else None,
        parent=comment.parent,
    )


def edit_comment(comment, *, body):
    """Replace the text (the previous one kept as a revision for moderators) and judge
    the new text by the content rules, as a new comment's (``rules.evaluate_edit``).

    A clean edit keeps the comment's status; otherwise it is held or marked spam
    through ``comments.moderation`` (moderators are told of held comments). Returns
    an ``EditResult``; raises ``EditRefused`` when the comment can't be edited any
    more (edit window passed, comments closed, or removed meanwhile).
    """
    # Judged before taking the lock: the optional spam service may be slow. Nothing the
    # rules read but the body changes through an edit.
    verdict = rules.evaluate_edit(_edit_candidate(comment, body))
    with transaction.atomic():
        comment = Comment.objects.select_for_update().get(pk=comment.pk)
        refusal = edit_refusal(comment)
        if refusal is not None:
            raise EditRefused(refusal)
        if body == comment.body:
            return EditResult(comment)
        CommentRevision.objects.create(comment=comment, body=comment.body)
        comment.body = body
        comment.edited_at = timezone.now()
        fields = ["body", "body_html", "edited_at"]
        stricter = verdict is not None and (
            _STRICTNESS[verdict.status] > _STRICTNESS[comment.status]
        )
        if verdict is not None and verdict.status == comment.status:
            comment.moderation_reason = verdict.reason  # still held: say why now
            fields.append("moderation_reason")
        comment.save(update_fields=fields)  # a public comment's pages: comments.signals
        if stricter:
            moderation.set_status([comment], verdict.status, reason=verdict.reason)
            comment.refresh_from_db(fields=["status", "moderation_reason", "moderated_at"])
    return EditResult(comment, held=verdict is not None)


def withdraw_comment(comment):
    """The poster takes their comment back: removed, replies kept under a placeholder."""
    return moderation.remove([comment], reason="withdrawn by its author")
