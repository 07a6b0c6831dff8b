"""Appeals against a moderator's removal: the statement of reasons' other half.

A moderator who removes a comment gives a reason (``moderation.remove``); the
commenter is emailed it with a signed link (``appeal_token``) to appeal **once**
(``file_appeal``: one ``Appeal`` per comment, a database constraint). The appeal waits
beside the comment in the moderation queue until a moderator answers it, once
(``answer``): *uphold* keeps the comment removed, *reinstate* approves it through
``moderation.approve``; either way the answer is emailed back. This is the complaint
handling the EU Digital Services Act (articles 17 and 20) asks of a platform; the
link stays good for ``COMMENTS_APPEAL_DAYS`` (six months by default, its minimum).

Both writes are atomic, lock the row they decide on, and leave admin ``LogEntry``
rows made by the moderator (a commenter has no account to log under: their appeal is
its own record, with its time).
"""

from datetime import timedelta

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from comments import moderation, notifications
from comments.conf import conf
from comments.models import Appeal, Comment

APPEAL_SALT = "comments.appeal"
REINSTATED_REASON = "reinstated on appeal"  # the comment's moderation reason (English data)


class AppealRefused(Exception):
    """An appeal or answer that can't be accepted: ``message`` says why, to the person
    who sent it; ``code`` names the case."""

    def __init__(self, message, *, code):
        super().__init__(str(message))
        self.message = message
        self.code = code


class LinkInvalid(Exception):
    """The appeal link was not made by this site (or was cut short)."""


class LinkExpired(Exception):
    """The appeal link is genuine but older than ``COMMENTS_APPEAL_DAYS``."""


def appeal_token(comment):
    """The signed, timestamped part of ``comment``'s appeal link."""
    return signing.dumps({"c": comment.pk}, salt=APPEAL_SALT)


def comment_id_for_token(token):
    """The id of the comment an appeal link is for; ``LinkInvalid`` or ``LinkExpired``."""
    try:
        data = signing.loads(token, salt=APPEAL_SALT, max_age=timedelta(days=conf.APPEAL_DAYS))
    except signing.SignatureExpired as error:
        raise LinkExpired from error
    except signing.BadSignature as error:
        raise LinkInvalid from error
    try:
        return int(data["c"])
    except (KeyError, TypeError, ValueError) as error:
        raise LinkInvalid from error


def _already_appealed():
    return AppealRefused(
        _("You have already appealed this removal; a comment can be appealed once."),
        code="already_appealed",
    )


def refusal(comment):
    """Why ``comment`` can't be appealed now (an ``AppealRefused``), or None."""
    if Appeal.objects.filter(comment_id=comment.pk).exists():
        return _already_appealed()
    if comment.status != Comment.Status.REMOVED:
        return AppealRefused(
            _("This comment is no longer removed, so there is nothing to appeal."),
            code="not_removed",
        )
    return None


def file_appeal(comment, *, body):
    """Store the commenter's one appeal against the removal of ``comment``; the
    moderators are told after commit. Raises ``AppealRefused`` when it was appealed
    already (two sends racing included) or is no longer removed."""
    with transaction.atomic():
        locked = Comment.objects.select_for_update().get(pk=comment.pk)
        refused = refusal(locked)
        if refused is not None:
            raise refused
        try:
            with transaction.atomic():
                appeal = Appeal.objects.create(comment=locked, body=body)
        except IntegrityError as error:  # sent twice at the same moment
            raise _already_appealed() from error
        transaction.on_commit(lambda: notifications.appeal_received(appeal.pk), robust=True)
    return appeal


def answer(appeal, *, outcome, answer, by):
    """The moderator ``by`` answers ``appeal`` once: ``Appeal.Outcome.UPHELD`` keeps
    the comment removed, ``REINSTATED`` approves it (``moderation.approve``, which
    clears the statement of reasons and republishes it). The answer is emailed to the
    commenter after commit. Raises ``AppealRefused`` when the appeal was answered
    already, or when upholding a removal the comment no longer has (someone approved
    it meanwhile)."""
    outcome = Appeal.Outcome(outcome)
    with transaction.atomic():
        locked = Appeal.objects.select_for_update().get(pk=appeal.pk)
        if locked.answered_at is not None:
            raise AppealRefused(
                _("This appeal was answered already; an appeal is answered once."),
                code="already_answered",
            )
        comment = Comment.objects.select_for_update().get(pk=locked.comment_id)
        if outcome == Appeal.Outcome.UPHELD and comment.status != Comment.Status.REMOVED:
            raise AppealRefused(
                _(
                    "The comment is no longer removed, so its removal can't be upheld. "
                    "Reinstate it, or remove it again first."
                ),
                code="not_removed",
            )
        locked.outcome = outcome
        locked.answer = answer
        locked.answered_by = by
        locked.answered_at = timezone.now()
        locked.save(update_fields=["outcome", "answer", "answered_by", "answered_at"])
        if outcome == Appeal.Outcome.REINSTATED:
            moderation.approve([comment], by=by, reason=REINSTATED_REASON)
        _log_answer(locked, comment, by=by)
        transaction.on_commit(lambda: notifications.appeal_answered(locked.pk), robust=True)
    return locked


def _log_answer(appeal, comment, *, by):
    # English, like the rest of the audit log.
    decision = {
        Appeal.Outcome.UPHELD: "removal upheld",
        Appeal.Outcome.REINSTATED: "comment reinstated",
    }[appeal.outcome]
    entries = [
        (Appeal, appeal.pk, str(appeal), f"Answered the appeal: {decision}."),
        (
            Comment,
            comment.pk,
            f"{comment.author_name}: comment {comment.pk}",
            f"Appeal answered: {decision}.",
        ),
    ]
    LogEntry.objects.bulk_create(
        LogEntry(
            user_id=by.pk,
            content_type=ContentType.objects.get_for_model(model),
            object_id=str(pk),
            object_repr=representation[:200],
            action_flag=CHANGE,
            change_message=message,
        )
        for model, pk, representation, message in entries
    )
