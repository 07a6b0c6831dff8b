"""The thread toggle says what it does and how many replies it hides ("Hide 3 replies" /
"Show 3 replies": every reply under the comment, at all levels)."""

import pytest
from playwright.sync_api import expect

from tests.factories import ArticleFactory, CommentFactory
from tests.html import NS, parse, text_of


@pytest.fixture
def thread(db):
    article = ArticleFactory(title="A thread worth folding")
    root = CommentFactory(article=article, author_name="Starter")
    reply = CommentFactory(article=article, parent=root, author_name="First replier")
    CommentFactory(article=article, parent=reply, author_name="Second replier")
    CommentFactory(article=article, parent=root, author_name="Third replier")
    return article, root


@pytest.mark.django_db
def test_thread_toggle_markup_carries_both_labels_with_the_count(client, thread):
    article, root = thread
    doc = parse(client.get(article.get_absolute_url()))
    item = doc.find(f".//h:li[@id='comment-{root.pk}']", NS)
    toggle = item.find("h:button[@class='thread-toggle']", NS)
    assert text_of(toggle) == "Hide 3 replies"
    assert toggle.get("data-show-label") == "Show 3 replies"
    assert text_of(item.find(".//h:span[@class='comment-reply-count']", NS)) == "3 replies"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_collapsed_thread_toggle_reads_show_replies_with_the_count(
    new_page, live_server, thread, screenshot_dir, width
):
    article, root = thread
    page = new_page(viewport={"width": width, "height": 900})
    page.goto(article.get_absolute_url())
    item = page.locator(f"li#comment-{root.pk}")
    toggle = item.locator(":scope > button.thread-toggle")
    count = item.locator(":scope > article .comment-reply-count")
    expect(toggle).to_have_text("Hide 3 replies")
    expect(toggle).to_have_attribute("aria-expanded", "true")

    toggle.click()
    expect(toggle).to_have_text("Show 3 replies")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(item.locator(":scope > ol.children")).to_be_hidden()
    expect(count).to_have_text("3 replies")
    expect(item.get_by_role("button", name="Show 3 replies", exact=True)).to_be_visible()
    item.screenshot(path=screenshot_dir / f"thread-toggle-collapsed-{width}.png")

    toggle.click()
    expect(toggle).to_have_text("Hide 3 replies")
    expect(item.locator(":scope > ol.children")).to_be_visible()
    assert page.js_errors == []
