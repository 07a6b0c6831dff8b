"""Import one Disqus export: threads matched to articles, posts → comment trees.

Threads are matched to articles by their link's path (the host may differ: sites move
domains), after the ``--url-map`` rewrites paths that changed. Posts are read as they
stream by and kept as small records (a reply may come before its parent), then each
article's comments are linked, numbered in Python and written with
``treewrites.bulk_insert``, like ``comments.wxr.importer``. Every comment carries the
import key ``disqus:<forum>:<post id>``: importing again updates rows in place and
adds nothing. One transaction per file; nothing is ever deleted.
"""

import csv
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from django.db import transaction
from django.urls import Resolver404, resolve

from articles.models import Article
from comments import commenters, treewrites
from comments.disqus.parser import DisqusError, Post, Thread, read_disqus
from comments.models import MAX_NAME_LENGTH, Comment
from comments.signals import invalidate
from comments.text import render_comment_body
from comments.wxr.importer import listed_lines
from comments.wxr.mapping import valid_email, valid_ip
from comments.wxr.markup import comment_html, has_markup, html_to_text

Status = Comment.Status

KEY_BATCH = 500
FLUSH_SIZE = 5000
ANONYMOUS = "Anonymous"
UPDATE_FIELDS = [
    "author_name",
    "author_email",
    "ip_address",
    "body",
    "body_html",
    "body_is_html",
    "status",
    "created_at",
]


@dataclass
class DisqusReport:
    """What an import did (or, in a dry run, would do)."""

    path: str
    dry_run: bool = False
    forum: str = ""
    threads: Counter = field(default_factory=Counter)  # matched / unmatched / empty
    comments: Counter = field(default_factory=Counter)  # created / updated / unchanged
    statuses: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    promoted: list = field(default_factory=list)
    unmatched: list = field(default_factory=list)  # "link (N comments)"

    def lines(self):
        heading = self.path + (f" (forum {self.forum})" if self.forum else "")
        if self.dry_run:
            heading += " — dry run, nothing was written"
        lines = [
            heading,
            "  Threads: "
            + ", ".join(
                f"{self.threads[k]} {k}" for k in ("matched", "unmatched", "without comments")
            ),
            "  Comments: "
            + ", ".join(f"{self.comments[k]} {k}" for k in ("created", "updated", "unchanged"))
            + " — "
            + ", ".join(f"{self.statuses[s]} {s}" for s in Status.values),
        ]
        if self.skipped:
            lines.append("  Skipped:")
            lines += [f"    {count} {reason}" for reason, count in sorted(self.skipped.items())]
        lines += listed_lines("Threads with no matching article", self.unmatched)
        lines += listed_lines(
            "Comments promoted to top level (parent not in the thread)", self.promoted
        )
        return lines


