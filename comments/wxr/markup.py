"""WordPress HTML → what threadpress stores.

Article bodies keep their HTML: WordPress stores post content without paragraph
tags and adds them when displaying (``wpautop``: a blank line is a paragraph, a
single line break a ``<br>``, block-level markup is left alone), so we apply the
same rules once, then sanitize like every article body.

Comment bodies are plain text in threadpress: tags are dropped, entities
decoded, paragraphs kept as blank lines and ``<br>`` as line breaks.
"""

import re
from html.parser import HTMLParser

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
