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

from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.utils import timezone

from articles.models import Article, Section, Tag
from articles.rendering import render_markdown
from comments.models import Comment
from comments.text import render_comment_body
from comments.wxr import common, mapping
from comments.wxr.parser import Author, Term, WXRError, WXRReader

Status = Comment.Status


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
        lines = [
            common.heading(
                self.path, f"site {self.site}" if self.site else "", dry_run=self.dry_run
            ),
            f"  Users: {self.users_created} created",
            common.counts_line("Articles", self.articles, ("created", "updated", "unchanged")),
            common.counts_line("Sections", self.sections, ("created", "existing")),
            common.counts_line("Tags", self.tags, ("created", "existing")),
            common.comments_line(self.comments, self.statuses),
            *common.skipped_lines(self.skipped),
        ]
        lines += common.listed_lines(
            "Comments promoted to top level (parent not in the file)", self.promoted
        )
        lines += common.listed_lines("Password-protected posts imported as drafts", self.protected)
        lines += common.listed_lines("Left out (line by line)", self.skipped_lines)
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
    with common.opened(source) as (fileobj, name), common.one_transaction(dry_run=dry_run):
        report = ImportReport(path=str(name), dry_run=dry_run)
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
    return report


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
        self.writer = common.CommentWriter(report, update_fields=common.UPDATE_FIELDS)
        self.touched = self.writer.touched
        self.seen_posts = set()
        self.seen_comments = set()

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
        self.writer.finish()

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
            term = model(slug=record.slug, name=self._free_name(model, record))
            if model is Section:
                term.description = record.description
            term.save()
            counts["created"] += 1
        else:
            counts["existing"] += 1
        self.terms[key] = term
        return term

    @staticmethod
    def _free_name(model, record):
        """The term's name, or (names are unique too, and another slug already holds it)
        the name with its slug in brackets, else numbered."""
        limit = mapping.TERM_NAME_MAX_LENGTH
        bracketed = f"{record.name[: max(1, limit - len(record.slug) - 3)]} ({record.slug})"
        candidates = [record.name, bracketed[:limit]]
        candidates += [f"{bracketed[: limit - 6]} ({n})" for n in range(2, 100)]
        taken = set(model.objects.filter(name__in=candidates).values_list("name", flat=True))
        return next(name for name in candidates if name not in taken)

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
        entries = self.writer.match_existing(article.pk, entries)
        for entry in entries:
            if entry.values["created_at"] is None:
                # Undated: the article's date the first time, then the date it got then.
                entry.values["created_at"] = (
                    entry.existing.created_at if entry.existing else article.published_at
                )
        self.writer.write(article.pk, entries)

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
        return common.Entry(
            source_id=fields.wp_id,
            parent_id=fields.parent_wp,
            values=values,
            label=f"comment {fields.wp_id} on post {post_id}",
        )
