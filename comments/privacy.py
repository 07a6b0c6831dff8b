"""A reader's own data (docs/privacy.md): how long the network addresses we store are
kept, what a reader downloads about themselves, and how their data is erased.

Retention.

``clear_old_ips`` blanks the IP addresses and user agents stored with comments, the IP
addresses and networks stored with reports, and the networks stored with anonymous
reactions once they are older than ``COMMENTS_IP_RETENTION_DAYS`` (default 90). It is
run every day by ``manage.py clear_old_ips`` (docs/privacy.md): clearing a cleared row
again changes nothing, so a run can be repeated or interrupted at any point.

The rules that read addresses look at recent rows only: flood control compares the last
``COMMENTS_FLOOD_SECONDS``, a report or an anonymous reaction counts once per network
among the rows since the last moderator decision, and sanctions keep their own address
(a moderator's decision, lifted or expired by the moderator's own dates).
"""

from dataclasses import dataclass
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.apps import apps
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from comments.conf import conf
from comments.models import (
    Comment,
    Commenter,
    CommentReport,
    CommentRevision,
    Reaction,
    ReaderProfile,
    normalize_email,
)

# How long the links a reader is emailed (download, erase) work.
LINK_MAX_AGE = timedelta(days=1)
EXPORT_SALT = "comments.privacy.export"
ERASE_SALT = "comments.privacy.erase"
CANCEL_SALT = "comments.privacy.erasure"
# The time between a confirmed erasure and its execution, during which it can be cancelled.
GRACE_PERIOD = timedelta(hours=24)
# An erased comment: removed, with this in ``removal_reason`` (not a moderator's
# ``RemovalReason``: the placeholder says "Comment deleted by its author.") and this
# English data in ``moderation_reason``.
ERASED = "erased"
ERASED_REASON = "erased at its author's request"
ERASED_TEXT = "[erased]"
# One emailed link per address and kind in this time: the form cannot be used to flood
# someone's inbox.
EMAIL_INTERVAL_SECONDS = 600
# A name shorter than this is not searched for in other rows' text (it would match words).
MIN_NAME_LENGTH = 3


@dataclass(frozen=True)
class ClearedAddresses:
    comments: int
    reports: int
    reactions: int

    @property
    def total(self):
        return self.comments + self.reports + self.reactions


def retention_cutoff(*, now=None):
    """The moment before which stored addresses are cleared; ``None`` when
    ``COMMENTS_IP_RETENTION_DAYS`` is ``0`` or unset (keep them)."""
    days = conf.IP_RETENTION_DAYS
    if not days:
        return None
    return (now or timezone.now()) - timedelta(days=days)


def clear_old_ips(*, now=None):
    """Blank the addresses and user agents stored before the retention cutoff; returns
    how many rows of each kind changed (a second run changes none). One UPDATE per
    table, filtered on rows that still hold something, so it never rewrites a row twice
    and never touches a comment's tree or status."""
    cutoff = retention_cutoff(now=now)
    if cutoff is None:
        return ClearedAddresses(0, 0, 0)
    with transaction.atomic():
        comments = (
            Comment.objects.filter(created_at__lt=cutoff)
            .filter(Q(ip_address__isnull=False) | ~Q(user_agent=""))
            .update(ip_address=None, user_agent="")
        )
        reports = (
            CommentReport.objects.filter(created_at__lt=cutoff)
            .filter(Q(ip_address__isnull=False) | ~Q(network=""))
            .update(ip_address=None, network="")
        )
        reactions = (
            Reaction.objects.filter(created_at__lt=cutoff).exclude(network="").update(network="")
        )
    return ClearedAddresses(comments, reports, reactions)


