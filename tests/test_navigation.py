"""Thread navigation in the markup: Hacker News's parent, top and next-thread links on
every comment (real links to anchors, named in full for screen readers), a toggle on
every comment with a reply list saying how many replies it hides, and the keyboard's
help and the "new since your last visit" line, shown by the scripts only."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from comments import moderation
from tests.factories import CommentFactory, StaffFactory, UserFactory
from tests.html import NS, comment_items, comments_section, parse, text_of

pytestmark = pytest.mark.django_db


def nav_links(doc, comment):
    """``{class: (href, aria-label, text)}`` of the comment's navigation links."""
    li = doc.find(f".//h:li[@id='comment-{comment.pk}']", NS)
    nav = li.find("h:article/h:header/h:span[@class='comment-nav']", NS)
    if nav is None:
        return {}
    return {
        link.get("class"): (link.get("href"), link.get("aria-label"), text_of(link))
        for link in nav.findall("h:a", NS)
    }


def toggle_of(doc, comment):
    li = doc.find(f".//h:li[@id='comment-{comment.pk}']", NS)
    return li.find("h:button[@class='thread-toggle']", NS)


@pytest.fixture
def discussion(article):
    """Two threads: Ann ← Bob ← Cy (and Cy's sibling Di under Bob), then Eve's thread."""
    ann = CommentFactory(article=article, author_name="Ann")
    bob = CommentFactory(article=article, parent=ann, author_name="Bob")
    cy = CommentFactory(article=article, parent=bob, author_name="Cy")
    di = CommentFactory(article=article, parent=bob, author_name="Di")
    eve = CommentFactory(article=article, author_name="Eve")
    return {"ann": ann, "bob": bob, "cy": cy, "di": di, "eve": eve}


def page(client, article, query=""):
    return parse(client.get(article.get_absolute_url() + query))


def test_a_reply_links_to_its_parent_named_by_its_author(client, article, discussion):
    doc = page(client, article)
    href, label, text = nav_links(doc, discussion["cy"])["comment-parent"]
    assert href == f"#comment-{discussion['bob'].pk}"
    assert label == "Parent comment by Bob"
    assert text == "parent"  # the visible word is part of the name (WCAG 2.5.3)


def test_a_first_comment_of_a_thread_has_no_parent_or_top_link(client, article, discussion):
    links = nav_links(page(client, article), discussion["ann"])
    assert "comment-parent" not in links
    assert "comment-root" not in links


def test_a_direct_reply_has_no_top_link_besides_its_parent_link(client, article, discussion):
    """For a reply to the first comment, "top" would lead where "parent" does."""
    links = nav_links(page(client, article), discussion["bob"])
    assert links["comment-parent"][0] == f"#comment-{discussion['ann'].pk}"
    assert "comment-root" not in links


def test_a_deeper_reply_links_to_the_top_of_its_thread(client, article, discussion):
    href, label, text = nav_links(page(client, article), discussion["di"])["comment-root"]
    assert (href, label, text) == (f"#comment-{discussion['ann'].pk}", "Top of this thread", "top")


def test_every_comment_of_a_thread_links_to_the_next_thread(client, article, discussion):
    doc = page(client, article)
    for name in ("ann", "bob", "cy", "di"):
        href, label, text = nav_links(doc, discussion[name])["comment-next"]
        assert (href, label, text) == (f"#comment-{discussion['eve'].pk}", "Next thread", "next")


def test_the_last_thread_of_the_last_page_has_no_next_link(client, article, discussion):
    assert nav_links(page(client, article), discussion["eve"]) == {}


def test_every_link_leads_to_a_comment_of_the_page(client, article, discussion):
    doc = page(client, article)
    ids = {li.get("id") for li in comment_items(doc)}
    hrefs = [
        link.get("href")
        for li in comment_items(doc)
        for link in li.iterfind("h:article/h:header/h:span[@class='comment-nav']/h:a", NS)
    ]
    assert len(hrefs) == 9  # next ×4, parent ×3, top ×2
    assert {href.removeprefix("#") for href in hrefs} <= ids


