"""Streaming, safe reading of a WordPress eXtended RSS (WXR) export.

defusedxml's expat parser refuses entity declarations and external references
(no "billion laughs", no file or network reads). The file is fed in chunks to a
small parser *target* that keeps only what the importer needs, one ``<item>`` at
a time, so memory stays bounded by the largest post, not the file.

Elements are matched by namespace *and* local name, so a ``<media:content>`` is
never taken for ``<content:encoded>`` nor an ``<itunes:author>`` for a
``<wp:author>``. The ``wp:`` namespace differs between exports (``http`` or
``https``, WXR 1.0, 1.1 or 1.2): every spelling is recognised. Only the fields
the importer reads are kept.
"""

import functools
import re
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

CHUNK_SIZE = 256 * 1024

# The vocabularies of a WXR file; any other namespace is ignored.
RSS = ""  # RSS 2.0 elements have no namespace
WP = "wp"
CONTENT = "content"
EXCERPT = "excerpt"
DC = "dc"
WP_NAMESPACE_RE = re.compile(r"https?://wordpress\.org/export/1\.\d+/")
EXCERPT_NAMESPACE_RE = re.compile(r"https?://wordpress\.org/export/1\.\d+/excerpt/")
CONTENT_NAMESPACES = {
    "http://purl.org/rss/1.0/modules/content/",
    "https://purl.org/rss/1.0/modules/content/",
}
DC_NAMESPACES = {"http://purl.org/dc/elements/1.1/", "https://purl.org/dc/elements/1.1/"}


def _wp(*names):
    return {(WP, name): name for name in names}


# (vocabulary, local name) → the key the importer reads, for each kind of record.
CHANNEL_FIELDS = {
    (RSS, "title"): "title",
    (RSS, "link"): "link",
    **_wp("base_site_url", "base_blog_url", "wxr_version"),
}
ITEM_FIELDS = {
    (RSS, "title"): "title",
    (RSS, "pubDate"): "pubDate",
    (RSS, "guid"): "guid",
    (CONTENT, "encoded"): "content",
    (EXCERPT, "encoded"): "excerpt",
    (DC, "creator"): "creator",
    **_wp(
        "post_id",
        "post_date",
        "post_date_gmt",
        "comment_status",
        "post_name",
        "status",
        "post_type",
        "post_password",
    ),
}
AUTHOR_FIELDS = _wp(
    "author_id",
    "author_login",
    "author_email",
    "author_display_name",
    "author_first_name",
    "author_last_name",
)
COMMENT_FIELDS = _wp(
    "comment_id",
    "comment_author",
    "comment_author_email",
    "comment_author_url",
    "comment_author_IP",
    "comment_date",
    "comment_date_gmt",
    "comment_content",
    "comment_approved",
    "comment_type",
    "comment_parent",
    "comment_user_id",
)
# ``<wp:category>`` and ``<wp:tag>`` of the channel: the terms' slugs, names, descriptions.
TERM_FIELDS = {
    "category": _wp("category_nicename", "cat_name", "category_description"),
    "tag": _wp("tag_slug", "tag_name", "tag_description"),
}
TERM_KEYS = {
    "category_nicename": "slug",
    "cat_name": "name",
    "category_description": "description",
    "tag_slug": "slug",
    "tag_name": "name",
    "tag_description": "description",
}
ROOT = (RSS, "rss")
ITEM = (RSS, "item")
AUTHOR = (WP, "author")
COMMENT = (WP, "comment")
ITEM_CATEGORY = (RSS, "category")  # <category domain="category|post_tag" nicename="…">
POSTMETA = (WP, "postmeta")
COMMENTMETA = (WP, "commentmeta")
META_KEY = (WP, "meta_key")
META_VALUE = (WP, "meta_value")
# Only threadpress's own post and comment meta are kept (plugins' values can be large).
KEPT_META_PREFIX = "_threadpress_"


class WXRError(Exception):
    """A file that can't be imported; the message names the line and the element."""


