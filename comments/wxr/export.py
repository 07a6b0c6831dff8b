"""Write threadpress's articles, their authors and comments as a WordPress eXtended RSS
(WXR 1.2) file, the format WordPress's own Tools → Export writes (docs/import.md, "Export").

The document is streamed: ``xml.sax.saxutils.XMLGenerator`` writes each element as it
goes, articles are read in batches and comments one article at a time, so memory stays
bounded by the largest thread. Text is written escaped (``&``, ``<``, ``>``), so a body
holding ``]]>`` survives; characters XML 1.0 can't carry are dropped.

What is written is what ``comments.wxr.importer`` reads back exactly (see the round trip
in tests/test_export_wxr.py): article bodies as their HTML with the Markdown source as a
hidden post meta, plain-text comments HTML-escaped (as WordPress stores comment text)
and imported HTML comments as their sanitized HTML, each marked by a hidden comment meta
(``mapping.FORMAT_META_KEY``).
"""

import html
import re
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from xml.sax.saxutils import XMLGenerator

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from articles.models import Article, Section, Tag
from comments.models import Comment
from comments.wxr.mapping import FORMAT_META_KEY, MARKDOWN_META_KEY, TEXT_META_KEY

WXR_VERSION = "1.2"
GENERATOR = "threadpress"
NAMESPACES = {
    "excerpt": "http://wordpress.org/export/1.2/excerpt/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "wp": "http://wordpress.org/export/1.2/",
}
COMMENT_APPROVED = {
    Comment.Status.APPROVED: "1",
    Comment.Status.PENDING: "0",
    Comment.Status.SPAM: "spam",
    Comment.Status.REMOVED: "trash",
}
WP_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
ARTICLE_BATCH = 100
COMMENT_FIELDS = (
    "pk",
    "parent_id",
    "user_id",
    "author_name",
    "author_email",
    "author_url",
    "ip_address",
    "body",
    "body_html",
    "body_is_html",
    "status",
    "created_at",
)
# Not allowed in XML 1.0 documents (C0 controls but tab, newline, carriage return;
# lone surrogates; U+FFFE, U+FFFF).
NON_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class UnknownArticles(Exception):
    """``--article`` named slugs that don't exist."""

    def __init__(self, slugs):
        self.slugs = slugs
        super().__init__(", ".join(slugs))


@dataclass
class ExportReport:
    articles: int = 0
    comments: int = 0
    authors: int = 0
    sections: int = 0
    tags: int = 0


def export_wxr(out, *, slugs=None, personal_data=True):
    """Write the WXR file to the binary stream ``out``: every article (or those with
    the given ``slugs``), their comments and the users who wrote them. Without
    ``personal_data``, email addresses and IP addresses are left empty.

    Raises ``UnknownArticles`` (and writes nothing) when a slug doesn't exist.
    """
    articles = Article.objects.order_by("pk")
    if slugs:
        slugs = list(dict.fromkeys(slugs))
        articles = articles.filter(slug__in=slugs)
        unknown = sorted(set(slugs) - set(articles.values_list("slug", flat=True)))
        if unknown:
            raise UnknownArticles(unknown)
    article_ids = list(articles.values_list("pk", flat=True))
    report = ExportReport()
    writer = _Writer(out)
    writer.start_document()
    user_ids = set(
        Article.objects.filter(pk__in=article_ids).values_list("author_id", flat=True)
    ) | set(
        Comment.objects.filter(article_id__in=article_ids, user__isnull=False)
        .order_by()
        .values_list("user_id", flat=True)
    )
    authors = get_user_model()._default_manager.filter(pk__in=user_ids).order_by("pk")
    for user in authors.iterator(chunk_size=500):
        writer.author(user, personal_data=personal_data)
        report.authors += 1
    # The sections and tags of the exported articles, defined once in the channel as
    # WordPress defines its categories and tags; each item names its own.
    for section in Section.objects.filter(articles__in=articles).distinct().order_by("pk"):
        writer.category(section)
        report.sections += 1
    for tag in Tag.objects.filter(articles__in=articles).distinct().order_by("pk"):
        writer.tag(tag)
        report.tags += 1
    writer.element("generator", GENERATOR)
    for start in range(0, len(article_ids), ARTICLE_BATCH):
        batch = article_ids[start : start + ARTICLE_BATCH]
        batch_articles = (
            Article.objects.filter(pk__in=batch)
            .select_related("author", "section")
            .prefetch_related("tags")
            .order_by("pk")
        )
        for article in batch_articles:
            comments = (
                Comment.objects.filter(article_id=article.pk)
                .order_by("tree_id", "lft")
                .values(*COMMENT_FIELDS)
            )
            report.comments += writer.item(article, comments, personal_data=personal_data)
            report.articles += 1
    writer.end_document()
    return report


