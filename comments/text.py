"""Reader text: cleaning what comes in, rendering what goes out.

Comment bodies are plain text. They are rendered escaped, with paragraphs and
line breaks kept and bare http(s) URLs linked ``rel="nofollow ugc noopener"``.
No HTML from a reader is ever rendered.
"""

import re

from django.utils.html import escape

URL_RE = re.compile(r"""\bhttps?://[^\s<>"'`]+""", re.IGNORECASE)
TRAILING_PUNCTUATION = ".,;:!?"
BRACKETS = {")": "(", "]": "[", "}": "{"}
ANCHOR_TAG_RE = re.compile(r"<a\s[^>]*>?", re.IGNORECASE)
PARAGRAPH_SPLIT_RE = re.compile(r"\n\s*\n")
# C0/C1 control characters except tab and newline; also lone surrogates.
CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def strip_control_characters(value: str) -> str:
    """Drop NUL and other control characters; normalise line endings to ``\\n``."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return CONTROL_CHARS_RE.sub("", value)


def url_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every URL the rendered text links, found in the raw text.

    A URL runs to whitespace, a quote, an angle bracket or a backtick; trailing
    ``.,;:!?`` and a closing bracket without its opening one inside the URL are left
    outside, so ``(see https://example.org/a_(b)).`` links ``https://example.org/a_(b)``.
    """
    spans = []
    for match in URL_RE.finditer(text):
        url = match.group(0)
        while url:
            last = url[-1]
            if last in TRAILING_PUNCTUATION or (
                last in BRACKETS and url.count(last) > url.count(BRACKETS[last])
            ):
                url = url[:-1]
            else:
                break
        if url.partition("//")[2]:  # a scheme with nothing after it is not a link
            spans.append((match.start(), match.start() + len(url)))
    return spans


def count_links(value: str) -> int:
    """The links the rendered body holds, plus the HTML anchors written into it (shown as
    text, never linked, but link spam all the same); a URL inside an anchor's tag counts
    once, with its anchor."""
    anchors = [match.span() for match in ANCHOR_TAG_RE.finditer(value)]
    urls = [
        start
        for start, _end in url_spans(value)
        if not any(a_start <= start < a_end for a_start, a_end in anchors)
    ]
    return len(anchors) + len(urls)


def _linkify(line: str) -> str:
    """One raw line → escaped HTML with its URLs linked.

    URLs are found in the raw text and the text between them and each URL are escaped
    separately, so an entity (``&quot;``, ``&gt;``, ``&#x27;``) is never cut in half and
    a URL can't smuggle markup.
    """
    out = []
    position = 0
    for start, end in url_spans(line):
        url = escape(line[start:end])
        out.append(escape(line[position:start]))
        out.append(f'<a href="{url}" rel="nofollow ugc noopener">{url}</a>')
        position = end
    out.append(escape(line[position:]))
    return "".join(out)


def render_comment_body(body: str) -> str:
    """Plain text → safe HTML: paragraphs at blank lines, ``<br>`` at single line
    breaks, bare http(s) URLs linked (see ``url_spans``), everything else escaped."""
    body = (body or "").strip("\n")
    paragraphs = [p.strip("\n") for p in PARAGRAPH_SPLIT_RE.split(body) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(_linkify(line) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
    )


def http_url(value: str) -> str:
    """``value`` if it is an http(s) URL, else an empty string (never ``javascript:``)."""
    value = (value or "").strip()
    return value if value.lower().startswith(("http://", "https://")) else ""
