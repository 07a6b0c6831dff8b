"""The journeys readers and moderators take, in a real Chromium against a live server."""

import re

import pytest
from playwright.sync_api import expect

from comments.models import Comment
from tests.browser.conftest import build_chain
from tests.factories import ArticleFactory, CommentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READER = {"name": "Grace Browser", "email": "grace@example.org"}


def comment_li(page, pk):
    return page.locator(f"li#comment-{pk}")


def box(locator):
    bounds = locator.bounding_box()
    assert bounds is not None, "element is not rendered"
    return bounds


def fill_reader(page):
    page.fill("#id_name", READER["name"])
    page.fill("#id_email", READER["email"])


def newest_comment():
    return Comment.objects.order_by("-pk").first()


def assert_lands_on_own_pending_reply(page, parent):
    """After a post: the URL points at the new comment, nested in its parent, pending."""
    expect(page).to_have_url(re.compile(r"#comment-\d+$"))
    reply = newest_comment()
    assert reply.parent_id == parent.pk
    assert reply.status == Comment.Status.PENDING
    assert page.url.endswith(f"#comment-{reply.pk}")
    own = page.locator(f"li#comment-{parent.pk} > ol.children > li#comment-{reply.pk}")
    expect(own).to_be_visible()
    expect(own.locator(".comment-awaiting-moderation")).to_have_text(
        "Your comment is awaiting moderation."
    )
    return reply


