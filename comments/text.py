"""Reader text: cleaning what comes in, rendering what goes out.

Comment bodies are plain text. They are rendered with Django's own ``urlize`` and
``linebreaks`` (``{{ body|urlize|linebreaks }}`` in a template, autoescaping on): the
text is escaped, paragraphs and line breaks are kept, and addresses are linked
``rel="nofollow ugc noopener"``. No HTML from a reader is ever rendered.

``CommentUrlizer`` is Django's ``Urlizer`` with four settings changed and one fix, each
for a reason:

- ``rel`` is ``nofollow ugc noopener`` (``urlize(nofollow=True)`` only says
  ``nofollow``; ``ugc`` tells search engines the link is a reader's);
- a backtick ends an address as a quote does (readers write ```https://…```);
- a trailing ``?`` stays outside the link, like ``.,:;!`` (a question ending in a URL);
- email addresses are not linked: a ``mailto:`` link makes an address one click (and
  one crawl) away, and a comment is no place to publish one;
- the fix: Django 5.2's ``trim_punctuation`` drops the punctuation it trimmed before an
  unbalanced closing bracket (``[https://example.org/x]!`` shows without its ``!``); a
  reader's text is never lost, so the trail is recomputed from the word.

Everything else is Django's documented behaviour: ``http://``/``https://`` URLs,
``www.`` names and bare names ending in ``.com``, ``.edu``, ``.gov``, ``.int``,
``.mil``, ``.net`` or ``.org`` are linked (the last two as ``http://…``); the ``href``
is the address percent-encoded (``smart_urlquote``), the link text is what the reader
wrote, escaped; balanced brackets stay inside an address, unbalanced ones outside.
"""

import re

from django.utils.html import Urlizer, linebreaks

ANCHOR_TAG_RE = re.compile(r"<a\s[^>]*>?", re.IGNORECASE)
PARAGRAPH_SPLIT_RE = re.compile(r"\n\s*\n")
# C0/C1 control characters except tab and newline; also lone surrogates.
CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class CommentUrlizer(Urlizer):
    trailing_punctuation_chars = ".,:;!?"
    word_split_re = re.compile(r"""([\s<>"'`]+)""")
    url_template = '<a href="{href}" rel="nofollow ugc noopener">{url}</a>'

    @staticmethod
    def is_email_simple(value):
        return False

    def trim_punctuation(self, word):
        # Django 5.2's loop replaces the trail when it trims an unbalanced closing bracket,
        # so "(https://example.org/x)!" would lose its "!". The address is always a prefix
        # of what follows the lead, so the trail is simply the rest of the word.
        lead, middle, _trail = super().trim_punctuation(word)
        return lead, middle, word[len(lead) + len(middle) :]


urlize = CommentUrlizer()


def strip_control_characters(value: str) -> str:
    """Drop NUL and other control characters; normalise line endings to ``\\n``."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return CONTROL_CHARS_RE.sub("", value)


def count_links(value: str) -> int:
    """The links the rendered body holds, plus the HTML anchors written into it (shown as
    text, never linked, but link spam all the same); an address inside an anchor's tag
    counts once, with its anchor."""
    anchors = [match.span() for match in ANCHOR_TAG_RE.finditer(value)]
    links = 0
    position = 0
    for word in urlize.word_split_re.split(value):
        start, position = position, position + len(word)
        if any(a_start <= start < a_end for a_start, a_end in anchors):
            continue
        if "<a " in urlize.handle_word(word, safe_input=False, autoescape=True):
            links += 1
    return len(anchors) + links


def render_comment_body(body: str) -> str:
    """Plain text → safe HTML: ``urlize`` then ``linebreaks`` (paragraphs at blank lines,
    ``<br>`` at single line breaks). A blank line holding only spaces still separates
    paragraphs, and empty paragraphs are dropped."""
    body = (body or "").strip("\n")
    paragraphs = [p.strip("\n") for p in PARAGRAPH_SPLIT_RE.split(body) if p.strip()]
    if not paragraphs:
        return ""
    return linebreaks(urlize("\n\n".join(paragraphs), autoescape=True))


def http_url(value: str) -> str:
    """``value`` if it is an http(s) URL, else an empty string (never ``javascript:``)."""
    value = (value or "").strip()
    return value if value.lower().startswith(("http://", "https://")) else ""
