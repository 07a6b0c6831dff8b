"""Moderation decisions: moving comments from one status to another, and choosing the
editors' picks (``feature``/``unfeature``).

The admin, reader reports, edits and withdrawals call these functions for every
change of an existing comment's status. A new comment gets its first status from the
rules when it is posted (``comments.posting``), and the WordPress importer sets the
exported one. Each change here records who and when, writes an admin ``LogEntry`` when
a person made it, invalidates the articles' cached pages (``comments.signals``: one
``UPDATE`` for the whole batch sends no model signals, so it calls the hook itself)
and schedules notifications after commit. Nothing here deletes a row.
"""

import datetime

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from comments import commenters, notifications, sanctions, signals
from comments.models import Comment, Commenter, RemovalReason, Sanction, normalize_email

Status = Comment.Status

ACTION_MESSAGES = {
    Status.APPROVED: "Approved",
    Status.SPAM: "Marked as spam",
    Status.REMOVED: "Removed",
    Status.PENDING: "Restored to pending",
}


def set_status(comments, status, *, by=None, reason=None, removal_reason="", removal_note=""):
    """Move ``comments`` (a queryset or iterable of comments) to ``status``.

    Returns how many comments changed. Comments already in ``status`` are left
    alone. ``by`` is the moderator (None for the site itself); ``reason`` is
    stored as the comment's moderation reason when given. ``removal_reason`` and
    ``removal_note`` are a removal's statement of reasons (see ``remove``); any other
    change clears them, so only a removed comment carries one.
    """
    ids = [c.pk for c in comments] if not hasattr(comments, "values_list") else None
    with transaction.atomic():
        queryset = Comment.objects.filter(pk__in=ids if ids is not None else comments.values("pk"))
        changing = list(
            queryset.exclude(status=status)
            .select_for_update()
            .values_list("pk", "article_id", "status", "author_name", "commenter_id")
        )
        if not changing:
            return 0
        now = timezone.now()
        changed_ids = [row[0] for row in changing]
        updates = {"status": status, "moderated_at": now, "moderated_by": by}
        if reason is not None:
            updates["moderation_reason"] = reason
        if status != Status.REMOVED:
            removal_reason = removal_note = ""
        updates.update(removal_reason=removal_reason, removal_note=removal_note)
        Comment.objects.filter(pk__in=changed_ids).update(**updates)
        signals.invalidate({row[1] for row in changing})
        commenters.refresh_stats({row[4] for row in changing})
        if by is not None:
            statement = _statement_for_log(removal_reason, removal_note)
            logged = "; ".join(part for part in (reason, statement) if part)
            _log_changes(changing, status, by=by, reason=logged)
        if removal_reason:
            # The statement of reasons, a copy of the comment and the link to appeal.
            transaction.on_commit(lambda: notifications.comments_removed(changed_ids), robust=True)
        if status == Status.APPROVED:
            newly_public = [row[0] for row in changing]
            transaction.on_commit(
                lambda: notifications.comments_published(newly_public), robust=True
            )
        if status == Status.PENDING and reason:
            transaction.on_commit(lambda: notifications.comments_held(changed_ids), robust=True)
    return len(changing)


def _log_changes(rows, status, *, by, reason):
    content_type = ContentType.objects.get_for_model(Comment)
    message = ACTION_MESSAGES[status] + (f" ({reason})" if reason else "")
    LogEntry.objects.bulk_create(
        LogEntry(
            user_id=by.pk,
            content_type=content_type,
            object_id=str(pk),
            object_repr=f"{author}: comment {pk}"[:200],
            action_flag=CHANGE,
            change_message=f"{message} (was {old}).",
        )
        for pk, _article_id, old, author, _commenter_id in rows
    )


def record_new_comment(comment):
    """Bookkeeping for a comment just stored by posting with the rules' verdict (its
    save has invalidated the cached pages already, through ``comments.signals``)."""
    if comment.status == Status.APPROVED:
        # Replies' notify_replies and the article's followers (comments.follows).
        transaction.on_commit(lambda: notifications.comments_published([comment.pk]), robust=True)
    elif comment.status == Status.PENDING:
        transaction.on_commit(lambda: notifications.comments_held([comment.pk]), robust=True)


def approve(comments, *, by=None, reason=None):
    return set_status(comments, Status.APPROVED, by=by, reason=reason)


def mark_spam(comments, *, by=None, reason=None):
    return set_status(comments, Status.SPAM, by=by, reason=reason)