def test_reader_reads_a_deep_thread_follows_a_permalink_and_pages_through_threads(
    page, live_server, deep_article, browser_settings
):
    browser_settings.COMMENTS_THREADS_PER_PAGE = 2
    third = build_chain(deep_article, 1, prefix="Third thread")[0]
    page.goto("/")
    page.get_by_role("link", name=deep_article.title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(deep_article.title)

    # Four levels (and more): each reply sits inside and to the right of its parent.
    chain = deep_article.chain
    for parent, child in zip(chain[:3], chain[1:4], strict=True):
        nested = comment_li(page, parent.pk).locator(f"ol.children > li#comment-{child.pk}")
        expect(nested).to_be_visible()
        parent_box = box(comment_li(page, parent.pk).locator("> .comment-body"))
        child_box = box(comment_li(page, child.pk).locator("> .comment-body"))
        assert child_box["x"] > parent_box["x"]
        assert child_box["y"] > parent_box["y"]
    expect(comment_li(page, chain[3].pk)).to_have_class(re.compile(r"\bdepth-4\b"))

    comment_li(page, chain[3].pk).locator("> .comment-body .comment-permalink").click()
    expect(page).to_have_url(re.compile(rf"/articles/{deep_article.slug}/#comment-{chain[3].pk}$"))
    expect(comment_li(page, chain[3].pk)).to_be_in_viewport()

    expect(comment_li(page, third.pk)).to_have_count(0)
    page.locator("nav.comment-pagination").get_by_role("link", name="2").click()
    expect(page).to_have_url(re.compile(r"\?cpage=2#comments$"))
    expect(comment_li(page, third.pk)).to_be_visible()
    expect(comment_li(page, chain[0].pk)).to_have_count(0)
    expect(page.locator("nav.comment-pagination [aria-current=page]")).to_have_text("2")


def test_reply_with_javascript_moves_the_form_focuses_and_cancel_puts_it_back(
    page, live_server, deep_article
):
    target = deep_article.chain[2]  # depth 3
    page.goto(deep_article.get_absolute_url())
    respond = page.locator("#respond")

    comment_li(page, target.pk).locator("> .comment-body .comment-reply-link").click()
    expect(comment_li(page, target.pk).locator("> #respond")).to_be_visible()
    expect(page.locator("#id_body")).to_be_focused()
    expect(page.locator("#reply-title")).to_have_text(f"Replying to {target.author_name}")
    expect(page).not_to_have_url(re.compile(r"replyto="))  # no page load happened

    page.locator("#cancel-comment-reply-link").click()
    expect(page.locator("li.comment #respond")).to_have_count(0)
    expect(page.locator("#comments + #respond")).to_be_visible()  # back under the threads
    expect(page.locator("#reply-title")).to_have_text("Leave a Reply")
    expect(page.locator("input[name=parent]")).to_have_value("")

    comment_li(page, target.pk).locator("> .comment-body .comment-reply-link").click()
    expect(page.locator("#id_body")).to_be_focused()
    page.keyboard.type("Replying with JavaScript on.")
    fill_reader(page)
    respond.get_by_role("button", name="Post Comment").click()
    assert_lands_on_own_pending_reply(page, target)


def test_reply_without_javascript_uses_the_replyto_page(new_page, live_server, deep_article):
    page = new_page(java_script_enabled=False)
    target = deep_article.chain[2]
    page.goto(deep_article.get_absolute_url())
    comment_li(page, target.pk).locator("> .comment-body .comment-reply-link").click()
    expect(page).to_have_url(re.compile(rf"\?replyto={target.pk}#respond$"))
    expect(page.locator("#reply-title")).to_have_text(f"Replying to {target.author_name}")
    expect(page.locator("input[name=parent]")).to_have_value(str(target.pk))
    page.fill("#id_body", "Replying with JavaScript off.")
    fill_reader(page)
    page.get_by_role("button", name="Post Comment").click()
    assert_lands_on_own_pending_reply(page, target)


def test_keyboard_only_reader_tabs_to_reply_and_posts(page, live_server, deep_article):
    target = deep_article.chain[2]
    page.goto(deep_article.get_absolute_url())
    reply_link = comment_li(page, target.pk).locator("> .comment-body .comment-reply-link")
    for _ in range(80):
        page.keyboard.press("Tab")
        if reply_link.evaluate("link => link === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the Reply link")
    page.keyboard.press("Enter")
    expect(page.locator("#id_body")).to_be_focused()
    page.keyboard.type("Typed without a mouse.")
    for field, value in (("#id_name", READER["name"]), ("#id_email", READER["email"])):
        page.keyboard.press("Tab")
        expect(page.locator(field)).to_be_focused()
        page.keyboard.type(value)
    submit = page.locator("#comment-form button[type=submit]")
    for _ in range(6):
        page.keyboard.press("Tab")
        if submit.evaluate("button => button === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the submit button")
    page.keyboard.press("Enter")
    reply = assert_lands_on_own_pending_reply(page, target)
    assert reply.body == "Typed without a mouse."


def test_empty_body_shows_the_field_error_and_keeps_name_and_email(page, live_server, deep_article):
    page.goto(deep_article.get_absolute_url())
    fill_reader(page)
    page.get_by_role("button", name="Post Comment").click()
    expect(page.locator("#id_body_error")).to_have_text("Please write a comment.")
    expect(page.locator("#comment-form-errors")).to_be_visible()
    expect(page.locator("#id_name")).to_have_value(READER["name"])
    expect(page.locator("#id_email")).to_have_value(READER["email"])
    assert not Comment.objects.filter(author_email=READER["email"]).exists()


def test_moderator_approves_the_pending_comment_and_readers_see_it_in_place(
    new_page, live_server, deep_article, screenshot_dir
):
    parent = deep_article.chain[1]
    reader = new_page()
    reader.goto(f"{deep_article.get_absolute_url()}?replyto={parent.pk}#respond")
    reader.fill("#id_body", "Please approve me.")
    fill_reader(reader)
    reader.get_by_role("button", name="Post Comment").click()
    pending = assert_lands_on_own_pending_reply(reader, parent)

    anonymous = new_page()
    anonymous.goto(deep_article.get_absolute_url())
    count_before = int(anonymous.locator("#comments").get_attribute("data-comment-count"))
    expect(comment_li(anonymous, pending.pk)).to_have_count(0)

    UserFactory(username="moderator", is_staff=True, is_superuser=True)
    moderator = new_page()
    moderator.goto("/admin/login/")
    moderator.fill("#id_username", "moderator")
    moderator.fill("#id_password", "correct horse battery staple")
    moderator.get_by_role("button", name=re.compile("log in", re.IGNORECASE)).click()
    expect(moderator.locator("#user-tools")).to_contain_text("Log out")
    moderator.goto("/admin/comments/comment/")  # opens on the pending queue
    expect(moderator.locator("#changelist-filter li.selected").first).to_have_text("Pending")
    first_row = moderator.locator("#result_list tbody tr").first
    expect(first_row.locator("input[name=_selected_action]")).to_have_value(str(pending.pk))
    moderator.screenshot(path=screenshot_dir / "moderation-queue.png", full_page=True)
    print(f"\nscreenshot: {screenshot_dir / 'moderation-queue.png'}")
    first_row.locator("input[name=_selected_action]").check()
    action = moderator.locator("select[name=action]")
    approve = action.locator("option").filter(has_text=re.compile(r"approve", re.IGNORECASE))
    action.select_option(approve.first.get_attribute("value"))
    moderator.locator("button[name=index], input[name=index]").first.click()
    expect(moderator.locator("ul.messagelist")).to_contain_text(re.compile("approved", re.I))
    pending.refresh_from_db()
    assert pending.status == Comment.Status.APPROVED

    anonymous.reload()
    placed = anonymous.locator(f"li#comment-{parent.pk} > ol.children > li#comment-{pending.pk}")
    expect(placed).to_be_visible()
    expect(placed.locator(".comment-awaiting-moderation")).to_have_count(0)
    expect(anonymous.locator("#comments")).to_have_attribute(
        "data-comment-count", str(count_before + 1)
    )
    expect(anonymous.locator("#comments-title")).to_have_text(
        f"{count_before + 1} Responses to “{deep_article.title}”"
    )


def test_reported_comment_button_reads_reported(page, live_server, deep_article):
    """Report opens a page asking for a reason (the confirmation); sending it goes back
    to the comment, whose control then reads "Reported"."""
    target = deep_article.chain[0]
    page.goto(deep_article.get_absolute_url())
    report = comment_li(page, target.pk).locator("> .comment-body .comment-report-button")
    expect(report).to_have_text(re.compile(r"^Report"))
    report.click()
    expect(page.locator("h1")).to_have_text("Report a comment")
    page.get_by_role("button", name="Send report").click()
    expect(page.locator("#id_reason_error")).to_have_text("Please choose a reason.")
    assert target.reports.count() == 0
    page.get_by_label("Abuse or harassment").check()
    page.get_by_role("button", name="Send report").click()
    expect(page).to_have_url(re.compile(rf"#comment-{target.pk}$"))
    reported = comment_li(page, target.pk).locator("> .comment-body .comment-report-button")
    expect(reported).to_have_text("Reported")
    expect(reported).to_be_disabled()
    expect(page.locator("ul.messages")).to_contain_text("A moderator will look at this comment")
    assert list(target.reports.values_list("reason", flat=True)) == ["abuse"]


@pytest.mark.parametrize("width", [1280, 375])
def test_screenshot_of_a_deep_thread(new_page, live_server, deep_article, screenshot_dir, width):
    """Saved for a person to look at; asserts the deepest text keeps most of a phone's width."""
    page = new_page(viewport={"width": width, "height": 800})
    page.goto(deep_article.get_absolute_url())
    path = screenshot_dir / f"deep-thread-{width}.png"
    page.screenshot(path=path, full_page=True)
    detail = screenshot_dir / f"deep-thread-{width}-levels-3-to-6.png"
    comment_li(page, deep_article.chain[2].pk).screenshot(path=detail)
    print(f"\nscreenshots: {path} {detail}")
    deepest = box(comment_li(page, deep_article.chain[-1].pk).locator("> .comment-body"))
    top = box(comment_li(page, deep_article.chain[0].pk).locator("> .comment-body"))
    assert deepest["width"] >= 0.7 * top["width"]
    no_overflow = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_overflow, "the page scrolls sideways"


def test_closed_article_shows_no_form(page, live_server):
    article = ArticleFactory(comments_open=False)
    CommentFactory(article=article)
    page.goto(article.get_absolute_url())
    expect(page.locator(".comments-closed")).to_have_text("Comments are closed.")
    expect(page.locator("#comment-form")).to_have_count(0)