# --- paths ---------------------------------------------------------------------------
def normalize_path(url):
    """The path of a URL or path, with a leading and a trailing slash, without query."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url if "://" in url or url.startswith("/") else f"/{url}")
    path = unquote(parts.path) or "/"
    if not path.startswith("/"):
        path = "/" + path
    if not path.endswith("/"):
        path += "/"
    return path


def read_url_map(fileobj):
    """``{old path: new path}`` from a CSV of ``old,new`` rows (URLs or paths; a header
    row whose first cell isn't a path is skipped)."""
    mapping = {}
    for number, row in enumerate(csv.reader(fileobj), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if len(cells) < 2 or not cells[1]:
            raise DisqusError(f"URL map line {number}: expected “old path,new path”")
        if number == 1 and not ("/" in cells[0] and "/" in cells[1]):
            continue  # a header
        mapping[normalize_path(cells[0])] = normalize_path(cells[1])
    return mapping


def _slug_of(path):
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.view_name != "articles:detail":
        return None
    return match.kwargs.get("slug")


# --- the import ------------------------------------------------------------------------
def import_disqus(source, *, url_map=None, dry_run=False, on_progress=None):
    """Import the Disqus export ``source`` (a path or a binary file object) in one
    transaction. Raises ``DisqusError`` (and writes nothing) when it can't be read."""
    path = os.fspath(source) if isinstance(source, str | os.PathLike) else source
    report = DisqusReport(path=str(getattr(source, "name", path)), dry_run=dry_run)
    fileobj = open(path, "rb") if isinstance(path, str) else source  # noqa: SIM115
    try:
        threads, posts = {}, []
        for record in read_disqus(fileobj, on_progress=on_progress):
            if isinstance(record, Thread):
                threads.setdefault(record.dsq_id, record)
            else:
                posts.append(_compact(record))
        with transaction.atomic():
            _Importer(report, threads, url_map or {}).run(posts)
            if dry_run:
                transaction.set_rollback(True)
    finally:
        if fileobj is not source:
            fileobj.close()
    return report


def _compact(post: Post):
    """The post as the comment values it becomes (the HTML made text once, here)."""
    if post.created_at is None:
        raise DisqusError(f"post {post.dsq_id} has no <createdAt>")
    name = " ".join(html_to_text(post.name or post.username).split())
    body = html_to_text(post.message)
    status = Status.SPAM if post.spam else Status.REMOVED if post.deleted else Status.APPROVED
    return (
        post.dsq_id,
        post.thread,
        post.parent,
        {
            "author_name": name[:MAX_NAME_LENGTH] or ANONYMOUS,
            "author_email": valid_email(post.email),
            "ip_address": valid_ip(post.ip),
            "body": body,
            "body_html": post.message if has_markup(post.message) else "",  # the raw HTML
            "status": status,
            "created_at": post.created_at,
        },
    )


@dataclass(eq=False)
class _Entry:
    dsq_id: str
    parent_id: str
    key: str
    values: dict
    comment: Comment | None = None
    parent: "_Entry | None" = None
    existing: Comment | None = None


class _Importer:
    def __init__(self, report, threads, url_map):
        self.report = report
        self.threads = threads
        self.url_map = url_map
        self.tree_ids = treewrites.TreeIds()
        self.touched = set()
        self.unsaved = []

    def run(self, posts):
        forums = sorted({t.forum for t in self.threads.values() if t.forum})
        self.report.forum = ", ".join(forums)
        articles = self._match_threads(posts)
        by_article = defaultdict(list)
        seen = set()
        for dsq_id, thread_id, parent_id, values in posts:
            thread = self.threads.get(thread_id)
            if thread is None:
                self.report.skipped["comments on threads not in the file"] += 1
                continue
            article_id = articles.get(thread_id)
            if article_id is None:
                self.report.skipped["comments on unmatched threads"] += 1
                continue
            key = f"disqus:{thread.forum or 'disqus'}:{dsq_id}"
            if key in seen:
                self.report.skipped["comments repeated in the file"] += 1
                continue
            seen.add(key)
            by_article[article_id].append(
                _Entry(dsq_id, parent_id, key, {**values, "article_id": article_id})
            )
        posts.clear()
        for article_id, entries in by_article.items():
            self._comments(article_id, entries)
        self._flush()
        invalidate(self.touched)

    def _match_threads(self, posts):
        counts = Counter(thread_id for _id, thread_id, _parent, _values in posts)
        slugs = {}
        for thread in self.threads.values():
            path = normalize_path(thread.link)
            path = self.url_map.get(path, path)
            slugs[thread.dsq_id] = _slug_of(path) if path else None
        found = dict(
            Article.objects.filter(slug__in={s for s in slugs.values() if s}).values_list(
                "slug", "pk"
            )
        )
        articles = {}
        for thread in self.threads.values():
            article_id = found.get(slugs[thread.dsq_id])
            if not counts[thread.dsq_id]:
                self.report.threads["without comments"] += 1
            elif article_id is None:
                self.report.threads["unmatched"] += 1
                self.report.unmatched.append(
                    f"{thread.link or '(no link)'} — thread {thread.dsq_id}"
                    f" “{thread.title}”, {counts[thread.dsq_id]} comments"
                )
            else:
                self.report.threads["matched"] += 1
            if article_id is not None:
                articles[thread.dsq_id] = article_id
        return articles

    def _comments(self, article_id, entries):
        by_key = {entry.key: entry for entry in entries}
        keys = list(by_key)
        for start in range(0, len(keys), KEY_BATCH):
            for existing in Comment.objects.filter(import_key__in=keys[start : start + KEY_BATCH]):
                entry = by_key[existing.import_key]
                if existing.article_id != article_id:
                    self.report.skipped["comments already imported on another article"] += 1
                    entry.key = ""
                else:
                    entry.existing = existing
        entries = [entry for entry in entries if entry.key]
        for entry in entries:
            # Rendered per article, when imported: the HTML Disqus kept, sanitized like
            # import_wxr's comments (WordPress's comment allowlist), else the plain text.
            values = entry.values
            values["body_is_html"] = bool(values["body_html"])
            values["body_html"] = (
                comment_html(values["body_html"])
                if values["body_is_html"]
                else render_comment_body(values["body"])
            )
        self._link_parents(entries)
        entries.sort(key=lambda entry: (entry.values["created_at"], entry.dsq_id))
        for entry in entries:
            self.report.statuses[entry.values["status"]] += 1
        changed = self._update([entry for entry in entries if entry.existing])
        new = [entry for entry in entries if not entry.existing]
        for entry in new:
            entry.comment = Comment(import_key=entry.key, **entry.values)
        for entry in new:
            parent = entry.parent
            entry.comment.parent = None if parent is None else parent.existing or parent.comment
        if new:
            treewrites.place_new_comments([e.comment for e in new], tree_ids=self.tree_ids)
            self.unsaved.extend(e.comment for e in new)
            if len(self.unsaved) >= FLUSH_SIZE:
                self._flush()
        self.report.comments["created"] += len(new)
        if changed or new:
            self.touched.add(article_id)

    def _link_parents(self, entries):
        by_id = {entry.dsq_id: entry for entry in entries}
        for entry in entries:
            parent = by_id.get(entry.parent_id) if entry.parent_id else None
            if entry.parent_id and (parent is None or parent is entry):
                self.report.promoted.append(f"post {entry.dsq_id} (parent {entry.parent_id})")
                parent = None
            entry.parent = parent
        done = set()
        for entry in entries:
            path, node = set(), entry
            while node is not None and node.dsq_id not in done and node.dsq_id not in path:
                path.add(node.dsq_id)
                node = node.parent
            if node is not None and node.dsq_id in path:
                self.report.promoted.append(f"post {node.dsq_id} (parent {node.parent_id}: a loop)")
                node.parent = None
            done |= path

    def _update(self, entries):
        changed = []
        for entry in entries:
            existing, new = entry.existing, entry.values
            if any(getattr(existing, name) != new[name] for name in UPDATE_FIELDS):
                for name in UPDATE_FIELDS:
                    setattr(existing, name, new[name])
                changed.append(existing)
        if changed:
            before = {comment.commenter_id for comment in changed}
            after = commenters.assign(changed)
            Comment.objects.bulk_update(
                changed, [*UPDATE_FIELDS, "commenter"], batch_size=KEY_BATCH
            )
            commenters.refresh_stats(before | after)
        self.report.comments["updated"] += len(changed)
        self.report.comments["unchanged"] += len(entries) - len(changed)
        return len(changed)

    def _flush(self):
        if self.unsaved:
            treewrites.bulk_insert(self.unsaved, batch_size=KEY_BATCH)
        self.unsaved = []
