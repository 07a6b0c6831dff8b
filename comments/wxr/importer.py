"""Import one WXR file: authors → users, posts → articles, comments → comment trees.

One transaction per file. Comment trees are computed in Python and written with
``bulk_create`` (one insert per tree level, not one mptt insert per comment), so
tens of thousands of comments take seconds. Every imported row carries an
``import_key`` (site + WordPress id): importing the same file again updates rows
in place, and only rows whose values differ count as updated (an undated post or
comment keeps the date it got the first time). Comments already imported keep
their place in their tree; new ones are added as the last replies of their parent,
and the affected trees are renumbered.

Statuses are set directly from the export: an import is a data migration, not a
moderation decision, so it neither goes through ``comments.moderation`` actions
nor notifies anyone. Nothing is ever deleted.
"""

import functools
import ipaddress
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.text import slugify

from articles.models import Article
from comments.locking import lock_new_tree, lock_tree
from comments.models import MAX_NAME_LENGTH, Comment
from comments.moderation import bump_thread_version
from comments.text import http_url, render_comment_body
from comments.wxr.markup import article_html, html_to_text
from comments.wxr.parser import Author, WXRError, WXRReader, element_name

Status = Comment.Status

WP_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
ZERO_DATES = {"", "0000-00-00 00:00:00", "0000-00-00"}
# "Wed, 01 Jan 2020 09:00:00 +0000": a four-digit year after the month. WordPress writes
# "Mon, 30 Nov -0001 00:00:00 +0000" for posts without a date, which the email module
# would read as the year 2000.
RFC2822_YEAR_RE = re.compile(r"^(?:\w+,\s*)?\d{1,2}\s+[A-Za-z]+\s+\d{4}\s")
COMMENT_STATUSES = {
    "1": Status.APPROVED,
    "approve": Status.APPROVED,
    "0": Status.PENDING,
    "hold": Status.PENDING,
    "spam": Status.SPAM,
    "trash": Status.REMOVED,
    "post-trashed": Status.REMOVED,
}
SKIPPED_POST_TYPES = {
    "page": "pages",
    "attachment": "attachments",
    "nav_menu_item": "menu items",
    "revision": "revisions",
}
SKIPPED_POST_STATUSES = {"trash": "trashed posts", "auto-draft": "auto-drafts"}
UNTITLED = "(untitled)"
SLUG_MAX_LENGTH = 200
KEY_BATCH = 500
FLUSH_SIZE = 5000  # new comments buffered across posts before they are inserted
COMMENT_UPDATE_FIELDS = [
    "author_name",
    "author_email",
    "author_url",
    "ip_address",
    "user_id",
    "body",
    "body_html",
    "status",
    "created_at",
]
NOTES_SHOWN = 20
# WordPress logins are letters, digits, space and _ . - @ (sanitize_user); some
# exports carry stray characters around them (">login").
LOGIN_JUNK_RE = re.compile(r"[^\w .@-]")


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    path: str
    dry_run: bool = False
    site: str = ""
    users_created: int = 0
    articles: Counter = field(default_factory=Counter)  # created / updated / unchanged
    comments: Counter = field(default_factory=Counter)  # created / updated / unchanged
    statuses: Counter = field(default_factory=Counter)  # every imported comment, by status
    skipped: Counter = field(default_factory=Counter)  # reason → count
    promoted: list = field(default_factory=list)  # comments whose parent is missing
    protected: list = field(default_factory=list)  # password-protected posts (drafts)

    def lines(self):
        heading = f"{self.path}" + (f" (site {self.site})" if self.site else "")
        if self.dry_run:
            heading += " — dry run, nothing was written"
        lines = [
            heading,
            f"  Users: {self.users_created} created",
            "  Articles: "
            + ", ".join(f"{self.articles[k]} {k}" for k in ("created", "updated", "unchanged")),
            "  Comments: "
            + ", ".join(f"{self.comments[k]} {k}" for k in ("created", "updated", "unchanged"))
            + " — "
            + ", ".join(f"{self.statuses[s]} {s}" for s in Status.values),
        ]
        if self.skipped:
            lines.append("  Skipped:")
            lines += [f"    {count} {reason}" for reason, count in sorted(self.skipped.items())]
        lines += _listed("Comments promoted to top level (parent not in the file)", self.promoted)
        lines += _listed("Password-protected posts imported as drafts", self.protected)
        return lines