class _Writer:
    def __init__(self, out):
        self.xml = XMLGenerator(out, encoding="utf-8", short_empty_elements=False)
        self.out = out
        self.depth = 0

    # --- elements ------------------------------------------------------------------
    def start(self, name, attrs=None):
        self.xml.ignorableWhitespace("\n" + "\t" * self.depth)
        self.xml.startElement(name, attrs or {})
        self.depth += 1

    def end(self, name):
        self.depth -= 1
        self.xml.ignorableWhitespace("\n" + "\t" * self.depth)
        self.xml.endElement(name)

    def element(self, name, text="", attrs=None):
        self.xml.ignorableWhitespace("\n" + "\t" * self.depth)
        self.xml.startElement(name, attrs or {})
        text = "" if text is None else str(text)
        if text:
            self.xml.characters(NON_XML_RE.sub("", text))
        self.xml.endElement(name)

    # --- the document --------------------------------------------------------------
    def start_document(self):
        self.xml.startDocument()
        self.xml.ignorableWhitespace(
            "\n<!-- A WordPress eXtended RSS file written by threadpress (manage.py "
            "export_wxr); WordPress, threadpress and other platforms import it. -->\n"
        )
        attrs = {"version": "2.0"}
        attrs.update({f"xmlns:{prefix}": uri for prefix, uri in NAMESPACES.items()})
        self.xml.startElement("rss", attrs)
        self.depth = 1
        self.start("channel")
        site = settings.SITE_URL
        self.element("title", settings.SITE_NAME)
        self.element("link", site)
        self.element("description", str(getattr(settings, "SITE_TAGLINE", "")))
        self.element("pubDate", format_datetime(timezone.now().astimezone(UTC)))
        self.element("language", settings.LANGUAGE_CODE)
        self.element("wp:wxr_version", WXR_VERSION)
        self.element("wp:base_site_url", site)
        self.element("wp:base_blog_url", site)

    def end_document(self):
        self.end("channel")
        self.depth = 0
        self.xml.ignorableWhitespace("\n")
        self.xml.endElement("rss")
        self.xml.ignorableWhitespace("\n")
        self.xml.endDocument()

    def author(self, user, *, personal_data):
        self.start("wp:author")
        self.element("wp:author_id", user.pk)
        self.element("wp:author_login", user.get_username())
        self.element("wp:author_email", user.email if personal_data else "")
        self.element("wp:author_display_name", user.get_full_name() or user.get_username())
        self.element("wp:author_first_name", user.first_name)
        self.element("wp:author_last_name", user.last_name)
        self.end("wp:author")

    def category(self, section):
        """A section as a WordPress category (flat: sections have no parents)."""
        self.start("wp:category")
        self.element("wp:term_id", section.pk)
        self.element("wp:category_nicename", section.slug)
        self.element("wp:category_parent")
        # Term names are HTML in WordPress ("News &amp; views"), as titles are.
        self.element("wp:cat_name", html.escape(section.name, quote=False))
        self.element("wp:category_description", html.escape(section.description, quote=False))
        self.end("wp:category")

    def tag(self, tag):
        self.start("wp:tag")
        self.element("wp:term_id", tag.pk)
        self.element("wp:tag_slug", tag.slug)
        self.element("wp:tag_name", html.escape(tag.name, quote=False))
        self.end("wp:tag")

    def item(self, article, comments, *, personal_data):
        """One ``<item>``: the article and its comments; returns how many comments."""
        site = settings.SITE_URL
        link = site + article.get_absolute_url()
        scheduled = article.is_scheduled
        if article.status != Article.Status.PUBLISHED:
            status = "draft"
        else:
            status = "future" if scheduled else "publish"
        self.start("item")
        self.element("title", html.escape(article.title, quote=False))
        self.element("link", link)
        self.element("pubDate", format_datetime(article.published_at.astimezone(UTC)))
        self.element("dc:creator", article.author.get_username())
        self.element("guid", f"{site}/?p={article.pk}", {"isPermaLink": "false"})
        self.element("description")
        self.element("content:encoded", article.body_html)
        self.element("excerpt:encoded", html.escape(article.summary, quote=False))
        self.element("wp:post_id", article.pk)
        self.element("wp:post_date", _local(article.published_at))
        self.element("wp:post_date_gmt", _gmt(article.published_at))
        self.element("wp:post_modified", _local(article.updated_at))
        self.element("wp:post_modified_gmt", _gmt(article.updated_at))
        self.element("wp:comment_status", "open" if article.comments_open else "closed")
        self.element("wp:ping_status", "closed")
        self.element("wp:post_name", article.slug)
        self.element("wp:status", status)
        self.element("wp:post_parent", 0)
        self.element("wp:menu_order", 0)
        self.element("wp:post_type", "post")
        self.element("wp:post_password")
        self.element("wp:is_sticky", 0)
        if article.section_id is not None:
            section = article.section
            self.element(
                "category",
                html.escape(section.name, quote=False),
                {"domain": "category", "nicename": section.slug},
            )
        for tag in sorted(article.tags.all(), key=lambda tag: tag.name):
            name = html.escape(tag.name, quote=False)
            self.element("category", name, {"domain": "post_tag", "nicename": tag.slug})
        if article.body:
            # The Markdown source, which WordPress has no field for: a hidden post meta
            # (WordPress keeps it; import_wxr makes the article Markdown again).
            self.meta("wp:postmeta", MARKDOWN_META_KEY, article.body)
        count = 0
        for comment in comments.iterator(chunk_size=2000):
            self.comment(comment, personal_data=personal_data)
            count += 1
        self.end("item")
        return count

    def comment(self, values, *, personal_data):
        self.start("wp:comment")
        self.element("wp:comment_id", values["pk"])
        self.element("wp:comment_author", html.escape(values["author_name"], quote=False))
        self.element("wp:comment_author_email", values["author_email"] if personal_data else "")
        self.element("wp:comment_author_url", values["author_url"])
        ip = values["ip_address"] or ""
        self.element("wp:comment_author_IP", ip if personal_data else "")
        self.element("wp:comment_date", _local(values["created_at"]))
        self.element("wp:comment_date_gmt", _gmt(values["created_at"]))
        # WordPress's comment_content is HTML: a plain-text comment is written escaped,
        # one that kept imported HTML as that (sanitized) HTML.
        if values["body_is_html"]:
            self.element("wp:comment_content", values["body_html"])
        else:
            self.element("wp:comment_content", html.escape(values["body"], quote=False))
        self.element("wp:comment_approved", COMMENT_APPROVED.get(values["status"], "0"))
        self.element("wp:comment_type", "comment")
        self.element("wp:comment_parent", values["parent_id"] or 0)
        self.element("wp:comment_user_id", values["user_id"] or 0)
        # Which of the two it is (and the HTML one's plain text), so import_wxr gives
        # back exactly this comment; WordPress keeps these hidden.
        if values["body_is_html"]:
            self.meta("wp:commentmeta", FORMAT_META_KEY, "html")
            self.meta("wp:commentmeta", TEXT_META_KEY, values["body"])
        else:
            self.meta("wp:commentmeta", FORMAT_META_KEY, "text")
        self.end("wp:comment")

    def meta(self, name, key, value):
        self.start(name)
        self.element("wp:meta_key", key)
        self.element("wp:meta_value", value)
        self.end(name)


def _local(moment):
    return timezone.localtime(moment).strftime(WP_DATE_FORMAT)


def _gmt(moment):
    return moment.astimezone(UTC).strftime(WP_DATE_FORMAT)