def remove(comments, *, by=None, reason=None, removal_reason=None, removal_note=""):
    """Hide comments; their replies stay visible under a placeholder.

    A moderator's removal states its reason: ``removal_reason`` (a ``RemovalReason``;
    "other" needs the moderator's words in ``removal_note``, which any reason may
    add). Readers see "Removed by a moderator: <reason>." in the comment's place (for
    "other", no more than "Removed by a moderator."); the commenter is emailed the
    reason, the note, a copy of their comment and a link to appeal once
    (``comments.appeals``). Without a reason (the author's withdrawal, the site
    itself) the placeholder says only "This comment was removed." and nobody is
    emailed. Raises ``ValidationError`` for an unknown reason or "other" without words.
    """
    removal_reason, removal_note = removal_reason or "", (removal_note or "").strip()
    if removal_reason and removal_reason not in RemovalReason.values:
        raise ValidationError(
            "Unknown removal reason %(reason)r.",
            code="invalid_removal_reason",
            params={"reason": removal_reason},
        )
    if removal_reason == RemovalReason.OTHER and not removal_note:
        raise ValidationError(
            "A removal for another reason needs the moderator's explanation.",
            code="removal_note_required",
        )
    return set_status(
        comments,
        Status.REMOVED,
        by=by,
        reason=reason,
        removal_reason=removal_reason,
        removal_note=removal_note,
    )


def _statement_for_log(removal_reason, removal_note):
    """The statement of reasons as the audit log keeps it: English, like its other
    messages ("statement of reasons: off-topic — <the moderator's note>")."""
    if not removal_reason:
        return ""
    with translation.override("en"):
        label = str(RemovalReason(removal_reason).label)
    return f"statement of reasons: {label}" + (f" — {removal_note}" if removal_note else "")


def restore(comments, *, by=None, reason=None):
    """Back to the moderation queue."""
    return set_status(comments, Status.PENDING, by=by, reason=reason)


# --- Editors' picks ----------------------------------------------------------------
def feature(comments, *, by):
    """Make ``comments`` editors' picks; returns how many became one.

    Only approved comments can be featured: the others, and those featured already,
    are left alone (and not counted). A pick is shown while it stays approved
    (``Comment.objects.featured()``): removing, spamming or holding it takes it out of
    the readers' page at once, and approving it again brings it back, unless it was
    unfeatured meanwhile.
    """
    with transaction.atomic():
        rows = _locked(comments, status=Status.APPROVED, featured_at__isnull=True)
        if rows:
            Comment.objects.filter(pk__in=[row[0] for row in rows]).update(
                featured_at=timezone.now(), featured_by=by
            )
            _picks_changed(rows, by=by, message="Featured as an editors' pick.")
    return len(rows)


def unfeature(comments, *, by):
    """No longer editors' picks, whatever their status; returns how many were."""
    with transaction.atomic():
        rows = _locked(comments, featured_at__isnull=False)
        if rows:
            Comment.objects.filter(pk__in=[row[0] for row in rows]).update(
                featured_at=None, featured_by=None
            )
            _picks_changed(rows, by=by, message="No longer an editors' pick.")
    return len(rows)


def _locked(comments, **lookups):
    """``(pk, article_id, author_name)`` of ``comments`` that match ``lookups``, locked."""
    if hasattr(comments, "values_list"):
        selected = Comment.objects.filter(pk__in=comments.values("pk"))
    else:
        selected = Comment.objects.filter(pk__in=[comment.pk for comment in comments])
    return list(
        selected.filter(**lookups)
        .select_for_update()
        .values_list("pk", "article_id", "author_name")
    )


def _picks_changed(rows, *, by, message):
    # One UPDATE sends no model signals: the articles' pages are invalidated here.
    signals.invalidate({article_id for _pk, article_id, _author in rows})
    if by is None:
        return
    content_type = ContentType.objects.get_for_model(Comment)
    LogEntry.objects.bulk_create(
        LogEntry(
            user_id=by.pk,
            content_type=content_type,
            object_id=str(pk),
            object_repr=f"{author}: comment {pk}"[:200],
            action_flag=CHANGE,
            change_message=message,
        )
        for pk, _article_id, author in rows
    )


# --- sanctions -----------------------------------------------------------------------
# What the audit log says of each kind (English, like its other messages).
SANCTION_VERBS = {
    Sanction.Kind.WARNING: "Warned",
    Sanction.Kind.SUSPENSION: "Suspended",
    Sanction.Kind.BAN: "Banned",
    Sanction.Kind.PREMODERATION: "Pre-moderated",
}
TARGET_WORDS = {
    Sanction.Target.EMAIL: "email",
    Sanction.Target.NETWORK: "IP",
    Sanction.Target.DOMAIN: "domain",
}