def _listed(title, notes):
    if not notes:
        return []
    lines = [f"  {title}: {len(notes)}"]
    lines += [f"    {note}" for note in notes[:NOTES_SHOWN]]
    if len(notes) > NOTES_SHOWN:
        lines.append(f"    … and {len(notes) - NOTES_SHOWN} more")
    return lines


def import_wxr(source, *, dry_run=False, with_pingbacks=False, time_zone=None, on_progress=None):
    """Import the WXR file ``source`` (a path or a binary file object) in one transaction.

    Raises ``WXRError`` (and writes nothing) when the file can't be parsed.
    ``time_zone`` (a tzinfo; default: the current time zone) is used for dates
    that only exist in the site's local time. ``on_progress(n)`` is called with
    the number of bytes read after each chunk.
    """
    path = os.fspath(source) if isinstance(source, str | os.PathLike) else source
    report = ImportReport(path=str(getattr(source, "name", path)), dry_run=dry_run)
    fileobj = open(path, "rb") if isinstance(path, str) else source  # noqa: SIM115
    try:
        with transaction.atomic():
            importer = _Importer(
                report=report,
                with_pingbacks=with_pingbacks,
                time_zone=time_zone or timezone.get_current_timezone(),
            )
            reader = WXRReader(fileobj, on_progress=on_progress)
            for record in reader:
                importer.handle(record, reader.channel)
            importer.finish()
            if dry_run:
                transaction.set_rollback(True)
    finally:
        if fileobj is not source:
            fileobj.close()
    return report


@dataclass(eq=False)
class _Entry:
    """One comment of the file, before and after it meets the database."""

    wp_id: int
    parent_wp: int
    key: str
    values: dict  # the Comment's field values
    comment: Comment | None = None  # built only for comments new to the database
    parent: "_Entry | None" = None
    existing: Comment | None = None


def site_key(channel):
    """The site part of import keys: the blog's URL without scheme or trailing slash."""
    for name in ("base_blog_url", "link", "base_site_url"):
        url = (channel.get(name) or "").strip()
        if url:
            parts = urlsplit(url if "//" in url else f"//{url}")
            site = (parts.netloc.lower().removeprefix("www.") + parts.path).rstrip("/")
            if site:
                return site[:150]
    return ""


