"""Import one Disqus export: threads matched to articles, posts → comment trees.

Threads are matched to articles by their link's path (the host may differ: sites move
domains), after the ``--url-map`` rewrites paths that changed. Threads and posts are
spooled as they stream by into a temporary SQLite file (``_Spool``; a reply may come
before its parent, and a thread's posts are spread over the file), then each article's
comments are read back, linked, numbered in Python and written with
``treewrites.bulk_insert``, like ``comments.wxr.importer``. Every comment carries the
import key ``disqus:<forum>:<post id>``: importing again updates rows in place and
adds nothing. One transaction per file; nothing is ever deleted.
"""

import contextlib
import csv
import json
import os
import sqlite3
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote, urlsplit

from django.urls import Resolver404, resolve

from articles.models import Article
from comments.disqus.parser import DisqusError, Post, Thread, read_disqus
from comments.models import MAX_NAME_LENGTH, Comment
from comments.text import render_comment_body
from comments.wxr import common
from comments.wxr.mapping import valid_email, valid_ip
from comments.wxr.markup import comment_html, has_markup, html_to_text

Status = Comment.Status

ANONYMOUS = "Anonymous"
# Disqus gives no commenter URL and no site user: an import leaves those alone.
UPDATE_FIELDS = [name for name in common.UPDATE_FIELDS if name not in ("author_url", "user_id")]


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
        detail = f"forum {self.forum}" if self.forum else ""
        lines = [
            common.heading(self.path, detail, dry_run=self.dry_run),
            common.counts_line(
                "Threads", self.threads, ("matched", "unmatched", "without comments")
            ),
            common.comments_line(self.comments, self.statuses),
            *common.skipped_lines(self.skipped),
        ]
        lines += common.listed_lines("Threads with no matching article", self.unmatched)
        lines += common.listed_lines(
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
    with common.opened(source) as (fileobj, name), _spooled() as spool:
        report = DisqusReport(path=str(name), dry_run=dry_run)
        try:
            spool.load(read_disqus(fileobj, on_progress=on_progress))
        except (OSError, sqlite3.Error) as error:
            raise _spool_error(error) from None
        with common.one_transaction(dry_run=dry_run):
            _Importer(report, spool, url_map or {}).run()
    return report


@contextlib.contextmanager
def _spooled():
    """A ``_Spool`` in a temporary directory (``TMPDIR``), removed afterwards."""
    try:
        directory = tempfile.TemporaryDirectory(prefix="threadpress-disqus-")
        spool = _Spool(os.path.join(directory.name, "export.sqlite3"))
    except (OSError, sqlite3.Error) as error:
        raise _spool_error(error) from None
    with directory, spool:
        yield spool


def _spool_error(error):
    where = tempfile.gettempdir()
    return DisqusError(
        f"can't write the temporary copy of the export in {where} ({error}); set TMPDIR to a "
        "writable directory with room for it"
    )


def _compact(post: Post):
    """The post as the comment values it becomes (the HTML made text once, here)."""
    if post.created_at is None:
        raise DisqusError(f"post {post.dsq_id} has no <createdAt>")
    name = " ".join(html_to_text(post.name or post.username).split())
    status = Status.SPAM if post.spam else Status.REMOVED if post.deleted else Status.APPROVED
    return {
        "author_name": name[:MAX_NAME_LENGTH] or ANONYMOUS,
        "author_email": valid_email(post.email),
        "ip_address": valid_ip(post.ip),
        "body": html_to_text(post.message),
        "body_html": post.message if has_markup(post.message) else "",  # the raw HTML
        "status": status,
        "created_at": post.created_at.isoformat(),
    }


class _Spool:
    """The export's threads and posts in a temporary SQLite file, so memory holds one
    article's posts at a time, never the file's: posts of a thread are spread over the
    whole export (Disqus writes them in date order), and a reply may come before its
    parent."""

    BATCH = 2000

    def __init__(self, path):
        self.db = sqlite3.connect(path)
        self.db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE thread (
                seq INTEGER PRIMARY KEY, dsq_id TEXT UNIQUE, forum TEXT, link TEXT,
                title TEXT, article_id INTEGER
            );
            CREATE TABLE post (
                seq INTEGER PRIMARY KEY, dsq_id TEXT, thread TEXT, parent TEXT,
                comment TEXT, kept INTEGER NOT NULL DEFAULT 0
            );
            """
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.db.close()

    def load(self, records):
        """Store every record as it streams by (the first of repeated thread ids wins)."""
        threads, posts = [], []
        for record in records:
            if isinstance(record, Thread):
                threads.append((record.dsq_id, record.forum, record.link, record.title))
            else:
                posts.append(
                    (record.dsq_id, record.thread, record.parent, json.dumps(_compact(record)))
                )
            if len(posts) >= self.BATCH or len(threads) >= self.BATCH:
                self._insert(threads, posts)
        self._insert(threads, posts)
        self.db.executescript(
            """
            CREATE INDEX post_thread ON post (thread);
            CREATE INDEX thread_article ON thread (article_id);
            """
        )

    def _insert(self, threads, posts):
        self.db.executemany(
            "INSERT OR IGNORE INTO thread (dsq_id, forum, link, title) VALUES (?, ?, ?, ?)",
            threads,
        )
        self.db.executemany(
            "INSERT INTO post (dsq_id, thread, parent, comment) VALUES (?, ?, ?, ?)", posts
        )
        threads.clear()
        posts.clear()

    def forums(self):
        rows = self.db.execute("SELECT DISTINCT forum FROM thread WHERE forum != '' ORDER BY 1")
        return [forum for (forum,) in rows]

    def threads(self):
        """Batches of ``(dsq_id, link, title, number of posts)`` in file order (read a
        batch at a time: ``match`` writes to the table between two)."""
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT seq, dsq_id, link, title,"
                " (SELECT COUNT(*) FROM post WHERE post.thread = thread.dsq_id)"
                " FROM thread WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, self.BATCH),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [row[1:] for row in rows]

    def match(self, pairs):
        """Record ``(article id, thread id)`` pairs."""
        self.db.executemany("UPDATE thread SET article_id = ? WHERE dsq_id = ?", pairs)

    def count(self, where):
        query = f"SELECT COUNT(*) FROM post LEFT JOIN thread ON thread.dsq_id = post.thread {where}"
        return self.db.execute(query).fetchone()[0]

    def keep_first_of_repeated(self):
        """Mark the posts of matched threads to import: the first of each import key
        (forum and post id), in file order. Returns how many repeats are left out."""
        self.db.execute(
            "UPDATE post SET kept = 1 WHERE seq IN ("
            " SELECT MIN(post.seq) FROM post JOIN thread ON thread.dsq_id = post.thread"
            " WHERE thread.article_id IS NOT NULL"
            " GROUP BY CASE thread.forum WHEN '' THEN 'disqus' ELSE thread.forum END,"
            " post.dsq_id)"
        )
        return self.count("WHERE thread.article_id IS NOT NULL AND NOT post.kept")

    def articles(self):
        """The matched articles' ids, in the order their first post comes in the file."""
        rows = self.db.execute(
            "SELECT thread.article_id FROM post JOIN thread ON thread.dsq_id = post.thread"
            " WHERE post.kept GROUP BY thread.article_id ORDER BY MIN(post.seq)"
        )
        return [article_id for (article_id,) in rows]

    def posts(self, article_id):
        """``(post id, parent id, forum, comment values)`` of one article's posts."""
        rows = self.db.execute(
            "SELECT post.dsq_id, post.parent, thread.forum, post.comment"
            " FROM post JOIN thread ON thread.dsq_id = post.thread"
            " WHERE thread.article_id = ? AND post.kept ORDER BY post.seq",
            (article_id,),
        )
        for dsq_id, parent, forum, comment in rows:
            values = json.loads(comment)
            values["created_at"] = datetime.fromisoformat(values["created_at"])
            yield dsq_id, parent, forum, values


class _Importer:
    def __init__(self, report, spool, url_map):
        self.report = report
        self.spool = spool
        self.url_map = url_map
        self.writer = common.CommentWriter(report, update_fields=UPDATE_FIELDS)

    def run(self):
        spool = self.spool
        self.report.forum = ", ".join(spool.forums())
        self._match_threads()
        skipped = self.report.skipped
        skipped["comments on threads not in the file"] += spool.count("WHERE thread.seq IS NULL")
        skipped["comments on unmatched threads"] += spool.count(
            "WHERE thread.seq IS NOT NULL AND thread.article_id IS NULL"
        )
        skipped["comments repeated in the file"] += spool.keep_first_of_repeated()
        for reason in [reason for reason, count in skipped.items() if not count]:
            del skipped[reason]
        for article_id in spool.articles():
            entries = [
                common.Entry(
                    source_id=dsq_id,
                    parent_id=parent_id,
                    values={
                        **values,
                        "article_id": article_id,
                        "import_key": f"disqus:{forum or 'disqus'}:{dsq_id}",
                    },
                    label=f"post {dsq_id}",
                )
                for dsq_id, parent_id, forum, values in spool.posts(article_id)
            ]
            self._comments(article_id, entries)
        self.writer.finish()

    def _match_threads(self):
        for batch in self.spool.threads():
            slugs = {}
            for dsq_id, link, _title, _count in batch:
                path = normalize_path(link)
                path = self.url_map.get(path, path)
                slugs[dsq_id] = _slug_of(path) if path else None
            found = dict(
                Article.objects.filter(slug__in={s for s in slugs.values() if s}).values_list(
                    "slug", "pk"
                )
            )
            matched = []
            for dsq_id, link, title, count in batch:
                article_id = found.get(slugs[dsq_id])
                if not count:
                    self.report.threads["without comments"] += 1
                elif article_id is None:
                    self.report.threads["unmatched"] += 1
                    self.report.unmatched.append(
                        f"{link or '(no link)'} — thread {dsq_id} “{title}”, {count} comments"
                    )
                else:
                    self.report.threads["matched"] += 1
                if article_id is not None:
                    matched.append((article_id, dsq_id))
            self.spool.match(matched)

    def _comments(self, article_id, entries):
        entries = self.writer.match_existing(article_id, entries)
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
        self.writer.write(article_id, entries)
