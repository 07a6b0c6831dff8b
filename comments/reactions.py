"""Readers' positive reactions ("Respect", ``COMMENTS_REACTION_LABEL``): one per reader
and comment, toggled with one click. No downvote: a single positive reaction, as Coral
has it.

Who reacts: signed-in readers, once per account (``Reaction``'s constraint). Anonymous
readers are asked to sign in, unless ``COMMENTS_ANONYMOUS_REACTIONS`` is on: then once
per browser session *and* per IP network (an IPv4 /24 or IPv6 /64, the network reports
are counted by: ``reports.reporter_network``), so clearing cookies does not react twice.
Only approved comments of public articles take reactions, never the reader's own.

A reaction changes ``Comment.reaction_count`` (an ``UPDATE … SET reaction_count =
reaction_count ± 1``, which sends no model signal) and nothing else: never a status,
never a cache key. A hot thread receiving reactions keeps serving its cached page.

How the counts reach a cached page: the thread prints keyed holes
(``site_config.pagecache.register_keyed_hole``) where a comment shows its count and its
pressed state, and every response fills them:

- the shared anonymous page and other anonymous readers: from a map of the article's
  counts, cached for ``COMMENTS_REACTION_COUNTS_SECONDS`` (10) in the shared cache and
  each worker, read from the database at most once per article and period: counts are
  at most that many seconds stale, and a page costs no query for them;
- a signed-in reader, or an anonymous one who reacted on the article: fresh counts and
  their own pressed state (one query; their page is personal anyway).
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from comments.cachefailures import log_cache_failure
from comments.conf import DEFAULTS, conf
from comments.models import Comment, Reaction
from comments.reports import reporter_network
from site_config import edge, pagecache

COUNT_HOLE = "reaction-count"
PRESSED_HOLE = "reaction-pressed"
SESSION_KEY = "comments_reacted"  # {article id: [comment pks]}: an anonymous reader's
MAX_REMEMBERED = 500
COUNTS_MEMO_SIZE = 256  # articles whose counts each worker keeps
FALLBACK = "reaction counts read from the database"


class NotReactable(Exception):
    """The comment takes no reactions: not approved, or its article is not public (the
    view answers 404, as for a comment that does not exist)."""


class ReactionRefused(Exception):
    """A reaction the rules refuse; ``message`` says why, ``status`` is the HTTP answer."""

    def __init__(self, message, *, status=403, code=""):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


OWN_COMMENT = _("You cannot react to your own comment.")
SAME_NETWORK = _("A reader on your network has already reacted to this comment.")
SIGN_IN = _("Sign in to react to comments.")


def label():
    """The button's label: ``COMMENTS_REACTION_LABEL``, translated when it is the default."""
    configured = conf.REACTION_LABEL
    if configured == DEFAULTS["COMMENTS_REACTION_LABEL"]:
        return gettext("Respect")
    return configured


def anonymous_allowed():
    return bool(conf.ANONYMOUS_REACTIONS)


def sign_in_url(next_url):
    """The sign-in page (django-allauth's ``account_login``, else ``LOGIN_URL``),
    returning to ``next_url``."""
    try:
        login = reverse("account_login")
    except NoReverseMatch:
        login = resolve_url(settings.LOGIN_URL)
    return f"{login}?{urlencode({'next': next_url})}"


def is_reactable(comment):
    return comment.status == Comment.Status.APPROVED and comment.article.is_public


