"""What every comment importer shares (``import_wxr`` and ``import_disqus``): opening the
file, the one transaction (rolled back by ``--dry-run``), the progress bar, writing an
article's comments as trees, and the lines of the summary.

``CommentWriter`` takes one article's comments at a time as ``Entry`` records (values of
a ``Comment`` and the import key): comments already imported are found by their key and
updated in place when a value differs; new ones are linked to their parent (a reply
whose parent isn't there, or whose chain loops, is promoted to the top level and listed),
numbered in Python in date order (``comments.treewrites.place_new_comments``) and
buffered for bulk inserts. ``finish`` writes what is left and invalidates the touched
articles' cached pages once. Nothing is ever deleted.
"""

import contextlib
import os
import sys
from dataclasses import dataclass

from django.db import transaction
from tqdm import tqdm

from comments import commenters, treewrites
from comments.models import Comment
from comments.signals import invalidate

KEY_BATCH = 500
FLUSH_SIZE = 5000  # new comments buffered across articles before they are inserted
NOTES_SHOWN = 20
# What importing a comment again may change (its place in the tree stays).
UPDATE_FIELDS = [
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


# --- the file, the transaction, the progress bar -----------------------------------------
@contextlib.contextmanager
def opened(source):
    """``(binary file, name)`` for ``source``, a path or a binary file object; a file
    opened here is closed afterwards."""
    path = os.fspath(source) if isinstance(source, str | os.PathLike) else None
    name = getattr(source, "name", path)
    if path is None:
        yield source, name
        return
    with open(path, "rb") as fileobj:
        yield fileobj, name


@contextlib.contextmanager
def one_transaction(*, dry_run):
    """The file's one transaction, rolled back at the end of a dry run."""
    with transaction.atomic():
        yield
        if dry_run:
            transaction.set_rollback(True)


def progress_bar(fileobj, path):
    """A bytes-read progress bar on a terminal's stderr (none when it isn't one)."""
    return tqdm(
        total=os.fstat(fileobj.fileno()).st_size,
        unit="B",
        unit_scale=True,
        desc=os.path.basename(path),
        disable=not sys.stderr.isatty(),
        file=sys.stderr,
        leave=False,
    )


# --- the summary -------------------------------------------------------------------------
def heading(path, detail, *, dry_run):
    """The summary's first line: the file, what it is (``site …``, ``forum …``)."""
    line = path + (f" ({detail})" if detail else "")
    return line + (" — dry run, nothing was written" if dry_run else "")


def counts_line(label, counter, keys):
    """``  Label: 2 created, 0 updated`` for the ``keys`` of ``counter``."""
    return f"  {label}: " + ", ".join(f"{counter[key]} {key}" for key in keys)


def comments_line(comments, statuses):
    """Created, updated and unchanged comments, then every status's count."""
    return (
        counts_line("Comments", comments, ("created", "updated", "unchanged"))
        + " — "
        + ", ".join(f"{statuses[status]} {status}" for status in Comment.Status.values)
    )


def skipped_lines(skipped):
    if not skipped:
        return []
    return ["  Skipped:"] + [f"    {count} {reason}" for reason, count in sorted(skipped.items())]


def listed_lines(title, notes):
    """A summary's list: its title and count, then the first ``NOTES_SHOWN`` notes."""
    if not notes:
        return []
    lines = [f"  {title}: {len(notes)}"]
    lines += [f"    {note}" for note in notes[:NOTES_SHOWN]]
    if len(notes) > NOTES_SHOWN:
        lines.append(f"    … and {len(notes) - NOTES_SHOWN} more")
    return lines


# --- writing comments --------------------------------------------------------------------
@dataclass(eq=False)
class Entry:
    """One comment of the file, before and after it meets the database."""

    source_id: int | str  # its id in the file
    parent_id: int | str  # its parent's id in the file; falsy: not a reply
    values: dict  # the Comment's field values, ``import_key`` included
    label: str  # how the summary names it ("comment 12 on post 3", "post 123")
    comment: Comment | None = None  # built only for comments new to the database
    parent: "Entry | None" = None
    existing: Comment | None = None

    @property
    def key(self):
        return self.values["import_key"]


class CommentWriter:
    """Writes a file's comments an article at a time (see the module's docstring).

    ``report`` has ``comments`` and ``statuses`` counters, a ``skipped`` counter and a
    ``promoted`` list; ``update_fields`` are the fields an import may change.
    """

    def __init__(self, report, *, update_fields):
        self.report = report
        self.update_fields = list(update_fields)
        # New thread ids: the new-tree lock is taken at the first one and held until the
        # file's transaction ends, so no one else allocates ids meanwhile.
        self.tree_ids = treewrites.TreeIds()
        self.touched = set()  # articles whose comments changed
        self.unsaved = []  # new comments, numbered, waiting for one bulk insert

    def match_existing(self, article_id, entries):
        """Give each entry the comment already imported with its key; returns the
        entries to write (not those already imported on another article, counted)."""
        by_key = {entry.key: entry for entry in entries}
        keys = list(by_key)
        kept = set(by_key)
        for start in range(0, len(keys), KEY_BATCH):
            batch = keys[start : start + KEY_BATCH]
            for existing in Comment.objects.filter(import_key__in=batch).order_by():
                if existing.article_id != article_id:
                    self.report.skipped["comments already imported on another article"] += 1
                    kept.discard(existing.import_key)
                else:
                    by_key[existing.import_key].existing = existing
        return [entry for entry in by_key.values() if entry.key in kept]

    def write(self, article_id, entries):
        """Link, count and write one article's entries (after ``match_existing``)."""
        self._link_parents(entries)
        entries.sort(key=lambda entry: (entry.values["created_at"], entry.source_id))
        for entry in entries:
            self.report.statuses[entry.values["status"]] += 1
        changed = self._update([entry for entry in entries if entry.existing])
        created = self._create([entry for entry in entries if not entry.existing])
        if changed or created:
            self.touched.add(article_id)

    def finish(self):
        self._flush()
        # bulk_create / bulk_update send no model signals: the touched articles' cached
        # pages are invalidated here, once, in the file's transaction.
        invalidate(self.touched)

    def _link_parents(self, entries):
        by_id = {entry.source_id: entry for entry in entries}
        for entry in entries:
            parent = by_id.get(entry.parent_id) if entry.parent_id else None
            if entry.parent_id and (parent is None or parent is entry):
                self.report.promoted.append(f"{entry.label} (parent {entry.parent_id})")
                parent = None
            entry.parent = parent
        # A reply chain that loops back on itself: cut it where the loop closes.
        done = set()
        for entry in entries:
            path, node = set(), entry
            while node is not None and node.source_id not in done and node.source_id not in path:
                path.add(node.source_id)
                node = node.parent
            if node is not None and node.source_id in path:
                self.report.promoted.append(f"{node.label} (parent {node.parent_id}: a loop)")
                node.parent = None
            done |= path

    def _update(self, entries):
        changed = []
        for entry in entries:
            existing, new = entry.existing, entry.values
            if any(getattr(existing, name) != new[name] for name in self.update_fields):
                for name in self.update_fields:
                    setattr(existing, name, new[name])
                changed.append(existing)
        if changed:
            # A changed address or status changes whose record it counts on.
            before = {comment.commenter_id for comment in changed}
            after = commenters.assign(changed)
            Comment.objects.bulk_update(
                changed, [*self.update_fields, "commenter"], batch_size=KEY_BATCH
            )
            commenters.refresh_stats(before | after)
        self.report.comments["updated"] += len(changed)
        self.report.comments["unchanged"] += len(entries) - len(changed)
        return len(changed)

    def _create(self, entries):
        """Number the new comments (in date order, each the last reply of its parent: an
        earlier comment of the file or one already imported), buffer them for ``_flush``."""
        if not entries:
            return 0
        for entry in entries:
            entry.comment = Comment(**entry.values)
        for entry in entries:
            parent = entry.parent
            entry.comment.parent = None if parent is None else parent.existing or parent.comment
        new = [entry.comment for entry in entries]
        treewrites.place_new_comments(new, tree_ids=self.tree_ids)
        self.unsaved.extend(new)
        if len(self.unsaved) >= FLUSH_SIZE:
            self._flush()
        self.report.comments["created"] += len(entries)
        return len(entries)

    def _flush(self):
        if self.unsaved:
            treewrites.bulk_insert(self.unsaved, batch_size=KEY_BATCH)
        self.unsaved = []