def add_sanction(kind, *, target_type, target, by, reason, until=None, commenter=None):
    """Set a sanction of ``kind`` (a ``Sanction.Kind``) on an email address, an IP address
    or network, or an email domain (``target_type``, ``target`` as a moderator types it:
    see ``comments.sanctions.parse_target``); returns the ``Sanction``.

    ``until``: when it ends (required for a suspension, ignored for a warning; None: until
    lifted). ``commenter``: the commenter it was set on (found by the address when
    ``target_type`` is email). It applies to the next post at once (the cached answers
    are dropped). Logged in the admin's history of the sanction and of the commenter
    when ``by`` is a user. Raises ``ValidationError`` for a target that is none of
    these, a suspension without an end, an end in the past or an empty reason.
    """
    sanction = _new_sanction(
        kind, target_type=target_type, target=target, by=by, reason=reason, until=until
    )
    with transaction.atomic():
        if commenter is None and sanction.target_type == Sanction.Target.EMAIL:
            commenter = Commenter.objects.filter(email=sanction.target).first()
        sanction.commenter = commenter
        sanction.save()
        _log_sanction(sanction, by=by, flag=ADDITION, message=describe_sanction(sanction))
        sanctions.bump_version()
    return sanction


def _new_sanction(kind, *, target_type, target, by, reason, until, now=None):
    """An unsaved, validated sanction (no query)."""
    now = now or timezone.now()
    parsed = sanctions.parse_target(target_type, target)
    if kind == Sanction.Kind.WARNING:
        until = None
    elif kind == Sanction.Kind.SUSPENSION and until is None:
        raise ValidationError(
            _("A suspension needs the date and time it ends."), code="suspension_without_end"
        )
    if until is not None and until <= now:
        raise ValidationError(_("The end must be in the future."), code="end_in_past")
    sanction = Sanction(
        kind=kind,
        target_type=parsed.target_type,
        target=parsed.target,
        network_start=parsed.network_start,
        network_end=parsed.network_end,
        reason=(reason or "").strip(),
        created_by=by,
        created_at=now,
        ends_at=until,
    )
    sanction.full_clean(exclude=["commenter", "created_by", "lifted_by"])
    return sanction


def ban_commenter(email, *, by, reason, until=None):
    """Ban ``email`` (any spelling) from commenting, until ``until`` or until lifted."""
    return add_sanction(
        Sanction.Kind.BAN,
        target_type=Sanction.Target.EMAIL,
        target=email,
        by=by,
        reason=reason,
        until=until,
    )


def suspend_commenter(email, *, by, reason, until):
    """Suspend ``email`` from commenting until the date and time ``until``."""
    return add_sanction(
        Sanction.Kind.SUSPENSION,
        target_type=Sanction.Target.EMAIL,
        target=email,
        by=by,
        reason=reason,
        until=until,
    )


def premoderate_commenter(email, *, by, reason):
    """Hold every new comment from ``email`` for moderation ("held: commenter is
    pre-moderated"), until lifted."""
    return add_sanction(
        Sanction.Kind.PREMODERATION,
        target_type=Sanction.Target.EMAIL,
        target=email,
        by=by,
        reason=reason,
    )


def warn_commenter(email, *, by, message):
    """Send the commenter of ``email`` the moderator's ``message`` by email (after commit)
    and keep it as a warning on their record (it restricts nothing)."""
    sanction = add_sanction(
        Sanction.Kind.WARNING,
        target_type=Sanction.Target.EMAIL,
        target=email,
        by=by,
        reason=message,
    )
    _email_warning(sanction, name=sanction.commenter.name if sanction.commenter else "")
    return sanction


def _email_warning(warning, *, name):
    """Queue the warning's email to its address once the transaction commits (written
    now, in the language active now: the moderator's)."""
    context = {
        "name": name,
        "message": warning.reason,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
    }
    subject = _("[%(site)s] A message from the moderators") % {"site": settings.SITE_NAME}
    body = render_to_string("comments/email/warning.txt", context)
    recipient = warning.target
    transaction.on_commit(lambda: notifications._enqueue(subject, body, [recipient]), robust=True)


def lift_sanction(sanction, *, by):
    """Lift ``sanction`` (kept, with who lifted it and when); it stops applying at once.
    Returns False when it no longer applied (lifted before, ended, or a warning)."""
    with transaction.atomic():
        sanction = Sanction.objects.select_for_update().get(pk=sanction.pk)
        now = timezone.now()
        ended = sanction.ends_at is not None and sanction.ends_at <= now
        if sanction.lifted_at is not None or ended or sanction.kind == Sanction.Kind.WARNING:
            return False
        sanction.lifted_at, sanction.lifted_by = now, by
        sanction.save(update_fields=["lifted_at", "lifted_by"])
        message = f"Lifted: {describe_sanction(sanction)}"
        _log_sanction(sanction, by=by, flag=CHANGE, message=message)
        sanctions.bump_version()
    return True


