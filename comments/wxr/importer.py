"""Import one WXR file: authors → users, posts → articles, comments → comment trees.

This module writes; ``comments.wxr.mapping`` says what WordPress's fields become.

One transaction per file. Comment trees are numbered in Python and written with
``bulk_create`` (``comments.treewrites.place_new_comments`` and ``bulk_insert``: one
insert per tree level, not one mptt insert per comment), so tens of thousands of
comments take seconds. Every imported row carries an ``import_key`` (site + WordPress
id): importing the same file again updates rows in place, and only rows whose values
differ count as updated (an undated post or comment keeps the date it got the first
time). Comments already imported keep their place in their tree; new ones are added
as the last replies of their parent, and the affected trees are renumbered.

Statuses are set directly from the export: an import is a data migration, not a
moderation decision, so it neither goes through ``comments.moderation`` actions
nor notifies anyone. Each comment joins the commenter of its email address (created in
bulk when new, ``comments.commenters``), whose counts are recounted. Nothing is ever
deleted.
"""

import os
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from articles.models import Article, Section, Tag
from articles.rendering import render_markdown
from comments import commenters, treewrites
from comments.models import Comment
from comments.signals import invalidate
from comments.text import render_comment_body
from comments.wxr import mapping
from comments.wxr.parser import Author, Term, WXRError, WXRReader

Status = Comment.Status

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
    "body_is_html",
    "status",
    "created_at",
]
NOTES_SHOWN = 20


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    path: str
    dry_run: bool = False
    site: str = ""
    users_created: int = 0
    articles: Counter = field(default_factory=Counter)  # created / updated / unchanged
    sections: Counter = field(default_factory=Counter)  # created / existing
    tags: Counter = field(default_factory=Counter)  # created / existing
    comments: Counter = field(default_factory=Counter)  # created / updated / unchanged
    statuses: Counter = field(default_factory=Counter)  # every imported comment, by status
    skipped: Counter = field(default_factory=Counter)  # reason → count
    promoted: list = field(default_factory=list)  # comments whose parent is missing
    protected: list = field(default_factory=list)  # password-protected posts (drafts)
    skipped_lines: list = field(default_factory=list)  # items and comments left out, why

    def lines(self):
        heading = f"{self.path}" + (f" (site {self.site})" if self.site else "")
        if self.dry_run:
            heading += " — dry run, nothing was written"
        lines = [
            heading,
            f"  Users: {self.users_created} created",
            "  Articles: "
            + ", ".join(f"{self.articles[k]} {k}" for k in ("created", "updated", "unchanged")),
            "  Sections: " + ", ".join(f"{self.sections[k]} {k}" for k in ("created", "existing")),
            "  Tags: " + ", ".join(f"{self.tags[k]} {k}" for k in ("created", "existing")),
            "  Comments: "
            + ", ".join(f"{self.comments[k]} {k}" for k in ("created", "updated", "unchanged"))
            + " — "
            + ", ".join(f"{self.statuses[s]} {s}" for s in Status.values),
        ]
        if self.skipped:
            lines.append("  Skipped:")
            lines += [f"    {count} {reason}" for reason, count in sorted(self.skipped.items())]
        lines += listed_lines(
            "Comments promoted to top level (parent not in the file)", self.promoted
        )
        lines += listed_lines("Password-protected posts imported as drafts", self.protected)
        lines += listed_lines("Left out (line by line)", self.skipped_lines)
        return lines


def listed_lines(title, notes):
    """A summary's list: its title and count, then the first ``NOTES_SHOWN`` notes."""
    if not notes:
        return []
    lines = [f"  {title}: {len(notes)}"]
    lines += [f"    {note}" for note in notes[:NOTES_SHOWN]]
    if len(notes) > NOTES_SHOWN:
        lines.append(f"    … and {len(notes) - NOTES_SHOWN} more")
    return lines