class _Importer:
    def __init__(self, *, report, with_pingbacks, time_zone):
        self.report = report
        self.with_pingbacks = with_pingbacks
        self.time_zone = time_zone
        self.User = get_user_model()
        self.users = {}  # login → user
        self.authors = {}  # login → wp:author fields
        self.author_logins = {}  # WordPress user id → login
        self.site = None
        self.next_tree_id = None
        self.touched = set()
        self.seen_posts = set()
        self.seen_comments = set()
        self.unsaved = []  # new comments, numbered, waiting for one bulk insert

    # --- records -------------------------------------------------------------------
    def handle(self, record, channel):
        if isinstance(record, Author):
            self._author(record)
        else:
            self._item(record, channel)

    def finish(self):
        self._flush()
        if self.touched:
            bump_thread_version(self.touched)

    def _author(self, record):
        login = _clean_login(record.fields.get("author_login", ""))
        if not login:
            self.report.skipped["authors without a login"] += 1
            return
        self.authors[login] = record.fields
        wp_id = record.fields.get("author_id", "").strip()
        if wp_id.isdigit():
            self.author_logins[int(wp_id)] = login
        self._user(login)

    def _user(self, login):
        login = _clean_login(login) or "wordpress"
        if login in self.users:
            return self.users[login]
        manager = self.User._default_manager
        user = (
            manager.filter(username=login).first()
            or manager.filter(username__iexact=login).order_by("pk").first()
        )
        if user is None:
            fields = self.authors.get(login, {})
            first = fields.get("author_first_name", "").strip()
            last = fields.get("author_last_name", "").strip()
            display = fields.get("author_display_name", "").strip()
            if not (first or last) and display and display != login:
                first = display  # so bylines show the name WordPress showed
            user = self.User(
                username=login,
                first_name=first[:150],
                last_name=last[:150],
                email=_valid_email(fields.get("author_email", "")),
                is_active=False,
            )
            user.set_unusable_password()
            user.save()
            self.report.users_created += 1
        self.users[login] = user
        return user

    def _item(self, item, channel):
        fields = item.fields
        post_type = fields.get("post_type", "").strip() or "post"
        post_status = fields.get("status", "").strip().lower()
        reason = None
        if post_type != "post":
            reason = SKIPPED_POST_TYPES.get(post_type, f"items of type “{post_type}”")
        elif post_status in SKIPPED_POST_STATUSES:
            reason = SKIPPED_POST_STATUSES[post_status]
        if reason:
            self.report.skipped[reason] += 1
            if item.comments:
                self.report.skipped["comments on skipped items"] += len(item.comments)
            return
        if self.site is None:
            self.site = site_key(channel)
            if not self.site:
                raise WXRError(
                    "the <channel> has no <link> or <wp:base_blog_url>: "
                    "can't tell which site the posts come from"
                )
            self.report.site = self.site
        post_id = _int(item, "post_id", what="<item>")
        key = f"wxr:{self.site}:post:{post_id}"
        if key in self.seen_posts:
            self.report.skipped["posts repeated in the file"] += 1
            return
        self.seen_posts.add(key)
        article = self._article(item, post_id, key)
        self._comments(item, article, post_id)

    # --- articles --------------------------------------------------------------------
    def _article(self, item, post_id, key):
        fields = item.fields
        title = " ".join(html_to_text(fields.get("title", "")).split())[:200] or UNTITLED
        status = (
            Article.Status.PUBLISHED
            if fields.get("status", "").strip().lower() in ("publish", "future")
            else Article.Status.DRAFT
        )
        if fields.get("post_password", "").strip():
            status = Article.Status.DRAFT
            self.report.protected.append(f"post {post_id} “{title}”")
        published_at = self._date(item, "post_date_gmt", "post_date") or _rfc2822(
            fields.get("pubDate", "")
        )
        values = {
            "title": title,
            "summary": html_to_text(fields.get("excerpt", "")),
            "body": "",
            "body_html": article_html(fields.get("content", "")),
            "status": status,
            "published_at": published_at,
            "comments_open": fields.get("comment_status", "open").strip().lower() != "closed",
            "author_id": self._user(fields.get("creator", "")).pk,
        }
        article = Article.objects.filter(import_key=key).first()
        if published_at is None:
            # An undated post (an unscheduled draft) is dated when first imported, once:
            # re-importing the same file changes nothing.
            values["published_at"] = timezone.now() if article is None else article.published_at
        if article is None:
            article = Article(import_key=key, **values)
            article.slug = self._unique_slug(fields.get("post_name", ""), title, post_id)
            article.save()
            self.report.articles["created"] += 1
            self.touched.add(article.pk)
            return article
        changed = [name for name, value in values.items() if getattr(article, name) != value]
        if changed:
            for name in changed:
                setattr(article, name, values[name])
            article.save()  # the slug is kept: published URLs don't move
            self.report.articles["updated"] += 1
            self.touched.add(article.pk)
        else:
            self.report.articles["unchanged"] += 1
        return article

    def _unique_slug(self, post_name, title, post_id):
        base = slugify(unquote(post_name.strip())) or slugify(title) or f"post-{post_id}"
        base = base[:SLUG_MAX_LENGTH].strip("-") or f"post-{post_id}"
        slug, number = base, 1
        while Article.objects.filter(slug=slug).exists():
            number += 1
            suffix = f"-{number}"
            slug = base[: SLUG_MAX_LENGTH - len(suffix)] + suffix
        return slug

    # --- comments --------------------------------------------------------------------
    def _comments(self, item, article, post_id):
        entries = [
            entry for record in item.comments if (entry := self._entry(record, article, post_id))
        ]
        if not entries:
            return
        self._match_existing(entries, article)
        entries = [entry for entry in entries if entry is not None and entry.key]
        for entry in entries:
            if entry.values["created_at"] is None:
                # Undated: the article's date the first time, then the date it got then.
                entry.values["created_at"] = (
                    entry.existing.created_at if entry.existing else article.published_at
                )
        self._link_parents(entries, post_id)
        entries.sort(key=lambda entry: (entry.values["created_at"], entry.wp_id))
        for entry in entries:
            self.report.statuses[entry.values["status"]] += 1
            if entry.existing is None:
                entry.comment = Comment(**entry.values)
        changed = self._update_existing([entry for entry in entries if entry.existing])
        created = self._create_new([entry for entry in entries if not entry.existing])
        if changed or created:
            self.touched.add(article.pk)

    def _entry(self, record, article, post_id):
        fields = record.fields
        comment_type = fields.get("comment_type", "").strip().lower()
        if comment_type in ("pingback", "trackback"):
            if not self.with_pingbacks:
                self.report.skipped[f"{comment_type}s"] += 1
                return None
        elif comment_type not in ("", "comment"):
            self.report.skipped[f"comments of type “{comment_type}”"] += 1
            return None
        what = f"<wp:comment> of post {post_id}"
        wp_id = _int(record, "comment_id", what=what)
        key = f"wxr:{self.site}:comment:{wp_id}"
        if key in self.seen_comments:
            self.report.skipped["comments repeated in the file"] += 1
            return None
        self.seen_comments.add(key)
        parent_wp = _int(record, "comment_parent", what=what, default=0)
        user_id = _int(record, "comment_user_id", what=what, default=0)
        login = self.author_logins.get(user_id) if user_id else None
        name = " ".join(html_to_text(fields.get("comment_author", "")).split())
        body = html_to_text(fields.get("comment_content", ""))
        values = {
            "article_id": article.pk,
            "author_name": name[:MAX_NAME_LENGTH] or "Anonymous",
            "author_email": _valid_email(fields.get("comment_author_email", "")),
            "author_url": http_url(fields.get("comment_author_url", ""))[:500],
            "ip_address": _valid_ip(fields.get("comment_author_IP", "")),
            "user_id": self._user(login).pk if login else None,
            "body": body,
            "body_html": render_comment_body(body),
            "status": COMMENT_STATUSES.get(
                fields.get("comment_approved", "").strip().lower(), Status.PENDING
            ),
            "created_at": self._date(record, "comment_date_gmt", "comment_date"),
            "import_key": key,
        }
        return _Entry(wp_id=wp_id, parent_wp=parent_wp, key=key, values=values)

    def _match_existing(self, entries, article):
        by_key = {entry.key: entry for entry in entries}
        keys = list(by_key)
        for start in range(0, len(keys), KEY_BATCH):
            batch = keys[start : start + KEY_BATCH]
            for existing in Comment.objects.filter(import_key__in=batch).order_by():
                entry = by_key[existing.import_key]
                if existing.article_id != article.pk:
                    self.report.skipped["comments already imported on another article"] += 1
                    entry.key = ""  # dropped by the caller
                    continue
                entry.existing = existing

    def _link_parents(self, entries, post_id):
        by_wp = {entry.wp_id: entry for entry in entries}
        for entry in entries:
            parent = by_wp.get(entry.parent_wp) if entry.parent_wp else None
            if entry.parent_wp and (parent is None or parent is entry):
                self.report.promoted.append(
                    f"comment {entry.wp_id} on post {post_id} (parent {entry.parent_wp})"
                )
                parent = None
            entry.parent = parent
        # A reply chain that loops back on itself: cut it where the loop closes.
        done = set()
        for entry in entries:
            path, node = set(), entry
            while node is not None and node.wp_id not in done and node.wp_id not in path:
                path.add(node.wp_id)
                node = node.parent
            if node is not None and node.wp_id in path:
                self.report.promoted.append(
                    f"comment {node.wp_id} on post {post_id} (parent {node.parent_wp}: a loop)"
                )
                node.parent = None
            done |= path

    def _update_existing(self, entries):
        changed = []
        for entry in entries:
            existing, new = entry.existing, entry.values
            if any(getattr(existing, f) != new[f] for f in COMMENT_UPDATE_FIELDS):
                for name in COMMENT_UPDATE_FIELDS:
                    setattr(existing, name, new[name])
                changed.append(existing)
        if changed:
            Comment.objects.bulk_update(changed, COMMENT_UPDATE_FIELDS, batch_size=KEY_BATCH)
        self.report.comments["updated"] += len(changed)
        self.report.comments["unchanged"] += len(entries) - len(changed)
        return len(changed)

    def _create_new(self, entries):
        """Number the new comments' trees, then insert them one tree level at a time."""
        if not entries:
            return 0
        children = defaultdict(list)  # id(parent comment) → new replies, in date order
        roots, grafts = [], defaultdict(list)
        for entry in entries:
            if entry.parent is None:
                roots.append(entry.comment)
            elif entry.parent.existing is not None:
                grafts[entry.parent.existing.tree_id].append(entry)
            else:
                children[id(entry.parent.comment)].append(entry.comment)
            entry.comment.parent = (
                None if entry.parent is None else entry.parent.existing or entry.parent.comment
            )
        for root in roots:
            _number_tree(root, self._new_tree_id(), 0, lambda node: children[id(node)])
        for tree_id, tree_entries in grafts.items():
            self._regraft(tree_id, tree_entries, children)
        self.unsaved.extend(entry.comment for entry in entries)
        if len(self.unsaved) >= FLUSH_SIZE:
            self._flush()
        self.report.comments["created"] += len(entries)
        return len(entries)

    def _flush(self):
        """Insert the buffered new comments, parents before replies (one level at a time)."""
        by_level = defaultdict(list)
        for comment in self.unsaved:
            by_level[comment.level].append(comment)
        for level in sorted(by_level):
            Comment.objects.bulk_create(by_level[level], batch_size=KEY_BATCH)
        self.unsaved = []

    def _regraft(self, tree_id, entries, children):
        """Add new replies to an existing tree as last children; renumber the tree."""
        lock_tree(tree_id)
        nodes = list(
            Comment.objects.filter(tree_id=tree_id)
            .order_by("lft")
            .only("pk", "parent_id", "tree_id", "lft", "rght", "level")
        )
        existing_children = defaultdict(list)
        root = None
        for node in nodes:
            if node.parent_id is None:
                root = node
            else:
                existing_children[node.parent_id].append(node)
        for entry in entries:
            existing_children[entry.parent.existing.pk].append(entry.comment)
        before = {node.pk: (node.lft, node.rght) for node in nodes}

        def replies(node):
            if node.pk is None:
                return children[id(node)]
            return existing_children[node.pk]

        last = _number_tree(root, tree_id, 0, replies)
        moved = [node for node in nodes if before[node.pk] != (node.lft, node.rght)]
        if not moved:
            return
        # Two steps, so no row ever takes a (tree_id, lft) another row still holds:
        # the unique constraint is checked per row on SQLite.
        offset = max(last, max(rght for _lft, rght in before.values())) + 1
        pks = [node.pk for node in moved]
        for start in range(0, len(pks), KEY_BATCH):
            Comment.objects.filter(pk__in=pks[start : start + KEY_BATCH]).update(
                lft=F("lft") + offset, rght=F("rght") + offset
            )
        Comment.objects.bulk_update(moved, ["lft", "rght"], batch_size=KEY_BATCH)

    def _new_tree_id(self):
        if self.next_tree_id is None:
            # Held until the file's transaction ends: no one else allocates ids meanwhile.
            lock_new_tree()
            self.next_tree_id = (Comment.objects.aggregate(top=Max("tree_id"))["top"] or 0) + 1
        tree_id = self.next_tree_id
        self.next_tree_id += 1
        return tree_id

    # --- values ----------------------------------------------------------------------
    def _date(self, record, gmt_name, local_name):
        gmt = record.fields.get(gmt_name, "").strip()
        if gmt not in ZERO_DATES:
            return _parse_date(record, gmt_name, gmt).replace(tzinfo=UTC)
        local = record.fields.get(local_name, "").strip()
        if local not in ZERO_DATES:
            return timezone.make_aware(_parse_date(record, local_name, local), self.time_zone)
        return None


