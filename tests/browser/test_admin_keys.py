"""The moderation desk works from the keyboard, in Chromium, for a moderator (the
Moderators group, no superuser rights): j/k select comments in the queue, a/s/r/f post
the queue's own actions for the selected one, n opens the next pending comment, ? shows
the keys and Esc closes them, and nothing happens while the moderator types."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from comments.models import Comment, Commenter, RemovalReason
from tests.browser.conftest import axe_violations, moderators_group
from tests.factories import CommentFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Status = Comment.Status
PASSWORD = "correct horse battery staple"
QUEUE = reverse("admin:comments_comment_changelist")


def change_url(comment):
    return reverse("admin:comments_comment_change", args=[comment.pk])


@pytest.fixture
def moderator(db):
    user = StaffFactory(username="keyboard-moderator")
    user.groups.add(moderators_group())
    return user


@pytest.fixture
def queue(db):
    """Four pending comments, in the queue's order (highest priority first)."""
    now = timezone.now()
    made = [
        CommentFactory(status=Status.PENDING, body="Three readers reported me.", report_count=3),
        CommentFactory(
            status=Status.PENDING,
            body="See https://a.example https://b.example https://c.example",
            moderation_reason="held: 3 links",
        ),
        CommentFactory(
            status=Status.PENDING,
            body="I have waited three hours.",
            created_at=now - timedelta(hours=3),
        ),
        CommentFactory(status=Status.PENDING, body="Just posted.", created_at=now),
    ]
    # Commenters with a record, so only the ingredients above tell the comments apart.
    Commenter.objects.update(approved_count=2)
    return made


def log_in(page, moderator, then=QUEUE):
    page.goto(f"/admin/login/?next={then}")
    page.fill("#id_username", moderator.username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name=re.compile("log in", re.IGNORECASE)).click()
    expect(page.locator("#user-tools")).to_contain_text(re.compile("log out", re.IGNORECASE))
    page.wait_for_load_state()  # the keys listen from DOMContentLoaded on


def expect_comment_page(page, comment):
    """On ``comment``'s page, loaded (its keys listen from DOMContentLoaded on)."""
    expect(page).to_have_url(re.compile(re.escape(change_url(comment)) + "$"))
    page.wait_for_load_state()


def status_of(comment):
    comment.refresh_from_db()
    return comment.status


def selected_row(page):
    return page.locator("#result_list tbody tr.comments-keys-current")


def row(page, comment):
    return page.locator("#result_list tbody tr").filter(
        has=page.locator(f"input.action-select[value='{comment.pk}']")
    )


def test_j_and_k_select_a_row_and_a_then_s_act_on_it(page, moderator, queue):
    top, second, third, _last = queue
    log_in(page, moderator)
    rows = page.locator("#result_list tbody tr")
    expect(rows.first).to_contain_text("Three readers reported me.")
    expect(selected_row(page)).to_have_count(0)

    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(row(page, second)).to_have_class(re.compile("comments-keys-current"))
    page.keyboard.press("k")
    expect(row(page, top)).to_have_class(re.compile("comments-keys-current"))
    expect(row(page, top)).to_have_attribute("aria-current", "true")
    expect(row(page, top)).to_be_focused()
    expect(selected_row(page)).to_have_count(1)

    page.keyboard.press("a")
    expect(page.locator(".messagelist")).to_contain_text("1 comment was approved.")
    assert status_of(top) == Status.APPROVED
    assert top.moderated_by == moderator
    # The selection stays in its place, on the comment that moved up into it.
    expect(row(page, second)).to_have_class(re.compile("comments-keys-current"))

    page.keyboard.press("s")
    expect(page.locator(".messagelist")).to_contain_text("1 comment was marked as spam.")
    assert status_of(second) == Status.SPAM
    expect(row(page, third)).to_have_class(re.compile("comments-keys-current"))


def test_keys_do_nothing_while_typing_or_with_a_modifier(page, moderator, queue):
    top = queue[0]
    log_in(page, moderator)
    page.keyboard.press("j")
    search = page.locator("#searchbar")
    search.click()
    page.keyboard.type("a")
    page.keyboard.press("s")
    page.keyboard.press("n")
    expect(search).to_have_value("asn")
    page.locator("#content h1").click()  # out of the field: Ctrl+A selects text, no more
    page.keyboard.press("Control+a")
    page.wait_for_timeout(300)
    assert page.url.endswith(QUEUE)
    assert status_of(top) == Status.PENDING


def test_n_opens_the_next_pending_comment_and_j_k_walk_the_queue(page, moderator, queue):
    top, second, third, _last = queue
    log_in(page, moderator)
    page.keyboard.press("n")
    expect_comment_page(page, top)
    page.keyboard.press("j")
    expect_comment_page(page, second)
    page.keyboard.press("k")
    expect_comment_page(page, top)

    # a approves and opens the next pending comment in the queue's order.
    page.keyboard.press("a")
    expect_comment_page(page, second)
    assert status_of(top) == Status.APPROVED
    page.keyboard.press("s")
    expect_comment_page(page, third)
    assert status_of(second) == Status.SPAM
    page.keyboard.press("n")
    expect_comment_page(page, queue[3])


