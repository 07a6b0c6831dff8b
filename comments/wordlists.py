"""The word lists moderators edit in the admin: banned words (a match makes a comment
spam) and suspect words (a match holds it), ``ModerationWord`` rows.

Matching is on whole words after Unicode normalisation: NFKC, then case folding
(``normalize``), on both the list's words and the comment's text, so "Ｃａｓｉｎｏ" and
"CASINO" match "casino". A word ending in ``*`` matches every word starting with what
comes before it: "casinos" matches "casino*", not "casino". A list entry of several
words ("free money") matches them in a row, whatever whitespace separates them.

The compiled lists live in the cache under a version (``VERSION_KEY``) that every
change of a ``ModerationWord`` replaces (``post_save``/``post_delete`` below, or
``bump()`` for writes that send no signals, such as ``bulk_create``), so an edit takes
effect on the next post without a restart. A post costs one cache read and no query
while the version is warm: the lists for a version are built from the database once
(then read from the cache by every process) and compiled once per process.

The environment's ``COMMENTS_DISALLOWED_KEYS`` and ``COMMENTS_MODERATION_KEYS`` are
separate and unchanged: substrings, matched by ``comments.rules`` before these lists.
"""

import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils.html import escape
from django.utils.safestring import mark_safe

from comments.cachefailures import log_cache_failure
from comments.models import ModerationWord

logger = logging.getLogger("threadpress")

Kind = ModerationWord.Kind
VERSION_KEY = "comments:wordlists:version"
PREFIX = "*"
# The version never expires (it is replaced); the lists of a version are rebuilt with
# one query if evicted, and an old version's lists expire unread.
VERSION_TIMEOUT = None
LISTS_TIMEOUT = 60 * 60 * 24
# Compiled lists of the versions this process has seen (the newest few).
_compiled = {}
_COMPILED_KEPT = 4


def normalize(text):
    """``text`` as the lists compare it: NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def normalize_word(word):
    """A list entry as it is stored: normalised, its spaces collapsed, a trailing ``*``
    kept (a prefix)."""
    return " ".join(normalize(word).split())


def _pattern(word):
    """The regular expression of one stored entry (whole words, a trailing ``*`` a prefix)."""
    prefix = word.endswith(PREFIX)
    stem = word.rstrip(PREFIX).strip()
    if not stem:
        return None
    body = r"\s+".join(re.escape(part) for part in stem.split())
    return body + (r"\w*" if prefix else "")


@dataclass(frozen=True)
class Match:
    word: str  # the list's entry, e.g. "casino" or "casino*"
    kind: str  # Kind.BANNED or Kind.SUSPECT
    start: int  # where the matched text starts and ends, in the text searched
    end: int

    @property
    def list_label(self):
        return Kind(self.kind).label


class WordList:
    """One list, compiled: ``find`` gives the entry that matched a normalised text."""

    def __init__(self, kind, words):
        self.kind = kind
        self.words = tuple(sorted({normalize_word(word) for word in words} - {""}))
        self.exact = {word for word in self.words if not word.endswith(PREFIX)}
        self.prefixes = sorted(
            (word for word in self.words if word.endswith(PREFIX)), key=len, reverse=True
        )
        patterns = sorted(filter(None, map(_pattern, self.words)), key=len, reverse=True)
        self.regex = (
            re.compile(r"(?<!\w)(?:" + "|".join(patterns) + r")(?!\w)") if patterns else None
        )

    def __bool__(self):
        return self.regex is not None

    def entry_for(self, matched):
        """The list's entry that ``matched`` (normalised text the regex found) came from."""
        words = " ".join(matched.split())
        if words in self.exact:
            return words
        for prefix in self.prefixes:
            if words.startswith(prefix.rstrip(PREFIX).strip()):
                return prefix
        return words

    def matches(self, normalised):
        if self.regex is None:
            return
        for found in self.regex.finditer(normalised):
            yield Match(self.entry_for(found.group()), self.kind, found.start(), found.end())

    def first(self, *texts):
        """The entry of the first match in any of ``texts`` (normalised here), or None."""
        if self.regex is None:
            return None
        for text in texts:
            found = self.regex.search(normalize(text))
            if found:
                return self.entry_for(found.group())
        return None


@dataclass(frozen=True)
class WordLists:
    banned: WordList
    suspect: WordList

    def __iter__(self):
        return iter((self.banned, self.suspect))


# --- the version and the cache ------------------------------------------------------
def bump():
    """Give the lists a new version: the next post reads them afresh."""
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, VERSION_TIMEOUT)
    except Exception:
        _log_cache_failure_once()


def changed(**kwargs):
    """A word was added, changed or deleted: a new version now, and again once the
    transaction commits, so lists built from the database in between (without the
    change, not yet committed) are not the ones kept."""
    bump()
    transaction.on_commit(bump, robust=True)


