"""WordPress HTML → what threadpress stores.

Article bodies keep their HTML: WordPress stores post content without paragraph
tags and adds them when displaying (``wpautop``: a blank line is a paragraph, a
single line break a ``<br>``, block-level markup is left alone), so we apply the
same rules once, then sanitize like every article body.

Comments keep the HTML WordPress allows in comments (``comment_html``: its default
comment allowlist, sanitized with nh3, everything else becomes its text); their
``body`` is the plain-text version (``html_to_text``: tags dropped, entities decoded,
paragraphs kept as blank lines and ``<br>`` as line breaks) for search, emails and
excerpts.
"""

import re
from html.parser import HTMLParser

import nh3

from articles.rendering import sanitize_html
from comments.text import http_url, strip_control_characters

BLOCK_TAGS = (
    "address|area|article|aside|audio|blockquote|caption|col|colgroup|dd|details|div|dl|dt|"
    "fieldset|figcaption|figure|footer|form|h[1-6]|header|hgroup|hr|iframe|legend|li|map|math|"
    "menu|nav|noscript|object|ol|option|p|pre|script|section|select|style|summary|table|tbody|"
    "td|textarea|tfoot|th|thead|tr|ul|video"
)
OPEN_BLOCK_RE = re.compile(rf"(<(?:{BLOCK_TAGS})[\s/>])", re.IGNORECASE)
CLOSE_BLOCK_RE = re.compile(rf"(</(?:{BLOCK_TAGS})>)", re.IGNORECASE)
STARTS_WITH_BLOCK_RE = re.compile(rf"^(?:</?(?:{BLOCK_TAGS})[\s/>]|<!--)", re.IGNORECASE)
ENDS_WITH_CLOSE_BLOCK_RE = re.compile(rf"(?:</(?:{BLOCK_TAGS})>\s*)+$", re.IGNORECASE)
PRE_RE = re.compile(r"<pre[\s>].*?</pre>", re.IGNORECASE | re.DOTALL)
HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
PARAGRAPHS_RE = re.compile(r"\n\s*\n")
PRESERVED_RE = re.compile(r"<!--wxr-preserved:(\d+)-->")


def wpautop(html: str) -> str:
    """Paragraphs from line breaks, the way WordPress displays post content."""
    text = (html or "").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ""
    preserved = []

    def preserve(match):
        preserved.append(match.group(0))
        return f"\n\n<!--wxr-preserved:{len(preserved) - 1}-->\n\n"

    text = PRE_RE.sub(preserve, text)  # line breaks inside <pre> are content
    text = HTML_COMMENT_RE.sub(lambda match: f"\n\n{match.group(0)}\n\n", text)  # <!--more-->
    text = OPEN_BLOCK_RE.sub(r"\n\n\1", text)
    text = CLOSE_BLOCK_RE.sub(r"\1\n\n", text)
    out = []
    for chunk in PARAGRAPHS_RE.split(text):
        chunk = chunk.strip()
        if not chunk:
            continue
        if STARTS_WITH_BLOCK_RE.match(chunk):
            out.append(chunk)
            continue
        # Text that ends an enclosing block ("…text</li>"): the paragraph goes inside it.
        closing = ENDS_WITH_CLOSE_BLOCK_RE.search(chunk)
        tail = ""
        if closing:
            chunk, tail = chunk[: closing.start()].rstrip(), closing.group(0).strip()
        if chunk:
            chunk = "<p>" + chunk.replace("\n", "<br>\n") + "</p>"
        out.append(chunk + tail)
    text = "\n".join(out)
    return PRESERVED_RE.sub(lambda match: preserved[int(match.group(1))], text)


def article_html(content: str) -> str:
    """A WordPress post's content as the sanitized ``Article.body_html``."""
    return sanitize_html(wpautop(content))