def import_wxr(
    source,
    *,
    dry_run=False,
    with_pingbacks=False,
    time_zone=None,
    on_progress=None,
    site=None,
    section_from=(),
):
    """Import the WXR file ``source`` (a path or a binary file object) in one transaction.

    Raises ``WXRError`` (and writes nothing) when the file can't be parsed.
    ``time_zone`` (a tzinfo; default: the current time zone) is used for dates that only
    exist in the site's local time. ``on_progress(n)`` is called with the number of
    bytes read after each chunk. ``site`` (``--site NAME``) names the site in import keys
    instead of the export's URLs; without both, the file does (``mapping.file_site_key``).
    ``section_from`` (``--section-from``): category slugs, in order, that an article's
    section is taken from before its first category (``mapping.section_slug``).
    """
    path = os.fspath(source) if isinstance(source, str | os.PathLike) else source
    name = getattr(source, "name", path)
    report = ImportReport(path=str(name), dry_run=dry_run)
    fileobj = open(path, "rb") if isinstance(path, str) else source  # noqa: SIM115
    try:
        with transaction.atomic():
            importer = _Importer(
                report=report,
                with_pingbacks=with_pingbacks,
                time_zone=time_zone or timezone.get_current_timezone(),
                site=mapping.named_site_key(site) if site else None,
                file_name=name if isinstance(name, str) else "",
                section_from=section_from,
            )
            reader = WXRReader(fileobj, on_progress=on_progress)
            checked = False
            for record in reader:
                if not checked and "wxr_version" in reader.channel:
                    # WordPress writes the version before any author or item: a bad one
                    # stops the import before anything is written.
                    mapping.check_wxr_version(reader.channel)
                    checked = True
                importer.handle(record, reader.channel)
            # Missing (or only after the records): refused, the transaction rolls back.
            mapping.check_wxr_version(reader.channel)
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


