"""A reader's own data (docs/privacy.md): how long the network addresses we store are
kept, and what a reader downloads about themselves.

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
    if not reader.has_data():
        return False
    url = settings.SITE_URL + reverse("comments:privacy-export", args=[export_token(email)])
    context = {"url": url, "hours": int(LINK_MAX_AGE.total_seconds() // 3600)}
    body = render_to_string("comments/email/export_link.txt", context)
    subject = _("[%(site)s] Your data") % {"site": settings.SITE_NAME}
    notifications._enqueue(subject, body, [normalize_email(email)])
    return True