def _number_tree(root, tree_id, level, replies):
    """Give ``root``'s tree nested-set numbers in preorder; returns the last number used."""
    counter = 0
    stack = [(root, level, False)]
    while stack:
        node, depth, leaving = stack.pop()
        counter += 1
        if leaving:
            node.rght = counter
            continue
        node.tree_id, node.level, node.lft = tree_id, depth, counter
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(replies(node)))
    return counter


def _parse_date(record, name, value):
    try:
        if len(value) != len(WP_DATE_FORMAT) + 2:
            raise ValueError(value)
        return datetime.fromisoformat(value)  # much faster than strptime
    except ValueError:
        raise WXRError(
            f"line {record.line}: <{element_name(name)}> is {value!r}, "
            "not a date (expected YYYY-MM-DD HH:MM:SS)"
        ) from None


def _rfc2822(value):
    """A ``pubDate``; None for none and for WordPress's "no date" (year ``-0001``)."""
    value = value.strip()
    if not RFC2822_YEAR_RE.search(value):
        return None
    try:
        date = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    # "-0000" (UTC, local zone unknown) gives a naive datetime, never equal to a stored one.
    return date if date.tzinfo else date.replace(tzinfo=UTC)


def _int(record, name, *, what, default=None):
    value = record.fields.get(name, "").strip()
    if not value and default is not None:
        return default
    try:
        return int(value)
    except ValueError:
        raise WXRError(
            f"line {record.line}: <{element_name(name)}> of {what} is {value!r}, not a number"
        ) from None


def _clean_login(value):
    return LOGIN_JUNK_RE.sub("", value or "").strip()[:150]


@functools.lru_cache(maxsize=4096)
def _valid_email(value):
    value = (value or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value[:254]


@functools.lru_cache(maxsize=4096)
def _valid_ip(value):
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None
