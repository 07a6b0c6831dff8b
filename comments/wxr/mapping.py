"""WordPress's fields as threadpress's: WXR records read by ``comments.wxr.parser``
become plain values for users, articles and comments (docs/import.md, "What maps to
what"). Nothing here touches the database: ``comments.wxr.importer`` writes them.

Raises ``WXRError`` (naming the line and the element) for ids and dates that can't
be read.
"""

import functools
import hashlib
import html
import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.text import slugify

from articles.models import Article
from comments.models import MAX_NAME_LENGTH, Comment
from comments.text import http_url, strip_control_characters
from comments.wxr.markup import article_html, comment_html, has_markup, html_to_text
from comments.wxr.parser import WXRError, element_name

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
PUBLISHED_POST_STATUSES = ("publish", "future")
SKIPPED_POST_TYPES = {
    "page": "pages",
    "attachment": "attachments",
    "nav_menu_item": "menu items",
    "revision": "revisions",
}
SKIPPED_POST_STATUSES = {"trash": "trashed posts", "auto-draft": "auto-drafts"}
PINGBACK_TYPES = ("pingback", "trackback")
UNTITLED = "(untitled)"
ANONYMOUS = "Anonymous"
SLUG_MAX_LENGTH = 200
# WordPress logins are letters, digits, space and _ . - @ (sanitize_user); some
# exports carry stray characters around them (">login").
LOGIN_JUNK_RE = re.compile(r"[^\w .@-]")


# --- threadpress's own meta (export_wxr writes them; WordPress keeps them hidden) --------
# Post meta: the article's Markdown source (its HTML is in <content:encoded>).
MARKDOWN_META_KEY = "_threadpress_markdown"
# Comment meta: "text" for a comment that is plain text here (its <wp:comment_content>
# is that text, HTML-escaped), "html" for one that keeps imported HTML (the content is
# that sanitized HTML); then TEXT_META_KEY holds its plain-text body.
FORMAT_META_KEY = "_threadpress_format"
TEXT_META_KEY = "_threadpress_text"


# --- the version, the site and import keys ------------------------------------------
WXR_VERSION_RE = re.compile(r"\d+\.\d+")
NOT_WXR = "This does not appear to be a WXR file, missing/invalid WXR version number"


def check_wxr_version(channel):
    """Refuse a file whose ``<wp:wxr_version>`` is missing or not ``N.N``, as WordPress's
    importer does (its message, word for word)."""
    if not WXR_VERSION_RE.fullmatch((channel.get("wxr_version") or "").strip()):
        raise WXRError(NOT_WXR)


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


def named_site_key(name):
    """``--site NAME``: a URL or a name, written as ``site_key`` writes URLs."""
    return site_key({"link": name})


def file_site_key(name, channel):
    """The site of an export without any URL and without ``--site``: ``file-`` + the file's
    name (slugified, without its extension) + 8 hex digits of the SHA-256 of its channel
    ``<title>``, e.g. ``file-blog-export-3f2a9c1e``."""
    base = slugify(os.path.splitext(os.path.basename(name or ""))[0])[:80] or "export"
    title = (channel.get("title") or "").strip()
    return f"file-{base}-{hashlib.sha256(title.encode()).hexdigest()[:8]}"


def post_key(site, post_id):
    return f"wxr:{site}:post:{post_id}"


def comment_key(site, comment_id):
    return f"wxr:{site}:comment:{comment_id}"


# --- authors -----------------------------------------------------------------------
@dataclass(slots=True)
class AuthorRecord:
    login: str
    wp_id: int | None
    first_name: str
    last_name: str
    email: str


def author_record(author):
    """A ``<wp:author>``'s login and the fields of the user it becomes; None without a
    login. When the export has no first or last name, the display name is the first
    name, so bylines show the name WordPress showed."""
    fields = author.fields
    login = clean_login(fields.get("author_login", ""))
    if not login:
        return None
    wp_id = fields.get("author_id", "").strip()
    first = fields.get("author_first_name", "").strip()
    last = fields.get("author_last_name", "").strip()
    display = fields.get("author_display_name", "").strip()
    if not (first or last) and display and display != login:
        first = display
    return AuthorRecord(
        login=login,
        wp_id=int(wp_id) if wp_id.isdigit() else None,
        first_name=first[:150],
        last_name=last[:150],
        email=valid_email(fields.get("author_email", "")),
    )


def clean_login(value):
    return LOGIN_JUNK_RE.sub("", value or "").strip()[:150]