def test_question_mark_shows_the_keys_and_escape_closes_them(page, moderator, queue):
    log_in(page, moderator)
    help_dialog = page.locator("#comments-keys-help")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("?")
    expect(help_dialog).to_be_visible()
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    expect(help_dialog).to_contain_text("Approve the selected comment")
    # The dialog is modal: a key inside it runs nothing behind it.
    page.keyboard.press("j")
    expect(selected_row(page)).to_have_count(0)
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    # Its button opens it too, and "Close" closes it.
    page.get_by_role("button", name=re.compile("Keyboard shortcuts")).click()
    expect(help_dialog).to_be_visible()
    help_dialog.get_by_role("button", name="Close").click()
    expect(help_dialog).to_be_hidden()

    page.goto(change_url(queue[0]))
    expect_comment_page(page, queue[0])
    page.keyboard.press("?")
    expect(help_dialog).to_contain_text("Approve, and open the next pending comment")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()


def test_r_asks_for_the_reason_before_removing(page, moderator, queue):
    top, second = queue[0], queue[1]
    log_in(page, moderator)
    page.keyboard.press("j")
    page.keyboard.press("r")
    expect(page.locator("h1")).to_have_text("Why remove this comment?")
    assert status_of(top) == Status.PENDING
    page.select_option("#id_removal_reason", RemovalReason.OFF_TOPIC)
    page.get_by_role("button", name="Remove with this reason").click()
    expect(page.locator(".messagelist")).to_contain_text("1 comment was removed.")
    top.refresh_from_db()
    assert (top.status, top.removal_reason) == (Status.REMOVED, RemovalReason.OFF_TOPIC)

    # On a comment's page, r points at the Remove button's reason; Enter there removes.
    page.goto(change_url(second))
    page.keyboard.press("r")
    expect(page.locator("#id_removal_reason")).to_be_focused()
    page.wait_for_timeout(300)
    assert status_of(second) == Status.PENDING
    page.keyboard.press("a")  # typed into the field: "abuse", nothing approved
    page.keyboard.press("Enter")
    expect(page.locator(".messagelist")).to_contain_text("1 comment was removed.")
    second.refresh_from_db()
    assert (second.status, second.removal_reason) == (Status.REMOVED, RemovalReason.ABUSE)


def test_f_features_the_selected_comment(page, moderator, db):
    pick = CommentFactory(status=Status.APPROVED, body="The best comment of the day.")
    other = CommentFactory(status=Status.APPROVED, body="A good one too.")
    log_in(page, moderator, then=f"{QUEUE}?status=approved")
    row(page, pick).click(position={"x": 5, "y": 5})  # a click selects a row too
    expect(row(page, pick)).to_have_class(re.compile("comments-keys-current"))
    page.keyboard.press("f")
    expect(page.locator(".messagelist")).to_be_visible()
    pick.refresh_from_db()
    assert pick.featured_at is not None and pick.featured_by == moderator

    page.goto(change_url(other))
    page.keyboard.press("f")
    expect(page.locator(".messagelist")).to_be_visible()
    other.refresh_from_db()
    assert other.featured_at is not None


def test_without_javascript_the_queue_and_its_links_still_work(new_page, moderator, queue):
    page = new_page(java_script_enabled=False)
    log_in(page, moderator)
    expect(page.get_by_role("button", name=re.compile("Keyboard shortcuts"))).to_be_hidden()
    page.get_by_role("link", name="Open the first pending comment").click()
    expect_comment_page(page, queue[0])
    page.get_by_role("link", name="Next in queue ›").click()
    expect_comment_page(page, queue[1])
    page.get_by_role("button", name="Approve and open next pending").click()
    expect_comment_page(page, queue[2])
    assert status_of(queue[1]) == Status.APPROVED


def violations(page):
    """axe-core's findings, but two of Django's admin: the "By article" filter's select2
    combobox, which its autocomplete widget leaves without an accessible name, and the
    breadcrumbs' links, coloured like the trail's text around them."""
    return [
        line
        for line in axe_violations(page)
        if "select2" not in line and not line.startswith("link-in-text-block")
    ]


def test_the_queue_and_the_keys_help_pass_axe(new_page, moderator, queue):
    """WCAG 2.1 A/AA (axe-core): the queue with a row selected, a comment's page, each
    with the help dialog open."""
    page = new_page(bypass_csp=True)  # axe-core is injected as an inline script
    log_in(page, moderator)
    page.keyboard.press("j")
    expect(selected_row(page)).to_have_count(1)
    assert violations(page) == []
    page.keyboard.press("?")
    expect(page.locator("#comments-keys-help")).to_be_visible()
    assert violations(page) == []

    page.goto(change_url(queue[0]))
    expect_comment_page(page, queue[0])
    assert violations(page) == []
    page.keyboard.press("?")
    expect(page.locator("#comments-keys-help")).to_be_visible()
    assert violations(page) == []
