"""Markdown to sanitized HTML: the one place article bodies become markup.

Markdown articles and imported HTML alike pass through ``sanitize_html``: allowlisted
tags and attributes only, and headings moved under the page's ``h1`` (the body's
highest heading becomes ``h2``).
"""

import re

import markdown
import nh3

ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6",
    "p", "br", "hr",
    "ul", "ol", "li",
    "a", "em", "strong", "b", "i", "del", "sup", "sub",
    "code", "pre", "kbd", "blockquote",
    "img", "figure", "figcaption",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
# In sanitized output a heading tag is exactly <hN> or </hN>: headings keep no
# attributes and "<" in text is escaped.
HEADING_TAG_RE = re.compile(r"<(/?)h([1-6])>")
TOP_BODY_HEADING = 2  # the article's title is the page's h1


def shift_headings(html: str) -> str:
    """Move the headings of sanitized HTML so the highest becomes ``h2``, the others
    keeping their levels relative to it (capped at ``h6``): whether an author typed
    ``#`` or ``###``, the body's outline starts right under the page's title."""
    levels = [int(match.group(2)) for match in HEADING_TAG_RE.finditer(html)]
    if not levels:
        return html
    shift = TOP_BODY_HEADING - min(levels)
    if not shift:
        return html
    return HEADING_TAG_RE.sub(
        lambda match: f"<{match.group(1)}h{min(6, int(match.group(2)) + shift)}>", html
    )


def sanitize_html(html: str) -> str:
    """Keep only the allowlisted tags and attributes; links get a safe rel; headings
    start at ``h2`` (``shift_headings``)."""
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return shift_headings(cleaned)


def render_markdown(text: str) -> str:
    html = markdown.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    return sanitize_html(html)