@dataclass
class Author:
    line: int
    fields: dict = field(default_factory=dict)


@dataclass
class Term:
    """A ``<wp:category>`` (``kind`` "category") or ``<wp:tag>`` ("tag") of the channel;
    ``fields`` has ``slug``, ``name`` and ``description``."""

    line: int
    kind: str
    fields: dict = field(default_factory=dict)


@dataclass
class Comment:
    line: int
    fields: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)  # threadpress's own commentmeta


@dataclass
class Item:
    line: int
    fields: dict = field(default_factory=dict)
    comments: list = field(default_factory=list)
    # (domain, nicename, name) of each <category>, in file order
    categories: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # threadpress's own postmeta


@functools.lru_cache(maxsize=512)
def _name(tag):
    """``(vocabulary, local name)`` of an element; the vocabulary is None for other namespaces."""
    if not tag.startswith("{"):
        return RSS, tag
    namespace, _, local = tag[1:].partition("}")
    if WP_NAMESPACE_RE.fullmatch(namespace):
        return WP, local
    if EXCERPT_NAMESPACE_RE.fullmatch(namespace):
        return EXCERPT, local
    if namespace in CONTENT_NAMESPACES:
        return CONTENT, local
    if namespace in DC_NAMESPACES:
        return DC, local
    return None, local


class _Target:
    """Parser target: builds Author and Item records from start/data/end events."""

    def __init__(self, line_number):
        self.line_number = line_number
        self.channel = {}
        self.ready = []
        self.path = []  # (tag, line) of the open elements
        self.prefixes = {}
        self._item = None
        self._author = None
        self._comment = None
        self._term = None
        self._category = None  # (domain, nicename) of an item's open <category>
        self._meta = None  # (owner's meta dict, {"key": …, "value": …}) of an open *meta
        self._capture = None  # (dict, key, depth) of the element whose text is collected
        self._text = []

    def start_ns(self, prefix, uri):
        self.prefixes.setdefault(uri, prefix)

    def display_name(self, tag):
        namespace, _, local = tag.rpartition("}")
        prefix = self.prefixes.get(namespace.lstrip("{"), "")
        return f"{prefix}:{local}" if prefix else local

    def start(self, tag, attrib):
        line = self.line_number()
        depth = len(self.path)
        self.path.append((tag, line))
        name = _name(tag)
        if depth == 0 and name != ROOT:
            shown = self.display_name(tag)
            raise WXRError(f"line {line}: <{shown}> is not a WXR export (expected <rss>)")
        if self._capture is not None:
            return  # markup inside a text field (not in CDATA): its text is kept
        if depth == 2:
            if name == ITEM:
                self._item = Item(line=line)
            elif name == AUTHOR:
                self._author = Author(line=line)
            elif name[0] == WP and name[1] in TERM_FIELDS:
                self._term = Term(line=line, kind=name[1])
            else:
                self._begin(self.channel, CHANNEL_FIELDS.get(name), depth)
        elif depth == 3 and self._item is not None:
            if name == COMMENT:
                self._comment = Comment(line=line)
            elif name == ITEM_CATEGORY:
                self._category = (attrib.get("domain", ""), attrib.get("nicename", ""))
                self._begin({}, "name", depth)
            elif name == POSTMETA:
                self._meta = (self._item.meta, {})
            else:
                self._begin(self._item.fields, ITEM_FIELDS.get(name), depth)
        elif depth == 3 and self._author is not None:
            self._begin(self._author.fields, AUTHOR_FIELDS.get(name), depth)
        elif depth == 3 and self._term is not None:
            self._begin(self._term.fields, TERM_FIELDS[self._term.kind].get(name), depth)
        elif depth == 4 and self._comment is not None and name == COMMENTMETA:
            self._meta = (self._comment.meta, {})
        elif depth == 4 and self._comment is not None:
            self._begin(self._comment.fields, COMMENT_FIELDS.get(name), depth)
        elif self._meta is not None and depth in (4, 5):
            self._meta_field(name, depth)

    def _meta_field(self, name, depth):
        _owner, meta = self._meta
        if name == META_KEY:
            self._begin(meta, "key", depth)
        elif name == META_VALUE and meta.get("key", "").startswith(KEPT_META_PREFIX):
            self._begin(meta, "value", depth)

    def _begin(self, target, key, depth):
        """Collect the element's text as ``target[key]``; the first of repeated elements wins."""
        if key is None or key in target:
            return
        self._capture = (target, key, depth)
        self._text = []

    def data(self, text):
        if self._capture is not None:
            self._text.append(text)

    def end(self, tag):
        self.path.pop()
        depth = len(self.path)
        if self._capture is not None:
            target, key, capture_depth = self._capture
            if depth == capture_depth:
                target[key] = "".join(self._text)
                self._capture = None
                if self._category is not None and depth == 3:
                    self._item.categories.append((*self._category, target[key]))
                    self._category = None
            return
        name = _name(tag)
        if self._meta is not None and name in (POSTMETA, COMMENTMETA):
            owner, meta = self._meta
            if meta.get("key", "").startswith(KEPT_META_PREFIX) and "value" in meta:
                owner.setdefault(meta["key"].strip(), meta["value"])
            self._meta = None
        elif depth == 3 and name == COMMENT and self._comment is not None:
            self._item.comments.append(self._comment)
            self._comment = None
        elif depth == 2 and name == ITEM and self._item is not None:
            self.ready.append(self._item)
            self._item = None
        elif depth == 2 and name == AUTHOR and self._author is not None:
            self.ready.append(self._author)
            self._author = None
        elif depth == 2 and self._term is not None:
            term = self._term
            term.fields = {TERM_KEYS[key]: value for key, value in term.fields.items()}
            self.ready.append(term)
            self._term = None

    def close(self):
        return None


