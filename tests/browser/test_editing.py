"""Editing one's own comment in a real Chromium: the edit page's actions, and the
confirmation shown where the page lands, at the comment."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from comments.models import Comment
from tests.factories import CommentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READER = {"name": "Edith Editor", "email": "edith@example.org"}
WIDTHS = {1280: 900, 375: 740}
FOUR_LINKS = "Links: https://a.example/ https://b.example/ https://c.example/ https://d.example/"


def box(locator):
    bounds = locator.bounding_box()
    assert bounds is not None, "element is not rendered"
    return bounds


def apart(first, second, *, gap=8):
    """True when the two boxes are at least ``gap`` px apart (side by side or stacked)."""
    return (
        first["x"] + first["width"] + gap <= second["x"]
        or second["x"] + second["width"] + gap <= first["x"]
        or first["y"] + first["height"] + gap <= second["y"]
        or second["y"] + second["height"] + gap <= first["y"]
    )


def font_family(locator):
    return locator.evaluate("element => getComputedStyle(element).fontFamily")


def post_own_reply(page, article, parent):
    """Reply deep in the thread as a reader with an approved history: approved at once."""
    CommentFactory(author_email=READER["email"], status=Comment.Status.APPROVED)
    page.goto(f"{article.get_absolute_url()}?replyto={parent.pk}#respond")
    page.fill("#id_body", "Original wording of my reply.")
    page.fill("#id_name", READER["name"])
    page.fill("#id_email", READER["email"])
    page.get_by_role("button", name="Post Comment").click()
    expect(page).to_have_url(re.compile(r"#comment-\d+$"))
    reply = Comment.objects.order_by("-pk").first()
    assert reply.status == Comment.Status.APPROVED
    return reply


def ui_font(page):
    """The site's UI font, as the navigation uses it."""
    return font_family(page.locator(".site-nav ul"))


@pytest.mark.parametrize("width", list(WIDTHS))
def test_edit_page_actions_are_spaced_in_the_ui_font_and_the_confirmation_is_at_the_comment(
    new_page, live_server, deep_article, screenshot_dir, width
):
    page = new_page(viewport={"width": width, "height": WIDTHS[width]})
    reply = post_own_reply(page, deep_article, deep_article.chain[3])
    page.locator(f"li#comment-{reply.pk} .comment-edit-link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit your comment")

    save = page.get_by_role("button", name="Save")
    cancel = page.get_by_role("link", name="Cancel")
    assert apart(box(save), box(cancel)), "Save and Cancel are not apart"
    for action in (save, cancel):
        family = font_family(action)
        assert family == ui_font(page)
        assert "sans-serif" in family and "Georgia" not in family
    page.screenshot(path=screenshot_dir / f"edit-page-{width}.png")

    page.fill("#id_body", "Better wording of my reply.")
    save.click()
    expect(page).to_have_url(re.compile(rf"#comment-{reply.pk}$"))
    notice = page.locator(f"li#comment-{reply.pk} > article > .comment-notice")
    expect(notice).to_have_text("Your comment was updated.")
    expect(notice).to_be_in_viewport()
    expect(page.locator(".messages")).to_have_count(0)
    page.screenshot(path=screenshot_dir / f"edit-saved-{width}.png")
    print(f"\nscreenshots: {screenshot_dir}/edit-page-{width}.png edit-saved-{width}.png")
    assert page.js_errors == []


@pytest.mark.parametrize("width", list(WIDTHS))
def test_held_edit_is_announced_at_the_comment_without_javascript(
    new_page, live_server, deep_article, screenshot_dir, width
):
    page = new_page(viewport={"width": width, "height": WIDTHS[width]}, java_script_enabled=False)
    reply = post_own_reply(page, deep_article, deep_article.chain[3])
    page.goto(reverse("comments:edit", args=[reply.pk]))
    page.fill("#id_body", FOUR_LINKS)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"#comment-{reply.pk}$"))
    notice = page.locator(f"li#comment-{reply.pk} > article > .comment-notice")
    expect(notice).to_have_text("Your edit is awaiting moderation.")
    expect(notice).to_be_in_viewport()
    expect(page.locator(".messages")).to_have_count(0)
    page.screenshot(path=screenshot_dir / f"edit-held-nojs-{width}.png")
    reply.refresh_from_db()
    assert reply.status == Comment.Status.PENDING


@pytest.mark.parametrize("width", list(WIDTHS))
def test_withdraw_page_actions_are_spaced_in_the_ui_font(
    new_page, live_server, deep_article, screenshot_dir, width
):
    page = new_page(viewport={"width": width, "height": WIDTHS[width]})
    reply = post_own_reply(page, deep_article, deep_article.chain[3])
    page.goto(reverse("comments:withdraw", args=[reply.pk]))
    withdraw = page.get_by_role("button", name="Withdraw comment")
    keep = page.get_by_role("link", name="Keep it")
    assert apart(box(withdraw), box(keep)), "Withdraw and Keep it are not apart"
    for action in (withdraw, keep):
        assert font_family(action) == ui_font(page)
    page.screenshot(path=screenshot_dir / f"withdraw-page-{width}.png")