# WordPress's default comment allowlist ($allowedtags in wp-includes/kses.php), plus the
# paragraphs and line breaks its display adds (wpautop).
COMMENT_TAGS = {
    "a", "abbr", "acronym", "b", "blockquote", "cite", "code", "del", "em", "i", "q", "s",
    "strike", "strong", "p", "br",
}  # fmt: skip
COMMENT_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "acronym": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
COMMENT_URL_SCHEMES = {"http", "https"}
COMMENT_REL = "nofollow ugc"
# Other block elements (headings, lists, <pre>, tables, <div>…) become paragraphs of their
# text, so their words don't run into the next block's.
TEXT_PARAGRAPH_TAGS = "|".join(
    tag
    for tag in BLOCK_TAGS.split("|")
    if tag not in {"blockquote", "p", "script", "style", "textarea", "select", "option"}
)
OPEN_TEXT_PARAGRAPH_RE = re.compile(rf"<(?:{TEXT_PARAGRAPH_TAGS})(?:[\s/][^>]*)?>", re.IGNORECASE)
CLOSE_TEXT_PARAGRAPH_RE = re.compile(rf"</(?:{TEXT_PARAGRAPH_TAGS})\s*>", re.IGNORECASE)
EMPTY_PARAGRAPH_RE = re.compile(r"<p>(?:\s|<br>)*</p>\s*")
BLOCK_BREAKS_RE = re.compile(r"\n{2,}")
HAS_MARKUP_RE = re.compile(r"<[a-zA-Z/!]|&[#a-zA-Z]")


def has_markup(content: str) -> bool:
    """Whether a comment holds tags or entities (else it is plain text, rendered as such)."""
    return bool(HAS_MARKUP_RE.search(content or ""))


def _comment_attribute(tag, attribute, value):
    """Links and citations only to http(s) addresses: nh3 checks the scheme of ``href``
    but not of ``cite``, and a relative link would point into this site."""
    if attribute in ("href", "cite"):
        return http_url(value) or None
    return value


def comment_html(content: str) -> str:
    """A WordPress comment's HTML as threadpress shows it: WordPress's display rules
    (``wpautop``), then only its comment allowlist, sanitized with nh3 (scripts and
    styles dropped with their content, event handlers and ``javascript:`` URLs removed,
    links ``rel="nofollow ugc"``); other elements become their text, block ones as
    paragraphs (``<pre>`` keeps its line breaks)."""
    html = wpautop(strip_control_characters(content or ""))
    html = PRE_RE.sub(lambda match: match.group(0).replace("\n", "<br>"), html)
    html = OPEN_TEXT_PARAGRAPH_RE.sub("<p>", html)
    html = CLOSE_TEXT_PARAGRAPH_RE.sub("</p>", html)
    cleaned = nh3.clean(
        html,
        tags=COMMENT_TAGS,
        attributes=COMMENT_ATTRIBUTES,
        url_schemes=COMMENT_URL_SCHEMES,
        link_rel=COMMENT_REL,
        strip_comments=True,
        attribute_filter=_comment_attribute,
    )
    # One line break between blocks, however many the removed elements left: the same
    # HTML comes out of its own output (an exported comment is imported unchanged).
    return BLOCK_BREAKS_RE.sub("\n", EMPTY_PARAGRAPH_RE.sub("", cleaned)).strip()


TEXT_BLOCK_TAGS = set(BLOCK_TAGS.replace("h[1-6]", "h1|h2|h3|h4|h5|h6").split("|"))
SKIPPED_CONTENT_TAGS = {"script", "style", "template"}
INLINE_SPACE_RE = re.compile(r"[^\S\n]+")
BLANK_LINES_RE = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skipping = 0
        self.links = []  # (href, index in parts where the link text starts)

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED_CONTENT_TAGS:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in TEXT_BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.parts)))

    def handle_endtag(self, tag):
        if tag in SKIPPED_CONTENT_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in TEXT_BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            url = http_url(href)
            label = "".join(self.parts[start:]).strip()
            # Keep where a link pointed: bare URLs are linked again when rendered.
            if url and url.rstrip("/") != label.rstrip("/"):
                self.parts.append(f" ({url})" if label else url)

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """WordPress comment (or excerpt) HTML → the plain text threadpress stores."""
    text = (html or "").replace("\r\n", "\n").replace("\r", "\n")
    if "<" in text or "&" in text:
        extractor = _TextExtractor()
        extractor.feed(text)
        extractor.close()
        text = "".join(extractor.parts)
    lines = [INLINE_SPACE_RE.sub(" ", line).strip() for line in text.split("\n")]
    text = BLANK_LINES_RE.sub("\n\n", "\n".join(lines)).strip()
    return strip_control_characters(text)
