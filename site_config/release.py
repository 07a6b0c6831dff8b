"""The release identifier: what makes a deploy's cache keys differ from the last one's.

Every cache key of a rendered page holds it (``articles.models.CacheVersion.key``), so a
deploy that changes the markup never serves the previous release's pages from Redis.
Set ``THREADPRESS_RELEASE`` (say, to the image tag or commit) to choose it; otherwise it
is a fingerprint of the code, computed once when the settings load: a hash of Django's
version and of every source file that can shape a page (Python, templates, static files,
translations) under the project directory. A fingerprint rather than ``git rev-parse``:
an image built without ``.git`` gets one too, and so does an uncommitted edit.
"""

import hashlib
from pathlib import Path

import django

SOURCE_SUFFIXES = frozenset(
    {".py", ".html", ".txt", ".xml", ".css", ".js", ".svg", ".png", ".ico", ".mo", ".po"}
)
# Directories whose files never shape a page (or are build output, or not ours).
SKIPPED_DIRS = frozenset(
    {
        "benchmarks",
        "build",
        "docs",
        "node_modules",
        "requirements",
        "screenshots",
        "staticfiles",
        "test-artifacts",
        "tests",
        "__pycache__",
    }
)


def _source_files(root):
    for path in sorted(root.iterdir()):
        if path.is_dir():
            if path.name.startswith(".") or path.name in SKIPPED_DIRS:
                continue
            if path.name.endswith(".egg-info"):
                continue
            yield from _source_files(path)
        elif path.suffix in SOURCE_SUFFIXES:
            yield path


def source_fingerprint(base_dir):
    """A short hash of Django's version and the project's source files under ``base_dir``."""
    base_dir = Path(base_dir)
    digest = hashlib.blake2b(digest_size=8)
    digest.update(django.get_version().encode())
    for path in _source_files(base_dir):
        digest.update(str(path.relative_to(base_dir)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
