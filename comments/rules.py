"""Automatic moderation: ordered rules that decide what happens to a new comment.

Each rule is a small function taking a ``Candidate`` and returning a ``Verdict``
(status + reason) or ``None`` to pass to the next rule; a rule may instead raise
``CommentRefused`` (duplicate, flood) so nothing is stored. The first verdict
wins. The order is the list ``RULES`` below; the settings that tune each rule
are documented in README.md.

``CONTENT_RULES`` judge what a comment says (keys, links, the spam service). They
are the one definition used twice: for a new comment inside ``RULES``, and for a
poster's edit by ``evaluate_edit``, where only staff are trusted (an edit gets no
credit for the poster's earlier approved comments, and the form-level and refusal
rules have nothing to judge).

Languages: a refusal's message is for the reader and is translated (``gettext_lazy``,
shown in the reader's language). A verdict's reason ("held: 4 links", "spam: honeypot")
is data for moderators, stored in ``Comment.moderation_reason`` in English whatever the
poster's language: it stays searchable and the same for every moderator
(docs/translation.md).
"""

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from django.core.cache import cache
from django.utils import formats, timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from comments import commenters, sanctions, wordlists
from comments.cachefailures import log_cache_failure
from comments.conf import conf
from comments.models import Comment, Sanction
from comments.text import count_links

logger = logging.getLogger("threadpress")

APPROVED = Comment.Status.APPROVED
PENDING = Comment.Status.PENDING
SPAM = Comment.Status.SPAM


class CommentRefused(Exception):
    """The comment is not stored; the reader gets ``message`` with their text kept.

    ``retry_after``: seconds until posting again can succeed (a ``Retry-After`` header).
    """

    def __init__(self, message, *, status_code, code, retry_after=None):
        super().__init__(str(message))
        self.message = message
        self.status_code = status_code
        self.code = code
        self.retry_after = retry_after


@dataclass
class Verdict:
    status: str
    reason: str = ""


@dataclass
class Candidate:
    """Everything the rules may look at, before anything is stored."""

    article: object
    name: str
    email: str
    url: str
    body: str
    ip_address: str | None = None
    user_agent: str = ""
    user: object = None
    honeypot_filled: bool = False
    seconds_since_render: float | None = None
    parent: object = None
    extra: dict = field(default_factory=dict)

    @property
    def is_staff(self):
        return self.user is not None and self.user.is_authenticated and self.user.is_staff

    @cached_property
    def commenter(self):
        """The poster's ``Commenter`` (their record), or None for a first comment: one
        query, read once for the trust rule and posting's bookkeeping."""
        return commenters.find(self.email)

    @cached_property
    def sanctions_in_force(self):
        """The sanctions restricting this poster now, strictest first (cached)."""
        return sanctions.in_force_for(self.email, self.ip_address)

    def listed_word(self, word_list):
        """The first entry of the admin's word list ``word_list`` (a function of
        ``comments.wordlists``) found as a whole word in the name, email, URL or body."""
        return word_list(self.name, self.email, self.url, self.body)

    def matched_key(self, keys):
        """The first key found in any field the key lists are matched against."""
        haystacks = [
            self.name.lower(),
            self.email.lower(),
            self.url.lower(),
            self.body.lower(),
            (self.ip_address or "").lower(),
            self.user_agent.lower(),
        ]
        for key in keys:
            needle = key.strip().lower()
            if needle and any(needle in haystack for haystack in haystacks):
                return key.strip()
        return None


# --- refusals ---------------------------------------------------------------------
def sanction_refusal(in_force):
    """The ``CommentRefused`` for a poster under ``in_force`` (sanctions, strictest
    first: ``comments.sanctions.in_force_for``), or None when none of them bars posting.

    A ban (even one with an end) says only that they can no longer comment; a suspension
    gives its end in the reader's language and the site's time zone.
    """
    for sanction in in_force:
        if sanction.kind == Sanction.Kind.BAN:
            return CommentRefused(
                _("You can no longer comment on this site."), status_code=403, code="banned"
            )
        if sanction.kind == Sanction.Kind.SUSPENSION:
            until = formats.date_format(timezone.localtime(sanction.ends_at), "DATETIME_FORMAT")
            return CommentRefused(
                _("You are suspended from commenting until %(until)s.") % {"until": until},
                status_code=403,
                code="suspended",
            )
    return None


