"""Comment bodies: plain text rendered escaped, paragraphs kept and addresses linked (Django's
urlize and linebreaks, see comments/text.py) — the same HTML on the page, in the feeds and
after `comments_check --repair`."""

import html
import re
from io import StringIO
from xml.etree import ElementTree

import html5lib
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import smart_urlquote
from hypothesis import example, given, settings
from hypothesis import strategies as st

from comments.models import Comment
from comments.text import count_links, render_comment_body, strip_control_characters
from tests.factories import CommentFactory
from tests.html import NS, parse

H = f"{{{NS['h']}}}"
REL = {"nofollow", "ugc", "noopener"}


def fragment(html):
    return html5lib.parseFragment(html, namespaceHTMLElements=True)


def links(html):
    """``[(href, link text)]`` of a rendered body, as a browser parses it."""
    return [(a.get("href"), "".join(a.itertext())) for a in fragment(html).iter(f"{H}a")]


def visible_text(html):
    """The text a reader sees: ``<br>`` as a line break, paragraphs a blank line apart."""
    paragraphs = []
    for p in fragment(html).iter(f"{H}p"):
        parts = [p.text or ""]
        for child in p:
            parts.append("\n" if child.tag == f"{H}br" else "".join(child.itertext()))
            parts.append(child.tail or "")
        paragraphs.append("".join(parts))
    return "\n\n".join(paragraphs)


# --- links next to quotes, brackets and ampersands ----------------------------------------
@pytest.mark.parametrize(
    ("body", "url"),
    [
        ('"https://example.org/" is down', "https://example.org/"),
        ("<https://example.org/>", "https://example.org/"),
        ("'https://example.org/'", "https://example.org/"),
        ("`https://example.org/`", "https://example.org/"),
        ("https://example.org/ & more", "https://example.org/"),
        ("https://example.org/&", "https://example.org/&"),
        ("see https://e.org/?a=1&b=2.", "https://e.org/?a=1&b=2"),
        ("(see https://example.org/a_(b))", "https://example.org/a_(b)"),
        ("[https://example.org/x]!", "https://example.org/x"),
    ],
    ids=["double-quotes", "angle-brackets", "single-quotes", "backticks", "ampersand-after",
         "ampersand-last", "ampersand-in-query", "balanced-paren", "unbalanced-bracket"],
)  # fmt: skip
def test_url_is_linked_whole_and_the_text_around_it_is_kept(body, url):
    html = render_comment_body(body)
    assert links(html) == [(url, url)]
    assert visible_text(html) == body
    assert count_links(body) == 1


def test_ampersand_in_a_query_is_escaped_in_the_markup():
    html = render_comment_body("https://e.org/?a=1&b=2")
    assert 'href="https://e.org/?a=1&amp;b=2"' in html
    assert links(html) == [("https://e.org/?a=1&b=2", "https://e.org/?a=1&b=2")]


def test_links_are_nofollow_ugc_noopener():
    anchor = next(fragment(render_comment_body("at https://example.org/")).iter(f"{H}a"))
    assert set(anchor.get("rel").split()) == REL


@pytest.mark.parametrize(
    "body",
    [
        '<script>alert(1)</script> https://example.org/',
        'https://example.org/"><script>alert(1)</script>',
        "https://example.org/'onmouseover='alert(1)",
        'https://example.org/<img src=x onerror=alert(1)>',
        "javascript:alert(1) and data:text/html,<b>x</b>",
        '<a href="javascript:alert(1)">click</a>',
        "https://example.org/&quot;&gt;&lt;script&gt;",
    ],
)  # fmt: skip
def test_html_in_a_body_stays_text(body):
    html = render_comment_body(body)
    doc = fragment(html)
    assert {el.tag for el in doc.iter() if isinstance(el.tag, str)} <= {
        f"{H}p", f"{H}a", f"{H}br", "DOCUMENT_FRAGMENT"
    }  # fmt: skip
    for anchor in doc.iter(f"{H}a"):
        assert set(anchor.attrib) == {"href", "rel"}
        assert anchor.get("href").startswith("https://")
    assert visible_text(html) == body


def test_paragraphs_and_line_breaks_are_kept():
    html = render_comment_body("One https://example.org/\nline two\n\n\nTwo")
    doc = fragment(html)
    paragraphs = doc.findall(f"{H}p")
    assert len(paragraphs) == 2
    assert len(paragraphs[0].findall(f"{H}br")) == 1
    assert visible_text(html) == "One https://example.org/\nline two\n\nTwo"


def test_a_scheme_alone_is_not_a_link():
    assert render_comment_body("https:// and https://.") == "<p>https:// and https://.</p>"
    assert count_links("https:// and https://.") == 0


def test_www_and_bare_names_are_linked_as_http_and_counted():
    """Django's urlize links ``www.`` names and names ending in the seven original gTLDs."""
    body = "See www.example.org. Or example.com/news!"
    assert links(render_comment_body(body)) == [
        ("http://www.example.org", "www.example.org"),
        ("http://example.com/news", "example.com/news"),
    ]
    assert visible_text(render_comment_body(body)) == body
    assert count_links(body) == 2


def test_email_addresses_are_not_linked_or_counted():
    """A mailto: link would put a reader's address one click (and one crawl) away."""
    body = "Write to me@example.org, or mailto:me@example.org."
    html_ = render_comment_body(body)
    assert links(html_) == []
    assert visible_text(html_) == body
    assert count_links(body) == 0