def toggle(comment, *, user=None, session_key="", ip_address=None, want=None):
    """The reader's reaction to ``comment`` on (``want=True``), off (``False``) or the
    other way round (``None``: a toggle). Returns ``(reacted, count)``.

    The reader is ``user`` when signed in; otherwise, with anonymous reactions on, the
    browser session ``session_key`` from ``ip_address``. Raises ``NotReactable``
    (not an approved comment of a public article) or ``ReactionRefused`` (their own
    comment; anonymous and not allowed; another session of their network reacted).

    A reader never holds two reactions to a comment: the toggles of one comment queue
    behind its row, and a second insert of the same reader (a double click that gets
    past the lock, as on a database without row locks) hits the unique constraint and
    counts once.
    """
    if user is not None and not user.is_authenticated:
        user = None
    if user is None and not anonymous_allowed():
        raise ReactionRefused(SIGN_IN, status=403, code="sign-in")
    if user is None and not session_key:
        raise ValueError("an anonymous reaction needs a session")
    network = "" if user is not None else reporter_network(ip_address)
    with transaction.atomic():
        # The comment's row is the lock every reaction to it queues behind (PostgreSQL;
        # SQLite transactions are IMMEDIATE and already serialise writers).
        locked = (
            Comment.objects.select_for_update()
            .only("pk", "status", "user_id", "article_id")
            .filter(pk=comment.pk)
            .first()
        )
        if locked is None or locked.status != Comment.Status.APPROVED:
            raise NotReactable
        if not comment.article.is_public:
            raise NotReactable
        if user is not None and locked.user_id == user.pk:
            raise ReactionRefused(OWN_COMMENT, status=403, code="own")
        reader = (
            {"user": user}
            if user is not None
            else {"user__isnull": True, "session_key": session_key}
        )
        mine = Reaction.objects.filter(comment_id=locked.pk, **reader)
        reacted = mine.exists()
        if want is None:
            want = not reacted
        if want and not reacted:
            if network and (
                Reaction.objects.filter(comment_id=locked.pk, user__isnull=True, network=network)
                .exclude(session_key=session_key)
                .exists()
            ):
                raise ReactionRefused(SAME_NETWORK, status=409, code="network")
            _add(locked, user=user, session_key=session_key, network=network)
        elif reacted and not want:
            deleted, _by_model = mine.delete()
            if deleted:
                Comment.objects.filter(pk=locked.pk, reaction_count__gt=0).update(
                    reaction_count=F("reaction_count") - 1
                )
        count = Comment.objects.filter(pk=locked.pk).values_list("reaction_count", flat=True)[0]
        # The count shows on the article's page at the edge (bursts purge once: batched).
        edge.purge_keys([edge.article_key(locked.article_id)])
    comment.reaction_count = count
    return want, count


def _add(comment, *, user, session_key, network):
    try:
        with transaction.atomic():  # a savepoint: the constraint may refuse the row
            Reaction.objects.create(
                comment_id=comment.pk,
                user=user,
                session_key="" if user is not None else session_key,
                network=network,
            )
    except IntegrityError:
        return False  # the same reader's other request made it: one reaction
    Comment.objects.filter(pk=comment.pk).update(reaction_count=F("reaction_count") + 1)
    return True


# --- what an anonymous reader's session remembers ---------------------------------------------
def has_session(request):
    return settings.SESSION_COOKIE_NAME in request.COOKIES


def session_reacted(request, article_id):
    """The comments of ``article_id`` this browser session reacted to (anonymous)."""
    if not has_session(request):
        return ()  # no session to read: a shared page stays untouched by it
    return request.session.get(SESSION_KEY, {}).get(str(article_id), ())


def remember(request, comment, reacted):
    store = request.session.get(SESSION_KEY, {})
    ids = store.setdefault(str(comment.article_id), [])
    if reacted and comment.pk not in ids:
        ids.append(comment.pk)
        del ids[:-MAX_REMEMBERED]
    elif not reacted and comment.pk in ids:
        ids.remove(comment.pk)
    request.session[SESSION_KEY] = store