# --- Who a reader is -----------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """The person whose data is asked for: their email addresses (normalised) and their
    account, if they asked signed in."""

    emails: frozenset
    user: object = None

    @classmethod
    def for_email(cls, email):
        return cls(frozenset({normalize_email(email)}))

    @classmethod
    def for_user(cls, user):
        """A signed-in reader: their account and every address they verified on it."""
        emails = {normalize_email(user.email)} if user.email else set()
        emails.update(
            normalize_email(address)
            for address in EmailAddress.objects.filter(user=user, verified=True).values_list(
                "email", flat=True
            )
        )
        return cls(frozenset(emails), user)

    def _by(self, email_field, user_field="user"):
        """A filter for the rows of this reader: by any of their addresses (compared
        case-insensitively, as typed spellings differ) or by their account."""
        condition = Q(pk__in=[])
        for email in self.emails:
            condition |= Q(**{f"{email_field}__iexact": email})
        if self.user is not None and user_field:
            condition |= Q(**{user_field: self.user})
        return condition

    def comments(self):
        return Comment.objects.filter(
            self._by("author_email") | Q(commenter__email__in=self.emails)
        ).distinct()

    def reports(self):
        return CommentReport.objects.filter(self._by("reporter_email"))

    def reactions(self):
        if self.user is None:  # an anonymous reaction belongs to a browser session
            return Reaction.objects.none()
        return Reaction.objects.filter(user=self.user)

    def commenters(self):
        return Commenter.objects.filter(self._by("email"))

    def follows(self):
        """Their follows, when the follow model is installed (``comments.follows``);
        ``None`` otherwise."""
        model = follow_model()
        if model is None:
            return None
        return model.objects.filter(self._by("email"))

    def has_data(self):
        queries = [self.comments(), self.reports(), self.commenters(), self.reactions()]
        follows = self.follows()
        if follows is not None:
            queries.append(follows)
        return any(query.exists() for query in queries)


def follow_model():
    """The model of follows (another part of the app) if it exists: the export and the
    erasure cover it when it does, and skip it when it does not."""
    try:
        return apps.get_model("comments", "Follow")
    except LookupError:
        return None


# --- Export ------------------------------------------------------------------------


def export_data(reader, *, now=None):
    """Everything stored about ``reader`` as a JSON-ready dict: their commenter record,
    their comments (status, dates, the text and its earlier versions, the IP address
    and user agent stored with each), the IP addresses among them, their reactions,
    follows and reports, and their account's profile. ``EXPORT_SECTIONS`` lists the
    sections; a part of the app with more personal data adds one there."""
    data = {
        "generated_at": (now or timezone.now()).isoformat(),
        "email_addresses": sorted(reader.emails),
    }
    for name, section in EXPORT_SECTIONS:
        value = section(reader)
        if value is not None:
            data[name] = value
    data["ip_addresses"] = sorted(
        {c["ip_address"] for c in data.get("comments", []) if c["ip_address"]}
        | {r["ip_address"] for r in data.get("reports", []) if r["ip_address"]}
    )
    return data


def _iso(moment):
    return moment.isoformat() if moment else None


def _account(reader):
    if reader.user is None:
        return None
    profile = ReaderProfile.objects.filter(user=reader.user).first()
    return {
        "email": reader.user.email,
        "date_joined": _iso(reader.user.date_joined),
        "last_login": _iso(reader.user.last_login),
        "display_name": profile.display_name if profile else None,
        "profile_hidden": profile.profile_hidden if profile else None,
    }


def _commenters(reader):
    return [
        {
            "email": commenter.email,
            "name": commenter.name,
            "first_seen": _iso(commenter.first_seen),
            "last_seen": _iso(commenter.last_seen),
            "approved": commenter.approved_count,
            "pending": commenter.pending_count,
            "spam": commenter.spam_count,
            "removed": commenter.removed_count,
        }
        for commenter in reader.commenters().order_by("pk")
    ]


def _comments(reader):
    comments = list(reader.comments().select_related("article").order_by("created_at", "pk"))
    revisions = {}
    for revision in CommentRevision.objects.filter(
        comment_id__in=[c.pk for c in comments]
    ).order_by("created_at", "pk"):
        revisions.setdefault(revision.comment_id, []).append(
            {"body": revision.body, "replaced_at": _iso(revision.created_at)}
        )
    return [
        {
            "id": comment.pk,
            "article": comment.article.title,
            "article_url": comment.article.get_absolute_url(),
            "in_reply_to": comment.parent_id,
            "name": comment.author_name,
            "email": comment.author_email,
            "website": comment.author_url,
            "text": comment.body,
            "status": comment.status,
            "created_at": _iso(comment.created_at),
            "edited_at": _iso(comment.edited_at),
            "moderated_at": _iso(comment.moderated_at),
            "removal_reason": comment.removal_reason,
            "notify_replies": comment.notify_replies,
            "ip_address": comment.ip_address,
            "user_agent": comment.user_agent,
            "earlier_versions": revisions.get(comment.pk, []),
        }
        for comment in comments
    ]


def _reactions(reader):
    return [
        {"comment": comment_id, "reacted_at": _iso(created_at)}
        for comment_id, created_at in reader.reactions()
        .order_by("created_at")
        .values_list("comment_id", "created_at")
    ]


def _follows(reader):
    follows = reader.follows()
    if follows is None:
        return None
    return [
        {
            "article_id": follow.article_id,
            "email": follow.email,
            "scope": getattr(follow, "scope", ""),
            "delivery": getattr(follow, "delivery", ""),
            "followed_at": _iso(getattr(follow, "created_at", None)),
            "confirmed_at": _iso(getattr(follow, "confirmed_at", None)),
        }
        for follow in follows.order_by("pk")
    ]


def _reports(reader):
    return [
        {
            "comment": report.comment_id,
            "reason": report.reason,
            "explanation": report.explanation,
            "email": report.reporter_email,
            "ip_address": report.ip_address,
            "reported_at": _iso(report.created_at),
        }
        for report in reader.reports().order_by("created_at", "pk")
    ]


EXPORT_SECTIONS = [
    ("account", _account),
    ("commenter", _commenters),
    ("comments", _comments),
    ("reactions", _reactions),
    ("follows", _follows),
    ("reports", _reports),
]


# --- Signed links ------------------------------------------------------------------


class LinkInvalid(Exception):
    """A forged or mangled link."""


class LinkExpired(Exception):
    """A genuine link older than ``LINK_MAX_AGE``."""


def make_token(payload, *, salt):
    return signing.dumps(payload, salt=salt)


def read_token(token, *, salt, max_age=LINK_MAX_AGE):
    try:
        return signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as error:
        raise LinkExpired from error
    except signing.BadSignature as error:
        raise LinkInvalid from error


def export_token(email):
    return make_token({"e": normalize_email(email)}, salt=EXPORT_SALT)


def reader_for_export_token(token):
    data = read_token(token, salt=EXPORT_SALT)
    try:
        return Reader.for_email(data["e"])
    except (KeyError, TypeError) as error:
        raise LinkInvalid from error


# --- Asking by email ------------------------------------------------------------------


def first_email_lately(kind, email):
    """Whether no link of ``kind`` went to ``email`` in the last
    ``EMAIL_INTERVAL_SECONDS``, remembering this one. Without the cache, links go out."""
    import hashlib

    from django.core.cache import cache

    digest = hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]
    try:
        return cache.add(f"comments:privacy:{kind}:{digest}", 1, EMAIL_INTERVAL_SECONDS)
    except Exception:
        return True


def request_export_link(email):
    """Email ``email`` a link to download its data, if anything is stored about it.

    The caller answers the same whatever happened (no enumeration of addresses): the
    email is the only place the difference shows, and only its owner reads it."""
    from django.conf import settings
    from django.template.loader import render_to_string
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from comments import notifications

    reader = Reader.for_email(email)
    if not reader.has_data() or not first_email_lately("export", email):
        return False
    url = settings.SITE_URL + reverse("comments:privacy-export", args=[export_token(email)])
    context = {"url": url, "hours": int(LINK_MAX_AGE.total_seconds() // 3600)}
    body = render_to_string("comments/email/export_link.txt", context)
    subject = _("[%(site)s] Your data") % {"site": settings.SITE_NAME}
    notifications._enqueue(subject, body, [normalize_email(email)])
    return True


# --- Erasure ---------------------------------------------------------------------------


def erase_token(email, user=None):
    return make_token(
        {"e": normalize_email(email), "u": user.pk if user is not None else None},
        salt=ERASE_SALT,
    )


def read_erase_token(token):
    """``(email, user id or None)`` of a genuine erasure link."""
    data = read_token(token, salt=ERASE_SALT)
    try:
        return data["e"], data["u"]
    except (KeyError, TypeError) as error:
        raise LinkInvalid from error


def cancel_token(erasure):
    return make_token({"r": erasure.pk}, salt=CANCEL_SALT)


def erasure_for_cancel_token(token):
    from comments.models import ErasureRequest

    # Valid through the grace period and a day after, to see that it was carried out.
    data = read_token(token, salt=CANCEL_SALT, max_age=GRACE_PERIOD + LINK_MAX_AGE)
    try:
        return ErasureRequest.objects.get(pk=data["r"])
    except (KeyError, TypeError, ErasureRequest.DoesNotExist) as error:
        raise LinkInvalid from error


def _send(template, subject, email, context):
    from django.conf import settings
    from django.template.loader import render_to_string

    from comments import notifications

    context = {**context, "site": settings.SITE_NAME}
    body = render_to_string(template, context)
    notifications._enqueue(subject % {"site": settings.SITE_NAME}, body, [email])


def _absolute(name, token):
    from django.conf import settings
    from django.urls import reverse

    return settings.SITE_URL + reverse(name, args=[token])


def request_erasure_link(email, *, user=None):
    """Email ``email`` the link that confirms an erasure, if anything is stored about it
    (a signed-in reader always gets it). Nothing is erased until the link is followed
    and the grace period has passed; the caller answers the same either way."""
    from django.utils.translation import gettext as _

    reader = Reader.for_user(user) if user is not None else Reader.for_email(email)
    if user is None and not reader.has_data():
        return False
    if not first_email_lately("erase", email):
        return False
    context = {
        "url": _absolute("comments:privacy-erase", erase_token(email, user)),
        "hours": int(LINK_MAX_AGE.total_seconds() // 3600),
        "grace_hours": int(GRACE_PERIOD.total_seconds() // 3600),
    }
    _send(
        "comments/email/erasure_confirm.txt",
        _("[%(site)s] Confirm the erasure of your data"),
        normalize_email(email),
        context,
    )
    return True


def schedule_erasure(*, email, user_id=None, now=None):
    """Confirm an erasure: it is carried out after ``GRACE_PERIOD`` unless cancelled.
    Confirming again while one is waiting returns the waiting one. Emails the reader
    the link to cancel it."""
    from django.contrib.auth import get_user_model
    from django.utils.translation import gettext as _

    from comments.models import ErasureRequest

    now = now or timezone.now()
    email = normalize_email(email)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with transaction.atomic():
        waiting = ErasureRequest.objects.filter(
            email=email, completed_at__isnull=True, cancelled_at__isnull=True
        ).first()
        if waiting is not None:
            return waiting
        erasure = ErasureRequest.objects.create(
            email=email,
            user=user,
            requested_at=now,
            confirmed_at=now,
            execute_after=now + GRACE_PERIOD,
        )
    context = {
        "url": _absolute("comments:privacy-erasure", cancel_token(erasure)),
        "execute_after": erasure.execute_after,
    }
    transaction.on_commit(
        lambda: _send(
            "comments/email/erasure_scheduled.txt",
            _("[%(site)s] Your data will be erased in 24 hours"),
            email,
            context,
        )
    )
    return erasure


def cancel_erasure(erasure, *, now=None):
    """Cancel a waiting erasure; returns whether it was cancelled (one carried out or
    cancelled already is left as it is)."""
    from comments.models import ErasureRequest

    changed = ErasureRequest.objects.filter(
        pk=erasure.pk, completed_at__isnull=True, cancelled_at__isnull=True
    ).update(cancelled_at=now or timezone.now())
    erasure.refresh_from_db()
    return bool(changed)


def due_erasures(*, now=None):
    from comments.models import ErasureRequest

    return ErasureRequest.objects.filter(
        confirmed_at__isnull=False,
        cancelled_at__isnull=True,
        completed_at__isnull=True,
        execute_after__lte=now or timezone.now(),
    ).order_by("execute_after", "pk")


def run_erasures(*, now=None):
    """Carry out every erasure whose grace period has passed; returns those done. Each
    runs in its own transaction and is marked done in it, so a second run, or a run
    after an interruption, does nothing twice."""
    from comments.models import ErasureRequest

    done = []
    for pk in list(due_erasures(now=now).values_list("pk", flat=True)):
        with transaction.atomic():
            erasure = (
                ErasureRequest.objects.select_for_update()
                .filter(pk=pk, completed_at__isnull=True, cancelled_at__isnull=True)
                .first()
            )
            if erasure is None:
                continue
            reader = _reader_to_erase(erasure)
            if erasure.email not in reader.emails:
                reader = Reader(reader.emails | {erasure.email}, reader.user)
            comments, rows = erase(reader)
            erasure.email = ""
            erasure.user = None
            erasure.completed_at = now or timezone.now()
            erasure.comments_erased = comments
            erasure.rows_cleared = rows
            erasure.save()
        done.append(erasure)
    return done


def _reader_to_erase(erasure):
    """The reader of an erasure request: its account, or the reader account whose
    verified address it is (whoever confirmed from that address owns the account),
    or the address alone."""
    user = erasure.user
    if user is None and erasure.email:
        address = (
            EmailAddress.objects.filter(email__iexact=erasure.email, verified=True)
            .select_related("user")
            .first()
        )
        if address is not None and not address.user.is_staff:
            user = address.user
    return Reader.for_user(user) if user is not None else Reader.for_email(erasure.email)


def _scrub(text, needles):
    import re

    for needle in needles:
        text = re.sub(re.escape(needle), ERASED_TEXT, text, flags=re.IGNORECASE)
    return text


def _scrub_rows(queryset, fields, needles):
    """Replace every spelling of ``needles`` in ``fields`` of ``queryset``'s rows;
    returns how many rows changed."""
    changed = set()
    for field in fields:
        condition = Q(pk__in=[])
        for needle in needles:
            condition |= Q(**{f"{field}__icontains": needle})
        for pk, value in queryset.filter(condition).values_list("pk", field):
            queryset.model.objects.filter(pk=pk).update(**{field: _scrub(value, needles)})
            changed.add(pk)
    return len(changed)


def _text_fields(model):
    from django.db import models

    return [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField) and not field.choices
    ]


def erase(reader):
    """Erase ``reader``'s data: their comments become "Comment deleted by its author."
    placeholders (removed, in place, so the replies keep the thread's shape) with no
    name, address, website, text, IP address or user agent; their earlier versions,
    reactions and follows go; their reports and appeals lose the address, IP and words;
    their commenter record is anonymised; every other row of the comments app and the
    admin's log that holds their address (or, in the log and the rows about them, their
    name) has it replaced by "[erased]"; an account is deleted. Sanctions keep their
    target (a moderator's decision). Returns ``(comments erased, other rows changed)``.
    Running it again changes nothing more."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import F

    from comments import moderation, signals
    from comments.models import Appeal, CommenterNote, ErasureRequest, Sanction

    comments = list(
        reader.comments().values_list("pk", "article_id", "author_name", "author_email")
    )
    comment_ids = [row[0] for row in comments]
    commenter_ids = list(reader.commenters().values_list("pk", flat=True))
    names = {row[2] for row in comments}
    names.update(reader.commenters().values_list("name", flat=True))
    if reader.user is not None:
        names.update(
            ReaderProfile.objects.filter(user=reader.user).values_list("display_name", flat=True)
        )
        names.add(reader.user.get_username())
    names = {name.strip() for name in names if len(name.strip()) >= MIN_NAME_LENGTH}
    emails = set(reader.emails) | {normalize_email(row[3]) for row in comments}
    emails.discard("")
    rows = 0

    erased = Comment.objects.filter(pk__in=comment_ids).exclude(removal_reason=ERASED)
    erased_count = erased.count()
    moderation.set_status(
        Comment.objects.filter(pk__in=comment_ids), Comment.Status.REMOVED, reason=ERASED_REASON
    )
    Comment.objects.filter(pk__in=comment_ids).update(
        author_name="",
        author_email="",
        author_url="",
        user=None,
        body="",
        body_html="",
        ip_address=None,
        user_agent="",
        removal_reason=ERASED,
        removal_note="",
        moderation_reason=ERASED_REASON,
        notify_replies=False,
        featured_at=None,
        featured_by=None,
    )
    rows += CommentRevision.objects.filter(comment_id__in=comment_ids).delete()[0]
    rows += Appeal.objects.filter(comment_id__in=comment_ids).exclude(body="").update(body="")
    # Their reactions go, and the counts they were part of with them.
    for comment_id in reader.reactions().values_list("comment_id", flat=True):
        Comment.objects.filter(pk=comment_id, reaction_count__gt=0).update(
            reaction_count=F("reaction_count") - 1
        )
    rows += reader.reactions().delete()[0]
    follows = reader.follows()
    if follows is not None:
        rows += follows.delete()[0]
    rows += reader.reports().update(
        reporter_email="", ip_address=None, network="", explanation="", user=None
    )
    # The commenter record keeps its counts (the desk's statistics), not who it was.
    for pk in (
        Commenter.objects.filter(pk__in=commenter_ids)
        .exclude(email__endswith="@erased.invalid")
        .values_list("pk", flat=True)
    ):
        rows += Commenter.objects.filter(pk=pk).update(
            email=f"erased-{pk}@erased.invalid", name="", user=None
        )
    # The admin's history of their comments and record names them in object_repr.
    comment_type = ContentType.objects.get_for_model(Comment)
    commenter_type = ContentType.objects.get_for_model(Commenter)
    for content_type, ids, label in (
        (comment_type, comment_ids, "erased comment"),
        (commenter_type, commenter_ids, "erased commenter"),
    ):
        for pk in ids:
            rows += (
                LogEntry.objects.filter(content_type=content_type, object_id=str(pk))
                .exclude(object_repr=f"{label} {pk}")
                .update(object_repr=f"{label} {pk}")
            )
    # Wherever else their address appears (and, in the log and the rows about them,
    # their name), it is replaced.
    skip = {Sanction, ErasureRequest}
    for model in apps.get_app_config("comments").get_models():
        if model in skip:
            continue
        rows += _scrub_rows(model.objects.all(), _text_fields(model), emails)
    rows += _scrub_rows(LogEntry.objects.all(), ["object_repr", "change_message"], emails | names)
    if names:
        rows += _scrub_rows(
            CommenterNote.objects.filter(commenter_id__in=commenter_ids), ["body"], names
        )
        rows += _scrub_rows(Appeal.objects.filter(comment_id__in=comment_ids), ["answer"], names)
        rows += _scrub_rows(
            CommentReport.objects.filter(comment_id__in=comment_ids), ["explanation"], names
        )
    rows += _scrub_task_results(emails)
    if reader.user is not None:
        reader.user.delete()
        rows += 1
    signals.invalidate({row[1] for row in comments})
    return erased_count, rows


def _scrub_task_results(emails):
    """The queued and finished emails of the background worker that were addressed to
    them (their arguments hold the address)."""
    try:
        model = apps.get_model("django_tasks_db", "DBTaskResult")
    except LookupError:
        return 0
    from django.db.models import TextField
    from django.db.models.functions import Cast

    condition = Q(pk__in=[])
    for email in emails:
        condition |= Q(text__icontains=email)
    matching = model.objects.annotate(text=Cast("args_kwargs", TextField())).filter(condition)
    return model.objects.filter(pk__in=list(matching.values_list("pk", flat=True))).delete()[0]