class _Importer:
    def __init__(
        self, *, report, with_pingbacks, time_zone, site=None, file_name="", section_from=()
    ):
        self.report = report
        self.with_pingbacks = with_pingbacks
        self.time_zone = time_zone
        self.User = get_user_model()
        self.users = {}  # login → user
        self.authors = {}  # login → mapping.AuthorRecord
        self.author_logins = {}  # WordPress user id → login
        self.site = site or None
        self.report.site = self.site or ""
        self.file_name = file_name
        self.section_from = list(section_from or ())
        self.term_definitions = {}  # (kind, slug) → mapping.TermRecord from the channel
        self.terms = {}  # (kind, slug) → the Section or Tag
        # New thread ids: the new-tree lock is taken at the first one and held until the
        # file's transaction ends, so no one else allocates ids meanwhile.
        self.tree_ids = treewrites.TreeIds()
        self.touched = set()
        self.seen_posts = set()
        self.seen_comments = set()
        self.unsaved = []  # new comments, numbered, waiting for one bulk insert

    # --- records -------------------------------------------------------------------
    def handle(self, record, channel):
        if isinstance(record, Author):
            self._author(record)
        elif isinstance(record, Term):
            term = mapping.term_record(record)
            if term is not None:
                self.term_definitions.setdefault((term.kind, term.slug), term)
        else:
            self._item(record, channel)

    def finish(self):
        self._flush()
        # bulk_create / bulk_update send no model signals: the touched articles' cached
        # pages are invalidated here, once, in the file's transaction.
        invalidate(self.touched)

    def _author(self, record):
        author = mapping.author_record(record)
        if author is None:
            self.report.skipped["authors without a login"] += 1
            return
        self.authors[author.login] = author
        if author.wp_id is not None:
            self.author_logins[author.wp_id] = author.login
        self._user(author.login)

    def _user(self, login):
        login = mapping.clean_login(login) or "wordpress"
        if login in self.users:
            return self.users[login]
        manager = self.User._default_manager
        user = (
            manager.filter(username=login).first()
            or manager.filter(username__iexact=login).order_by("pk").first()
        )
        if user is None:
            author = self.authors.get(login)
            user = self.User(
                username=login,
                first_name=author.first_name if author else "",
                last_name=author.last_name if author else "",
                email=author.email if author else "",
                is_active=False,
            )
            user.set_unusable_password()
            user.save()
            self.report.users_created += 1
        self.users[login] = user
        return user

    def _item(self, item, channel):
        reason = mapping.skipped_item(item)
        if reason:
            self.report.skipped[reason] += 1
            if item.comments:
                self.report.skipped["comments on skipped items"] += len(item.comments)
            return
        if self.site is None:
            # No --site: the export's URL, else the file (its name and channel title).
            self.site = mapping.site_key(channel) or mapping.file_site_key(self.file_name, channel)
            self.report.site = self.site
        try:
            post_id = mapping.read_post_id(item)
        except WXRError as error:
            title = " ".join(item.fields.get("title", "").split())[:80]
            self._left_out("posts with an unreadable id", f"{error} (“{title}”)")
            if item.comments:
                self.report.skipped["comments on skipped items"] += len(item.comments)
            return
        key = mapping.post_key(self.site, post_id)
        if key in self.seen_posts:
            self.report.skipped["posts repeated in the file"] += 1
            return
        self.seen_posts.add(key)
        article = self._article(item, post_id, key)
        self._comments(item, article, post_id)

    def _left_out(self, reason, note):
        self.report.skipped[reason] += 1
        self.report.skipped_lines.append(note)

    # --- articles --------------------------------------------------------------------
    def _article(self, item, post_id, key):
        record = mapping.article_record(item, post_id=post_id, time_zone=self.time_zone)
        if record.password_protected:
            self.report.protected.append(f"post {post_id} “{record.title}”")
        # threadpress's own export carries the Markdown source: the article comes back
        # as Markdown (rendered as every Markdown article is), not as HTML only.
        markdown = item.meta.get(mapping.MARKDOWN_META_KEY, "")
        values = {
            "title": record.title,
            "summary": record.summary,
            "body": markdown,
            "body_html": render_markdown(markdown) if markdown else record.body_html,
            "status": record.status,
            "published_at": record.published_at,
            "comments_open": record.comments_open,
            "author_id": self._user(record.creator).pk,
        }
        categories, tags = mapping.item_terms(item)
        section = mapping.section_slug(categories, self.section_from)
        if section is not None:
            values["section_id"] = self._term(
                next(c for c in categories if c.slug == section), Section
            ).pk
        tag_ids = {self._term(tag, Tag).pk for tag in tags}
        article = Article.objects.filter(import_key=key).first()
        if record.published_at is None:
            # An undated post (an unscheduled draft) is dated when first imported, once:
            # re-importing the same file changes nothing.
            values["published_at"] = timezone.now() if article is None else article.published_at
        if article is None:
            article = Article(import_key=key, slug=self._unique_slug(record.slug), **values)
            article.save()
            if tag_ids:
                article.tags.add(*tag_ids)
            self.report.articles["created"] += 1
            self.touched.add(article.pk)
            return article
        changed = [name for name, value in values.items() if getattr(article, name) != value]
        # Tags the file gives are added; tags given here since are kept.
        new_tags = tag_ids - set(article.tags.values_list("pk", flat=True)) if tag_ids else ()
        if new_tags:
            article.tags.add(*new_tags)
        if changed or new_tags:
            for name in changed:
                setattr(article, name, values[name])
            article.save()  # the slug is kept: published URLs don't move
            self.report.articles["updated"] += 1
            self.touched.add(article.pk)
        else:
            self.report.articles["unchanged"] += 1
        return article

    def _term(self, record, model):
        """The Section or Tag of a category or tag, matched by slug, created when new
        (with the channel's name and description when it defines them)."""
        key = (record.kind, record.slug)
        if key in self.terms:
            return self.terms[key]
        record = self.term_definitions.get(key, record)
        counts = self.report.sections if model is Section else self.report.tags
        term = model.objects.filter(slug=record.slug).first()
        if term is None:
            name = record.name
            if model.objects.filter(name=name).exists():
                # Names are unique too: another slug already holds this one.
                name = (
                    f"{name[: mapping.TERM_NAME_MAX_LENGTH - len(record.slug) - 3]} ({record.slug})"
                )
            term = model(slug=record.slug, name=name)
            if model is Section:
                term.description = record.description
            term.save()
            counts["created"] += 1
        else:
            counts["existing"] += 1
        self.terms[key] = term
        return term

    def _unique_slug(self, base):
        slug, number = base, 1
        while Article.objects.filter(slug=slug).exists():
            number += 1
            suffix = f"-{number}"
            slug = base[: mapping.SLUG_MAX_LENGTH - len(suffix)] + suffix
        return slug

    # --- comments --------------------------------------------------------------------
    def _comments(self, item, article, post_id):
        entries = [
            entry
            for position, record in enumerate(item.comments)
            if (entry := self._entry(record, article, post_id, position))
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

    def _entry(self, record, article, post_id, position):
        reason = mapping.skipped_comment(record, with_pingbacks=self.with_pingbacks)
        if reason:
            self.report.skipped[reason] += 1
            return None
        try:
            wp_id = mapping.read_comment_id(record, post_id=post_id)
        except WXRError as error:
            self._left_out("comments with an unreadable id", str(error))
            return None
        if wp_id is None:
            # No <wp:comment_id> (WordPress imports it): keyed by its place in the post;
            # no reply can name it as its parent, so a negative id stands in.
            key = mapping.comment_key(self.site, f"{post_id}-{position + 1}")
            wp_id = -(position + 1)
        else:
            key = mapping.comment_key(self.site, wp_id)
        if key in self.seen_comments:
            self.report.skipped["comments repeated in the file"] += 1
            return None
        self.seen_comments.add(key)
        fields = mapping.comment_record(
            record, wp_id=wp_id, post_id=post_id, time_zone=self.time_zone
        )
        login = self.author_logins.get(fields.user_wp_id) if fields.user_wp_id else None
        values = {
            "article_id": article.pk,
            "author_name": fields.author_name,
            "author_email": fields.author_email,
            "author_url": fields.author_url,
            "ip_address": fields.ip_address,
            "user_id": self._user(login).pk if login else None,
            "body": fields.body,
            "body_html": fields.body_html or render_comment_body(fields.body),
            "body_is_html": bool(fields.body_html),
            "status": fields.status,
            "created_at": fields.created_at,
            "import_key": key,
        }
        return _Entry(wp_id=fields.wp_id, parent_wp=fields.parent_wp, key=key, values=values)

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
            # A changed address or status changes whose record it counts on.
            before = {comment.commenter_id for comment in changed}
            after = commenters.assign(changed)
            Comment.objects.bulk_update(
                changed, [*COMMENT_UPDATE_FIELDS, "commenter"], batch_size=KEY_BATCH
            )
            commenters.refresh_stats(before | after)
        self.report.comments["updated"] += len(changed)
        self.report.comments["unchanged"] += len(entries) - len(changed)
        return len(changed)

    def _create_new(self, entries):
        """Number the new comments (in date order, each the last reply of its parent:
        an earlier comment of the file or one already imported), buffer them for
        ``_flush``."""
        if not entries:
            return 0
        for entry in entries:
            entry.comment.parent = (
                None if entry.parent is None else entry.parent.existing or entry.parent.comment
            )
        new = [entry.comment for entry in entries]
        treewrites.place_new_comments(new, tree_ids=self.tree_ids)
        self.unsaved.extend(new)
        if len(self.unsaved) >= FLUSH_SIZE:
            self._flush()
        self.report.comments["created"] += len(entries)
        return len(entries)

    def _flush(self):
        treewrites.bulk_insert(self.unsaved, batch_size=KEY_BATCH)
        self.unsaved = []