def connect():
    """Follow every change of the lists (called by ``CommentsConfig.ready``)."""
    post_save.connect(changed, sender=ModerationWord, dispatch_uid="moderation-word-saved")
    post_delete.connect(changed, sender=ModerationWord, dispatch_uid="moderation-word-deleted")


def _data_key(version):
    return f"comments:wordlists:{version}"


def _from_database():
    words = {Kind.BANNED: [], Kind.SUSPECT: []}
    for word, kind in ModerationWord.objects.values_list("word", "kind"):
        words.setdefault(kind, []).append(word)
    return words


def _compile(words):
    return WordLists(
        WordList(Kind.BANNED, words.get(Kind.BANNED, ())),
        WordList(Kind.SUSPECT, words.get(Kind.SUSPECT, ())),
    )


def _log_cache_failure_once():
    log_cache_failure("the word lists are read from the database")


def current():
    """The compiled ``WordLists`` of the current version: one cache read when this
    process has compiled that version, two when another process built it, a query
    when nobody has since the last change (or when the cache is down)."""
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, VERSION_TIMEOUT)
            version = cache.get(VERSION_KEY)
        lists = _compiled.get(version)
        if lists is not None:
            return lists
        words = cache.get(_data_key(version))
        if words is None:
            words = _from_database()
            cache.set(_data_key(version), words, LISTS_TIMEOUT)
    except Exception:
        _log_cache_failure_once()
        return _compile(_from_database())
    lists = _compile(words)
    if len(_compiled) >= _COMPILED_KEPT:
        _compiled.clear()
    _compiled[version] = lists
    return lists


# --- what the rules and the admin ask ---------------------------------------------------
def banned_word(*texts):
    """The banned list's entry found first in ``texts``, or None."""
    return current().banned.first(*texts)


def suspect_word(*texts):
    """The suspect list's entry found first in ``texts``, or None."""
    return current().suspect.first(*texts)


def _normalised_with_positions(text):
    """``text`` normalised, with the position in ``text`` each normalised character
    came from (plus one past the end). Normalised a character at a time, with the
    combining marks that follow it, so every match maps back onto the original."""
    if text.isascii():
        return text.lower(), list(range(len(text) + 1))
    pieces, positions = [], []
    start = 0
    for index in range(1, len(text) + 1):
        if index < len(text) and unicodedata.combining(text[index]):
            continue
        piece = normalize(text[start:index])
        pieces.append(piece)
        positions.extend([start] * len(piece))
        start = index
    positions.append(len(text))
    return "".join(pieces), positions


def find(text, lists=None):
    """Every match of either list in ``text``, in order, with positions in ``text``
    itself (not in its normalised form); overlapping matches keep the first."""
    text = text or ""
    lists = lists or current()
    if not any(lists):
        return []
    normalised, positions = _normalised_with_positions(text)
    found = sorted(
        (match for word_list in lists for match in word_list.matches(normalised)),
        key=lambda match: (match.start, -match.end),
    )
    matches, reached = [], 0
    for match in found:
        if match.start < reached:
            continue
        start, end = positions[match.start], positions[match.end]
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1  # the marks of the last character belong to the word
        matches.append(Match(match.word, match.kind, start, end))
        reached = match.end
    return matches


def highlight(text, matches):
    """``text`` escaped, with each of ``matches`` (from ``find(text)``) in a ``<mark>``
    naming its list: safe HTML, whatever the text holds."""
    parts, position = [], 0
    for match in matches:
        parts.append(escape(text[position : match.start]))
        parts.append(
            f'<mark class="word-{match.kind}" title="{escape(match.list_label)}: '
            f'{escape(match.word)}">{escape(text[match.start : match.end])}</mark>'
        )
        position = match.end
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))  # every piece of text was escaped above


def excerpt(text, *, length=80, lists=None):
    """A one-line excerpt of ``text`` of about ``length`` characters, as safe HTML with
    the listed words it shows in ``<mark>``. When the first word found lies past the
    excerpt's end, the excerpt is taken around it ("… buy at the casino now …")."""
    text = " ".join((text or "").split())
    matches = find(text, lists)
    start = 0
    if matches and matches[0].end > length - 1:
        start = max(0, matches[0].start - length // 3)
    end = min(len(text), start + length - 1) if len(text) - start > length else len(text)
    shown = [
        Match(m.word, m.kind, max(m.start, start) - start, min(m.end, end) - start)
        for m in matches
        if m.start < end and m.end > start
    ]
    html = highlight(text[start:end], shown)
    before = "…" if start else ""
    after = "…" if end < len(text) else ""
    return mark_safe(f"{before}{html}{after}")