def refuse_sanctioned(candidate):
    """Banned and suspended posters (by email, domain or IP network) are refused: 403."""
    refusal = sanction_refusal(candidate.sanctions_in_force)
    if refusal is not None:
        raise refusal


def refuse_duplicate(candidate):
    if Comment.objects.filter(
        article=candidate.article, author_email=candidate.email, body=candidate.body
    ).exists():
        raise CommentRefused(
            _("Duplicate comment detected; it looks as though you’ve already said that!"),
            status_code=409,
            code="duplicate",
        )


def _log_cache_failure_once():
    log_cache_failure("flood control falls back to the database")


def refuse_flood(candidate):
    seconds = conf.FLOOD_SECONDS
    if not seconds or not candidate.ip_address or candidate.is_staff:
        return
    key = f"comments:flood:{candidate.ip_address}"
    now = time.time()
    try:
        # The value is when the wait ends, so a refusal can say how long is left.
        if cache.add(key, now + seconds, timeout=seconds):
            return
        ends_at = cache.get(key)
    except Exception:
        _log_cache_failure_once()
        since = timezone.now() - timedelta(seconds=seconds)
        last = (
            Comment.objects.filter(ip_address=candidate.ip_address, created_at__gte=since)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if last is None:
            return
        ends_at = last.timestamp() + seconds
    wait = seconds  # an entry without its end time: the whole period
    if isinstance(ends_at, float):
        wait = min(seconds, max(1, math.ceil(ends_at - now)))
    raise CommentRefused(
        ngettext_lazy(
            "You are posting comments too quickly. Slow down. "
            "Please wait %(seconds)d second before posting again.",
            "You are posting comments too quickly. Slow down. "
            "Please wait %(seconds)d seconds before posting again.",
            "seconds",
        )
        % {"seconds": wait},
        status_code=429,
        code="flood",
        retry_after=wait,
    )


# --- verdicts ------------------------------------------------------------------------
def trust_staff(candidate):
    if candidate.is_staff:
        return Verdict(APPROVED, "staff")
    return None


def honeypot(candidate):
    if candidate.honeypot_filled:
        return Verdict(SPAM, "spam: honeypot")
    return None


def too_fast(candidate):
    seconds = candidate.seconds_since_render
    if seconds is None:
        return Verdict(SPAM, "spam: missing or forged form timestamp")
    if seconds < conf.MIN_SUBMIT_SECONDS:
        return Verdict(SPAM, f"spam: submitted {seconds:.1f}s after the form was shown")
    return None


def disallowed_keys(candidate):
    """The environment's keys (substrings, as ever), then the admin's banned words."""
    key = candidate.matched_key(conf.DISALLOWED_KEYS)
    if key:
        return Verdict(SPAM, f"spam: disallowed key “{key}”")
    word = candidate.listed_word(wordlists.banned_word)
    if word:
        return Verdict(SPAM, f"spam: banned word “{word}”")
    return None


def moderation_keys(candidate):
    """The environment's keys (substrings, as ever), then the admin's suspect words."""
    key = candidate.matched_key(conf.MODERATION_KEYS)
    if key:
        return Verdict(PENDING, f"held: moderation key “{key}”")
    word = candidate.listed_word(wordlists.suspect_word)
    if word:
        return Verdict(PENDING, f"held: suspect word “{word}”")
    return None


def too_many_links(candidate):
    """More than ``COMMENTS_MAX_LINKS``; on an article whose comments may not hold links
    (the comment form refuses them), any link that arrives another way (an edit)."""
    links = count_links(candidate.body)
    if not candidate.article.allows_links_in_comments and links:
        return Verdict(PENDING, "held: links are not allowed on this article")
    if links > conf.MAX_LINKS:
        return Verdict(PENDING, f"held: {links} links")
    return None


def spam_service(candidate):
    """An optional external checker (e.g. an Akismet client), after the local rules.

    ``COMMENTS_SPAM_CHECKER`` names a callable taking the candidate and returning
    True for spam. Its failures never block posting: the comment is held.
    """
    path = conf.SPAM_CHECKER
    if not path:
        return None
    try:
        is_spam = import_string(path)(candidate)
    except Exception:
        logger.exception("Spam service failed; holding the comment for moderation")
        return Verdict(PENDING, "held: spam service unavailable")
    if is_spam:
        return Verdict(SPAM, "spam: spam service")
    return None


def article_premoderated(candidate):
    """Every comment on a pre-moderated article waits (staff are trusted before, and
    spam is spam before: this comes after the content rules)."""
    if candidate.article.premoderates_comments:
        return Verdict(PENDING, "held: article is pre-moderated")
    return None


def premoderated_commenter(candidate):
    """A moderator's "always pre-moderate" sanction on the poster holds the comment."""
    if any(s.kind == Sanction.Kind.PREMODERATION for s in candidate.sanctions_in_force):
        return Verdict(PENDING, "held: commenter is pre-moderated")
    return None


REJECTION_MEMORY_DAYS = 30


def trusted_commenter(candidate):
    """Trust, earned and lost, from the poster's record (``comments.commenters``):

    1. held when more than ``COMMENTS_PREMODERATE_ABOVE_REJECTION`` of their last 10
       comments a moderator decided on were rejected ("held: 60% of recent comments
       rejected"), whatever ``COMMENTS_REQUIRE_PREVIOUSLY_APPROVED`` says;
    2. approved when ``COMMENTS_REQUIRE_PREVIOUSLY_APPROVED`` is off (the old switch);
    3. held when a moderator rejected one of their comments in the last 30 days;
    4. approved from ``COMMENTS_TRUSTED_AFTER`` approved comments on; held before
       ("held: first comment from this email", "held: 1 of 2 approved comments needed").
    """
    commenter = candidate.commenter
    if commenter is not None:
        rate = commenter.recent_rejection_rate
        if rate > conf.PREMODERATE_ABOVE_REJECTION:
            return Verdict(PENDING, f"held: {rate:.0%} of recent comments rejected")
    if not conf.REQUIRE_PREVIOUSLY_APPROVED:
        return Verdict(APPROVED, "")
    if commenter is not None and commenters.rejected_within(commenter, REJECTION_MEMORY_DAYS):
        return Verdict(PENDING, "held: a comment was rejected in the last 30 days")
    needed, approved = conf.TRUSTED_AFTER, commenter.approved_count if commenter else 0
    if approved >= needed:
        return Verdict(APPROVED, "")
    if commenter is None or not commenters.comment_count(commenter):
        return Verdict(PENDING, "held: first comment from this email")
    noun = "comment" if needed == 1 else "comments"
    return Verdict(PENDING, f"held: {approved} of {needed} approved {noun} needed")


REFUSALS = [refuse_sanctioned, refuse_duplicate, refuse_flood]
FORM_RULES = [honeypot, too_fast]
CONTENT_RULES = [disallowed_keys, moderation_keys, too_many_links, spam_service]
RULES = [
    trust_staff,
    *FORM_RULES,
    *CONTENT_RULES,
    article_premoderated,
    premoderated_commenter,
    trusted_commenter,
]
EDIT_RULES = [trust_staff, *CONTENT_RULES]


def evaluate(candidate):
    """Raise ``CommentRefused`` or return the first verdict of the ordered rules."""
    for refusal in REFUSALS:
        refusal(candidate)
    for rule in RULES:
        verdict = rule(candidate)
        if verdict is not None:
            return verdict
    return Verdict(PENDING, "")


def evaluate_edit(candidate):
    """The verdict on a poster's edit (``candidate.body`` is the new text), or None.

    None means the edit is clean (or by staff) and the comment keeps its status.
    Otherwise a SPAM or PENDING verdict whose reason says it came from an edit:
    "held: edited, 4 links", "spam: edited, disallowed key “…”".
    """
    for rule in EDIT_RULES:
        verdict = rule(candidate)
        if verdict is None:
            continue
        if verdict.status == APPROVED:
            return None
        kind, _separator, detail = verdict.reason.partition(": ")
        return Verdict(verdict.status, f"{kind}: edited, {detail}")
    return None