# --- categories → sections, tags → tags ----------------------------------------------
# An item's <category domain=…>: WordPress writes "category" and "post_tag" (WXR 1.0
# also "tag", and a bare <category> for a category); other taxonomies are not imported.
TERM_DOMAINS = {"category": "category", "": "category", "post_tag": "tag", "tag": "tag"}
TERM_SLUG_MAX_LENGTH = 100
TERM_NAME_MAX_LENGTH = 100


@dataclass(slots=True)
class TermRecord:
    kind: str  # "category" (→ a section) or "tag"
    slug: str
    name: str
    description: str = ""


def term_slug(nicename, name):
    """A term's slug here: its WordPress nicename (percent-decoded, slugified); a name
    the slug can't hold (e.g. only Cyrillic) gives ``term-`` + 8 hex digits of its
    SHA-256, the same every time."""
    source = unquote((nicename or "").strip()) or (name or "").strip()
    slug = slugify(source)[:TERM_SLUG_MAX_LENGTH].strip("-")
    if slug or not source:
        return slug
    return f"term-{hashlib.sha256(source.encode()).hexdigest()[:8]}"


def _term_name(name, slug):
    return " ".join(html_to_text(name or "").split())[:TERM_NAME_MAX_LENGTH] or slug


def term_record(term):
    """A channel's ``<wp:category>`` or ``<wp:tag>`` definition; None without a slug."""
    fields = term.fields
    slug = term_slug(fields.get("slug", ""), fields.get("name", ""))
    if not slug:
        return None
    return TermRecord(
        kind=term.kind,
        slug=slug,
        name=_term_name(fields.get("name", ""), slug),
        description=html_to_text(fields.get("description", "")),
    )


def item_terms(item):
    """The item's categories and tags as ``TermRecord`` lists, in file order, each slug
    once."""
    categories, tags, seen = [], [], set()
    for domain, nicename, name in item.categories:
        kind = TERM_DOMAINS.get(domain.strip().lower())
        slug = term_slug(nicename, name) if kind else ""
        if not slug or (kind, slug) in seen:
            continue
        seen.add((kind, slug))
        record = TermRecord(kind=kind, slug=slug, name=_term_name(name, slug))
        (categories if kind == "category" else tags).append(record)
    return categories, tags


def section_slug(categories, prefer=()):
    """The slug of the section an article goes to: the first of ``prefer`` (the
    ``--section-from`` list of category slugs, in order) that the post has, else its
    first category; None for a post without categories."""
    slugs = [category.slug for category in categories]
    return next((slug for slug in prefer if slug in slugs), slugs[0] if slugs else None)


def section_preferences(value):
    """``--section-from "news, opinion"`` → ``["news", "opinion"]`` (slugified as
    nicenames are); raises ValueError for an empty list."""
    slugs = [term_slug(part, "") for part in (value or "").split(",") if part.strip()]
    slugs = [slug for slug in slugs if slug]
    if not slugs:
        raise ValueError(value)
    return list(dict.fromkeys(slugs))


# --- posts → articles ------------------------------------------------------------------
def skipped_item(item):
    """Why an ``<item>`` is not imported ("pages", "trashed posts"…), or None."""
    fields = item.fields
    post_type = fields.get("post_type", "").strip() or "post"
    if post_type != "post":
        return SKIPPED_POST_TYPES.get(post_type, f"items of type “{post_type}”")
    return SKIPPED_POST_STATUSES.get(fields.get("status", "").strip().lower())


@dataclass(slots=True)
class ArticleRecord:
    post_id: str
    title: str
    summary: str
    body_html: str
    status: str
    published_at: datetime | None  # None: the post has no date
    comments_open: bool
    creator: str  # the author's login
    slug: str  # before it is made unique
    password_protected: bool


ITEM_HASH_FIELDS = ("guid", "title", "post_date", "post_date_gmt", "pubDate", "post_name")


def read_post_id(item):
    """The post's id as import keys write it: its ``<wp:post_id>``; for an item without one
    (WordPress imports those too), ``h`` + 12 hex digits of the SHA-256 of its guid, title,
    dates and name, the same for the same item every time. Raises WXRError for an id that
    isn't a number."""
    if not item.fields.get("post_id", "").strip():
        parts = "\x1f".join(item.fields.get(name, "").strip() for name in ITEM_HASH_FIELDS)
        return "h" + hashlib.sha256(parts.encode()).hexdigest()[:12]
    return str(_int(item, "post_id", what="<item>"))