def test_the_last_thread_of_a_page_links_to_the_next_comments_page(client, settings, article):
    settings.COMMENTS_THREADS_PER_PAGE = 2
    first = CommentFactory(article=article)
    second = CommentFactory(article=article)
    reply = CommentFactory(article=article, parent=second)
    third = CommentFactory(article=article)
    doc = page(client, article)
    assert nav_links(doc, first)["comment-next"][0] == f"#comment-{second.pk}"
    expected = f"{article.get_absolute_url()}?cpage=2#comments"
    assert nav_links(doc, second)["comment-next"][0] == expected
    assert nav_links(doc, reply)["comment-next"][0] == expected
    assert nav_links(page(client, article, "?cpage=2"), third) == {}


def test_next_thread_follows_the_order_the_page_shows(client, settings, article):
    settings.COMMENTS_THREADS_PER_PAGE = 2
    old = CommentFactory(article=article, created_at=timezone.now() - timedelta(hours=2))
    middle = CommentFactory(article=article, created_at=timezone.now() - timedelta(hours=1))
    new = CommentFactory(article=article)
    doc = page(client, article, "?csort=newest")
    assert nav_links(doc, new)["comment-next"][0] == f"#comment-{middle.pk}"
    assert nav_links(doc, middle)["comment-next"][0] == (
        f"{article.get_absolute_url()}?cpage=2&csort=newest#comments"
    )
    assert nav_links(page(client, article, "?cpage=2&csort=newest"), old) == {}


def test_a_reply_to_a_removed_comment_names_no_one(client, article, discussion):
    moderation.remove([discussion["bob"]], by=StaffFactory())
    href, label, _text = nav_links(page(client, article), discussion["cy"])["comment-parent"]
    assert href == f"#comment-{discussion['bob'].pk}"
    assert label == "Parent comment"


def test_a_reply_beside_its_parent_at_the_depth_cap_links_to_its_true_parent(
    client, settings, article, discussion
):
    settings.COMMENTS_MAX_DEPTH = 2
    deeper = CommentFactory(article=article, parent=discussion["cy"], author_name="Flo")
    doc = page(client, article)
    assert nav_links(doc, deeper)["comment-parent"][:2] == (
        f"#comment-{discussion['cy'].pk}",
        "Parent comment by Cy",
    )
    assert nav_links(doc, deeper)["comment-root"][0] == f"#comment-{discussion['ann'].pk}"


def test_names_in_the_labels_are_escaped(client, article):
    top = CommentFactory(article=article, author_name='<b>Bold</b> "quoted"')
    reply = CommentFactory(article=article, parent=top)
    response = client.get(article.get_absolute_url())
    assert b"<b>Bold</b>" not in response.content
    label = nav_links(parse(response), reply)["comment-parent"][1]
    assert label == 'Parent comment by <b>Bold</b> "quoted"'


def test_placeholders_carry_no_navigation_links(client, article, discussion):
    moderation.remove([discussion["bob"]], by=StaffFactory())
    doc = page(client, article)
    li = doc.find(f".//h:li[@id='comment-{discussion['bob'].pk}']", NS)
    assert li.find("h:article", NS) is None
    assert li.find("h:div[@class='comment-body']//h:a", NS) is None


# --- folding any sub-thread -------------------------------------------------------------


def test_every_comment_with_a_reply_list_has_a_toggle_counting_all_its_replies(
    client, article, discussion
):
    doc = page(client, article)
    ann, bob = toggle_of(doc, discussion["ann"]), toggle_of(doc, discussion["bob"])
    assert text_of(ann) == "Hide 3 replies"
    assert ann.get("data-show-label") == "Show 3 replies"
    assert ann.get("aria-controls") == f"replies-{discussion['ann'].pk}"
    assert text_of(bob) == "Hide 2 replies"  # a sub-thread at depth 2
    assert bob.get("data-show-label") == "Show 2 replies"
    assert bob.get("aria-expanded") == "true"