def lift_sanctions(email, *, by):
    """Lift every sanction in force on ``email`` (any spelling), and every one set from
    its commenter's record (an IP or domain sanction too); returns how many."""
    email = sanctions.parse_target(Sanction.Target.EMAIL, email).target
    with transaction.atomic():
        on_email = Q(target_type=Sanction.Target.EMAIL, target=email)
        lifted = 0
        in_force = Sanction.objects.in_force().filter(on_email | Q(commenter__email=email))
        for sanction in in_force.order_by("pk"):
            lifted += lift_sanction(sanction, by=by)
    return lifted


def sanction_authors(comments, kind, *, by, reason, until=None, spam_pending=False):
    """One sanction of ``kind`` on the email address of each distinct author of
    ``comments`` (a queryset or iterable of comments); returns how many were set.

    An author already under the same kind of sanction lasting at least as long is left
    as they are. A warning (``reason`` is the message) is emailed to each author, as by
    ``warn_commenter``. With ``spam_pending``, every pending comment of theirs (not only
    the selected ones) is marked spam through ``set_status``, with the reason "spam:
    author banned" (or suspended…).
    """
    ids = [c.pk for c in comments] if not hasattr(comments, "values_list") else None
    selected = Comment.objects.filter(pk__in=ids if ids is not None else comments.values("pk"))
    now = timezone.now()
    with transaction.atomic():
        authors, names = {}, {}
        for email, commenter_id, name in selected.order_by("pk").values_list(
            "author_email", "commenter_id", "author_name"
        ):
            authors.setdefault(normalize_email(email), commenter_id)
            names[normalize_email(email)] = name  # the latest
        new = {
            email: _new_sanction(
                kind,
                target_type=Sanction.Target.EMAIL,
                target=email,
                by=by,
                reason=reason,
                until=until,
                now=now,
            )
            for email in authors
        }
        covered = Sanction.objects.in_force(now).filter(
            kind=kind, target_type=Sanction.Target.EMAIL, target__in=list(new)
        )
        if until is None:
            covered = covered.filter(ends_at__isnull=True)
        else:
            covered = covered.filter(Q(ends_at__isnull=True) | Q(ends_at__gte=until))
        for email in covered.values_list("target", flat=True):
            new.pop(email, None)
        for email, sanction in new.items():
            sanction.commenter_id = authors[email]
        created = Sanction.objects.bulk_create(new.values())
        if created:
            _log_sanctions(created, by=by)
            sanctions.bump_version()
        if kind == Sanction.Kind.WARNING:
            for warning in created:
                _email_warning(warning, name=names[warning.target])
        if spam_pending and authors:
            pending = Comment.objects.pending().filter(
                commenter_id__in=[pk for pk in authors.values() if pk is not None]
            )
            verb = SANCTION_VERBS[kind].lower()
            set_status(pending, Status.SPAM, by=by, reason=f"spam: author {verb}")
    return len(created)


def describe_sanction(sanction):
    """The sanction in one line for the audit log: "Banned email troll@example.com
    until 2026-12-08 14:00 UTC: insults"."""
    until = ""
    if sanction.ends_at is not None:
        until = f" until {sanction.ends_at.astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    target = f"{TARGET_WORDS[sanction.target_type]} {sanction.target}"
    return f"{SANCTION_VERBS[sanction.kind]} {target}{until}: {sanction.reason}"


def _log_sanction(sanction, *, by, flag, message):
    _log_sanctions([sanction], by=by, flag=flag, messages=[message])


def _log_sanctions(created, *, by, flag=ADDITION, messages=None):
    """Log entries on each sanction, and on its commenter where known."""
    if by is None:
        return
    messages = messages or [describe_sanction(sanction) for sanction in created]
    on_sanction = ContentType.objects.get_for_model(Sanction)
    on_commenter = ContentType.objects.get_for_model(Commenter)
    entries = []
    for sanction, message in zip(created, messages, strict=True):
        entries.append(
            LogEntry(
                user_id=by.pk,
                content_type=on_sanction,
                object_id=str(sanction.pk),
                object_repr=str(sanction)[:200],
                action_flag=flag,
                change_message=message,
            )
        )
        if sanction.commenter_id is not None:
            known = Sanction.commenter.is_cached(sanction)
            entries.append(
                LogEntry(
                    user_id=by.pk,
                    content_type=on_commenter,
                    object_id=str(sanction.commenter_id),
                    object_repr=str(sanction.commenter if known else sanction.target)[:200],
                    action_flag=CHANGE,
                    change_message=message,
                )
            )
    LogEntry.objects.bulk_create(entries)