# --- the counts pages show -----------------------------------------------------------------
def read_counts(article_id, user=None):
    """``({comment pk: count}, {comment pk: True for the user's own reactions})`` of the
    article's comments with reactions, fresh from the database (one query), as text."""
    rows = Comment.objects.filter(article_id=article_id, reaction_count__gt=0)
    if user is None:
        return {str(pk): str(n).encode() for pk, n in rows.values_list("pk", "reaction_count")}, {}
    rows = rows.annotate(
        mine=Exists(Reaction.objects.filter(comment_id=OuterRef("pk"), user_id=user.pk))
    ).values_list("pk", "reaction_count", "mine")
    counts, pressed = {}, {}
    for pk, n, mine in rows:
        counts[str(pk)] = str(n).encode()
        if mine:
            pressed[str(pk)] = b"true"
    return counts, pressed


def counts_key(article_id):
    return f"comments:reaction-counts:{article_id}"


class SharedCounts:
    """Each article's counts as anonymous readers see them: read at most once per
    ``COMMENTS_REACTION_COUNTS_SECONDS`` for the whole site (the shared cache holds the
    map with the time it was read) and kept by each worker until that same moment, so a
    count is never older than the setting, and a cached page costs no query for it."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.memo = OrderedDict()  # article id → (valid until, counts)
        self.lock = threading.Lock()

    def get(self, article_id):
        seconds = conf.REACTION_COUNTS_SECONDS
        if seconds <= 0:
            return read_counts(article_id)[0]
        now = self.clock()
        with self.lock:
            entry = self.memo.get(article_id)
            if entry is not None and entry[0] > now:
                self.memo.move_to_end(article_id)
                return entry[1]
        stored = None
        try:
            stored = cache.get(counts_key(article_id))
        except Exception:  # the cache is an optimisation: read the database
            log_cache_failure(FALLBACK)
        if stored is None or stored[0] + seconds <= now or stored[0] > now:
            stored = (now, read_counts(article_id)[0])
            try:
                cache.set(counts_key(article_id), stored, seconds)
            except Exception:
                log_cache_failure(FALLBACK)
        with self.lock:
            self.memo[article_id] = (stored[0] + seconds, stored[1])
            self.memo.move_to_end(article_id)
            while len(self.memo) > COUNTS_MEMO_SIZE:
                self.memo.popitem(last=False)
        return stored[1]

    def clear(self):
        with self.lock:
            self.memo.clear()


shared_counts = SharedCounts()


@dataclass
class ReaderCounts:
    counts: dict
    pressed: dict = field(default_factory=dict)


def reader_counts(request, article_id):
    """What ``request``'s reader sees of the article's reactions (once per request)."""
    memo = request.__dict__.setdefault("_reaction_counts", {})
    found = memo.get(article_id)
    if found is not None:
        return found
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        found = ReaderCounts(*read_counts(article_id, user))
    else:
        reacted = session_reacted(request, article_id)
        if reacted:  # their own reactions show at once, as they are
            found = ReaderCounts(read_counts(article_id)[0], {str(pk): b"true" for pk in reacted})
        else:
            found = ReaderCounts(shared_counts.get(article_id))
    memo[article_id] = found
    return found


def _scope_article(scope):
    return int(scope) if scope.isdigit() else None


def count_values(request, scope):
    article_id = _scope_article(scope)
    return {} if article_id is None else reader_counts(request, article_id).counts


def pressed_values(request, scope):
    article_id = _scope_article(scope)
    return {} if article_id is None else reader_counts(request, article_id).pressed


def count_marker(article_id, pk):
    """Where comments/comment.html prints comment ``pk``'s count (a keyed hole)."""
    return pagecache.keyed_hole(COUNT_HOLE, article_id, pk)


def pressed_marker(article_id, pk):
    """Where comments/comment.html prints ``aria-pressed``'s value ("true"/"false")."""
    return pagecache.keyed_hole(PRESSED_HOLE, article_id, pk)


def register():
    pagecache.register_keyed_hole(COUNT_HOLE, count_values, default="0")
    pagecache.register_keyed_hole(PRESSED_HOLE, pressed_values, default="false")