def article_record(item, *, post_id, time_zone):
    """Post ``post_id``'s article fields. A password-protected post becomes a draft
    (threadpress has no protected articles): ``password_protected`` says so."""
    fields = item.fields
    title = " ".join(html_to_text(fields.get("title", "")).split())[:200] or UNTITLED
    protected = bool(fields.get("post_password", "").strip())
    published = fields.get("status", "").strip().lower() in PUBLISHED_POST_STATUSES
    return ArticleRecord(
        post_id=post_id,
        title=title,
        summary=html_to_text(fields.get("excerpt", "")),
        body_html=article_html(fields.get("content", "")),
        status=(Article.Status.PUBLISHED if published and not protected else Article.Status.DRAFT),
        published_at=(
            _date(item, "post_date_gmt", "post_date", time_zone)
            or _rfc2822(fields.get("pubDate", ""))
        ),
        comments_open=fields.get("comment_status", "open").strip().lower() != "closed",
        creator=fields.get("creator", ""),
        slug=_slug(fields.get("post_name", ""), title, post_id),
        password_protected=protected,
    )


def _slug(post_name, title, post_id):
    base = slugify(unquote(post_name.strip())) or slugify(title) or f"post-{post_id}"
    return base[:SLUG_MAX_LENGTH].strip("-") or f"post-{post_id}"


# --- comments ------------------------------------------------------------------------
def skipped_comment(comment, *, with_pingbacks):
    """Why a ``<wp:comment>`` is not imported ("pingbacks", "comments of type …"), or None."""
    kind = comment.fields.get("comment_type", "").strip().lower()
    if kind in PINGBACK_TYPES:
        return None if with_pingbacks else f"{kind}s"
    if kind not in ("", "comment"):
        return f"comments of type “{kind}”"
    return None


@dataclass(slots=True)
class CommentRecord:
    wp_id: int
    parent_wp: int  # 0: not a reply
    user_wp_id: int  # 0: not a WordPress user
    author_name: str
    author_email: str
    author_url: str
    ip_address: str | None
    body: str  # plain text
    body_html: str  # sanitized HTML; empty for a plain-text comment (rendered as ours are)
    status: str
    created_at: datetime | None  # None: the comment has no date


def read_comment_id(comment, *, post_id):
    """The ``<wp:comment_id>``, None when there is none; WXRError when it isn't a number."""
    if not comment.fields.get("comment_id", "").strip():
        return None
    return _int(comment, "comment_id", what=f"<wp:comment> of post {post_id}")


def comment_record(comment, *, wp_id, post_id, time_zone):
    fields = comment.fields
    what = f"<wp:comment> of post {post_id}"
    name = " ".join(html_to_text(fields.get("comment_author", "")).split())
    content = fields.get("comment_content", "")
    body, body_html = _comment_body(content, comment.meta)
    return CommentRecord(
        wp_id=wp_id,
        parent_wp=_int(comment, "comment_parent", what=what, default=0),
        user_wp_id=_int(comment, "comment_user_id", what=what, default=0),
        author_name=name[:MAX_NAME_LENGTH] or ANONYMOUS,
        author_email=valid_email(fields.get("comment_author_email", "")),
        author_url=http_url(fields.get("comment_author_url", ""))[:500],
        ip_address=valid_ip(fields.get("comment_author_IP", "")),
        body=body,
        body_html=body_html,
        status=COMMENT_STATUSES.get(
            fields.get("comment_approved", "").strip().lower(), Status.PENDING
        ),
        created_at=_date(comment, "comment_date_gmt", "comment_date", time_zone),
    )


def _comment_body(content, meta):
    """``(body, body_html)``: the plain text and, for a comment that keeps HTML, its
    sanitized HTML (empty for plain text). A comment exported by threadpress comes back
    as it was: plain text exactly (``FORMAT_META_KEY`` "text"), HTML with its own body
    ("html"); others are plain text unless they hold markup."""
    kind = meta.get(FORMAT_META_KEY, "").strip()
    if kind == "text":
        return strip_control_characters(html.unescape(content)), ""
    if kind == "html":
        text = meta.get(TEXT_META_KEY)
        body = strip_control_characters(text) if text is not None else html_to_text(content)
        return body, comment_html(content)
    return html_to_text(content), comment_html(content) if has_markup(content) else ""


# --- values ----------------------------------------------------------------------------
def _date(record, gmt_name, local_name, time_zone):
    """The GMT date, else the local one in ``time_zone``; None for WordPress's zero dates."""
    gmt = record.fields.get(gmt_name, "").strip()
    if gmt not in ZERO_DATES:
        return _parse_date(record, gmt_name, gmt).replace(tzinfo=UTC)
    local = record.fields.get(local_name, "").strip()
    if local not in ZERO_DATES:
        return timezone.make_aware(_parse_date(record, local_name, local), time_zone)
    return None


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


@functools.lru_cache(maxsize=4096)
def valid_email(value):
    value = (value or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return value[:254]


@functools.lru_cache(maxsize=4096)
def valid_ip(value):
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None