def test_toggles_are_hidden_without_javascript_and_leaves_have_none(client, article, discussion):
    doc = page(client, article)
    assert toggle_of(doc, discussion["ann"]).get("hidden") is not None
    assert toggle_of(doc, discussion["cy"]) is None
    assert toggle_of(doc, discussion["eve"]) is None


def test_one_reply_is_counted_in_the_singular(client, article):
    top = CommentFactory(article=article)
    CommentFactory(article=article, parent=top)
    toggle = toggle_of(page(client, article), top)
    assert (text_of(toggle), toggle.get("data-show-label")) == ("Hide 1 reply", "Show 1 reply")


def test_a_comment_at_the_depth_cap_has_no_toggle_for_the_replies_beside_it(
    client, settings, article, discussion
):
    settings.COMMENTS_MAX_DEPTH = 3
    CommentFactory(article=article, parent=discussion["cy"])
    doc = page(client, article)
    assert toggle_of(doc, discussion["cy"]) is None  # its reply is beside it, not in a list
    assert text_of(toggle_of(doc, discussion["bob"])) == "Hide 3 replies"


# --- the keys' help and the "new" line: for the scripts ---------------------------------


def test_the_keyboard_help_is_a_dialog_listing_every_key(client, article, discussion):
    doc = page(client, article)
    dialog = doc.find(".//h:dialog[@id='thread-keys-help']", NS)
    assert dialog.get("open") is None
    assert dialog.get("aria-labelledby") == "thread-keys-title"
    keys = [text_of(kbd) for kbd in dialog.iterfind(".//h:dt/h:kbd", NS)]
    assert keys == ["j", "k", "p", "c", "n", "?", "Esc"]
    assert dialog.find(".//h:form[@method='dialog']/h:button", NS) is not None


def test_the_keyboard_button_and_the_new_line_are_hidden_without_javascript(
    client, article, discussion
):
    doc = page(client, article)
    button = doc.find(".//h:button[@aria-controls='thread-keys-help']", NS)
    assert text_of(button) == "Keyboard shortcuts"
    assert button.get("hidden") is not None
    line = doc.find(".//h:p[@id='comments-new']", NS)
    assert line.get("hidden") is not None
    assert line.get("data-one") == "%(count)s new comment since your last visit"
    assert line.get("data-other") == "%(count)s new comments since your last visit"


def test_the_scripts_come_from_files_without_inline_code(client, article, discussion):
    doc = page(client, article)
    scripts = list(comments_section(doc).iterfind(".//h:script", NS))
    sources = {script.get("src").rsplit("/", 1)[-1] for script in scripts if script.get("src")}
    assert {"navigation.js", "new-since-visit.js"} <= {
        re.sub(r"\.[0-9a-f]{12}\.js$", ".js", source) for source in sources
    }
    assert all(not (script.text or "").strip() for script in scripts)


def test_an_article_without_comments_has_no_keys_or_new_line(client, article):
    doc = page(client, article)
    assert doc.find(".//h:dialog", NS) is None
    assert doc.find(".//h:p[@id='comments-new']", NS) is None


def test_the_cached_anonymous_page_is_the_same_for_every_reader(article, discussion):
    """Besides the holes (CSRF token, form timestamp), every anonymous reader gets the
    same bytes, with nothing of anyone's visits in them, before and after a signed-in
    reader's visit."""

    def without_holes(response):
        assert response.status_code == 200
        text = response.content.decode()
        return re.sub(r'(name="(csrfmiddlewaretoken|timestamp)" value=")[^"]*', r"\1", text)

    first = without_holes(Client().get(article.get_absolute_url()))
    reader = Client()
    reader.force_login(UserFactory())
    assert 'data-previous-visit=""' in reader.get(article.get_absolute_url()).content.decode()
    second = without_holes(Client().get(article.get_absolute_url()))
    assert first == second
    assert "data-previous-visit" not in first
    assert 'data-visit-gap="1800"' in first
