"""Reader text: cleaning what comes in, rendering what goes out.

Comment bodies are plain text. They are rendered escaped, with paragraphs and
line breaks kept and bare http(s) URLs linked ``rel="nofollow ugc noopener"``.
No HTML from a reader is ever rendered.
"""

import re

from django.utils.html import escape

URL_RE = re.compile(r"""\bhttps?://[^\s<>"'`]+""", re.IGNORECASE)
TRAILING_PUNCTUATION = ".,;:!?)]}'\""
PARAGRAPH_SPLIT_RE = re.compile(r"\n\s*\n")
# C0/C1 control characters except tab and newline; also lone surrogates.
CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def strip_control_characters(value: str) -> str:
    """Drop NUL and other control characters; normalise line endings to ``\\n``."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return CONTROL_CHARS_RE.sub("", value)


def count_links(value: str) -> int:
    return len(URL_RE.findall(value)) + value.lower().count("<a ")


def _linkify(escaped_line: str) -> str:
    def link(match):
        url = match.group(0)
        trailing = ""
        while url and url[-1] in TRAILING_PUNCTUATION:
            trailing = url[-1] + trailing
            url = url[:-1]
        return f'<a href="{url}" rel="nofollow ugc noopener">{url}</a>{trailing}'

    return URL_RE.sub(link, escaped_line)


def render_comment_body(body: str) -> str:
    """Plain text → safe HTML paragraphs. Escaping happens before linking, so a URL
    can't smuggle markup: the href is built from already-escaped text."""
    body = (body or "").strip("\n")
    paragraphs = [p.strip("\n") for p in PARAGRAPH_SPLIT_RE.split(body) if p.strip()]
    return "".join(
        "<p>" + "<br>".join(_linkify(escape(line)) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
    )


def http_url(value: str) -> str:
    """``value`` if it is an http(s) URL, else an empty string (never ``javascript:``)."""
    value = (value or "").strip()
    return value if value.lower().startswith(("http://", "https://")) else ""