def test_punctuation_after_a_closing_bracket_is_kept():
    """Django 5.2's urlize drops it ("(https://example.org/x)!" loses "!"); ours keeps it."""
    for body in ("(https://example.org/x)!", "see (https://example.org/x)).", "[www.example.org]?"):
        assert visible_text(render_comment_body(body)) == body
        assert len(links(render_comment_body(body))) == 1


def test_count_links_counts_what_is_linked_and_written_out_anchors_once():
    assert count_links('"https://a.example/" <https://b.example/>, https://c.example/.') == 3
    assert count_links('<a href="https://a.example/">a</a> and https://b.example/') == 2


# --- the property: text in, the same text out; links only from the text -------------------
def paragraph_rules(text):
    """What a reader should see of ``text``: blank-line runs become one paragraph break,
    empty paragraphs go, single line breaks stay."""
    text = text.strip("\n")
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "\n\n".join(paragraphs)


url_text = st.builds(
    lambda scheme, rest: scheme + rest,
    st.sampled_from(["http://", "https://", "HTTPS://", "www.", "WWW."]),
    st.text(alphabet="ab.-_~/?=&#%()[]{};:!,'\"<>`", max_size=20),
)
body_text = st.lists(
    st.one_of(
        st.text(max_size=20),
        url_text,
        st.sampled_from(["\n", "\n\n", " ", "&", '"', "me@example.org", "example.com"]),
    ),
    max_size=12,
).map(lambda parts: strip_control_characters("".join(parts)))


def address(link_text):
    """Where a link whose text is ``link_text`` must go: the text as written (``http://``
    added to a ``www.`` or bare name), entities read as characters, percent-encoded the way
    Django's ``urlize`` does (``smart_urlquote``)."""
    url = html.unescape(link_text)
    if not url.lower().startswith(("http://", "https://")):
        url = "http://" + url
    return smart_urlquote(url)


@settings(max_examples=300, deadline=None)
@given(body_text)
@example('"https://example.org/" is down')
@example("<https://example.org/>")
@example("(https://example.org/x)!")
def test_rendered_text_is_the_original_and_every_link_comes_from_it(body):
    html_ = render_comment_body(body)
    assert visible_text(html_) == paragraph_rules(body)
    for href, text in links(html_):
        assert text in body
        assert href == address(text)
        assert href.lower().startswith(("http://", "https://"))
        assert not set(href) & set(" \t\n<>\"'`")
        # Trailing punctuation stays outside a link (a ";" only as the end of an entity).
        assert text[-1] not in ".,:!?" and (text[-1] != ";" or re.search(r"&#?\w+;$", text))
    if not re.search(r"<a\s", body, re.IGNORECASE):  # written-out anchors count, unlinked
        assert count_links(body) == len(links(html_))


# --- where bodies are shown: the page and the feeds ----------------------------------------
BODY = 'The map ("https://example.org/map") is down, try <https://example.org/?a=1&b=2>'
EXPECTED_LINKS = [
    ("https://example.org/map", "https://example.org/map"),
    ("https://example.org/?a=1&b=2", "https://example.org/?a=1&b=2"),
]


@pytest.mark.django_db
def test_links_next_to_quotes_and_brackets_are_whole_on_the_article_page(client, article):
    CommentFactory(article=article, body=BODY)
    doc = parse(client.get(article.get_absolute_url()))
    content = doc.find(".//h:div[@class='comment-content']", NS)
    found = [(a.get("href"), "".join(a.itertext())) for a in content.iter(f"{H}a")]
    assert found == EXPECTED_LINKS
    assert " ".join("".join(content.itertext()).split()) == BODY


@pytest.mark.django_db
@pytest.mark.parametrize("feed", ["comments:feed", "comments:article-feed"])
def test_links_next_to_quotes_and_brackets_are_whole_in_the_comment_feeds(client, article, feed):
    CommentFactory(article=article, body=BODY)
    url = reverse(feed, args=[article.slug] if feed == "comments:article-feed" else [])
    rss = ElementTree.fromstring(client.get(url).content)
    (description,) = [item.findtext("description") for item in rss.iter("item")]
    assert links(description) == EXPECTED_LINKS
    assert visible_text(description) == BODY


# --- bodies stored by an older renderer ----------------------------------------------------
@pytest.mark.django_db
def test_comments_check_repair_re_renders_stale_bodies(article):
    comment = CommentFactory(article=article, body='"https://example.org/" is down')
    untouched = CommentFactory(article=article, body="Fine as it is.")
    stale = (
        '<p>&quot;<a href="https://example.org/&quot" rel="nofollow ugc noopener">'
        "https://example.org/&quot</a>; is down</p>"
    )
    Comment.objects.filter(pk=comment.pk).update(body_html=stale)
    version = article.comments_version

    check = StringIO()
    call_command("comments_check", stdout=check, stderr=StringIO())
    assert "1 comment(s) have stored HTML from an older renderer" in check.getvalue()
    assert Comment.objects.get(pk=comment.pk).body_html == stale

    out = StringIO()
    call_command("comments_check", "--repair", stdout=out, stderr=StringIO())
    comment.refresh_from_db()
    assert comment.body_html == render_comment_body(comment.body)
    assert links(comment.body_html) == [("https://example.org/", "https://example.org/")]
    assert "Re-rendered 1 comment(s)" in out.getvalue()
    assert Comment.objects.get(pk=untouched.pk).body_html == untouched.body_html
    article.refresh_from_db()
    assert article.comments_version > version, "cached threads must be invalidated"