class WXRReader:
    """Iterate over the Author, Term and Item records of a WXR file.

    ``channel`` holds the site's title, link and base URLs once the first record
    has been read (WordPress writes them before any author or item).
    """

    def __init__(self, fileobj, *, on_progress=None):
        self.fileobj = fileobj
        self.on_progress = on_progress
        self._target = _Target(lambda: self._parser.parser.CurrentLineNumber)
        # The pure-Python XMLParser that defusedxml extends calls target methods by name.
        self._parser = DefusedXMLParser(target=self._target)
        self.channel = self._target.channel

    def __iter__(self):
        started = False
        while True:
            try:
                chunk = self.fileobj.read(CHUNK_SIZE)
            except OSError as error:
                raise WXRError(f"can't read it ({error.strerror or error})") from None
            if not chunk:
                break
            started = True
            self._feed(chunk)
            yield from self._drain()
            if self.on_progress:
                self.on_progress(len(chunk))
        if not started:
            raise WXRError("the file is empty")
        self._feed(None)
        yield from self._drain()

    def _drain(self):
        ready, self._target.ready = self._target.ready, []
        return ready

    def _feed(self, chunk):
        try:
            if chunk is None:
                self._parser.close()
            else:
                self._parser.feed(chunk)
        except WXRError:
            raise
        except ParseError as error:
            line, column = error.position
            message = str(error).split(":")[0]
            raise WXRError(f"line {line}, column {column}: {message}{self._where()}") from None
        except DefusedXmlException as error:
            line = self._parser.parser.CurrentLineNumber
            raise WXRError(f"line {line}: refused unsafe XML ({error}){self._where()}") from None

    def _where(self):
        if not self._target.path:
            return ""
        tag, line = self._target.path[-1]
        return f" (inside <{self._target.display_name(tag)}> opened at line {line})"


def element_name(local):
    """How an item or comment field is usually written, for error messages."""
    if local in {"title", "link", "pubDate", "guid", "description"}:
        return local
    if local == "content":
        return "content:encoded"
    if local == "excerpt":
        return "excerpt:encoded"
    if local == "creator":
        return "dc:creator"
    return f"wp:{local}"
