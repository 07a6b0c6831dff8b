"""New since your last visit, in Chromium. An anonymous reader's visits are kept by their
browser (nothing reaches the server): the first visit marks nothing, comments posted
after it are marked on the next visit ("2 new comments since your last visit"), a reload
keeps the marks, and n goes from one new comment to the next. A signed-in reader's
previous visit comes from the server, the same on every device."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from comments import visits
from comments.models import ArticleVisit, Comment
from tests.factories import ArticleFactory, CommentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 375]


@pytest.fixture
def article(db):
    article = ArticleFactory(
        title="The tram line goes ahead",
        body="The city signed the contract on Monday.\n\nWork starts in March.",
    )
    first = CommentFactory(
        article=article,
        author_name="Ada Brenner",
        body="Finally. I have waited ten years for this.",
        created_at=timezone.now() - timedelta(days=1),
    )
    CommentFactory(
        article=article,
        parent=first,
        author_name="Tom Ruiz",
        body="Ten years and the budget doubled.",
        created_at=timezone.now() - timedelta(hours=20),
    )
    CommentFactory(
        article=article,
        author_name="Mia Kowalski",
        body="Will the line reach the hospital?",
        created_at=timezone.now() - timedelta(hours=5),
    )
    return article


def focused_comment(page):
    return page.evaluate(
        "() => { const li = document.activeElement.closest('li.comment'); return li && li.id; }"
    )


def new_ids(page):
    return page.eval_on_selector_all("li.comment-new", "items => items.map(li => li.id)")


@pytest.mark.parametrize("width", WIDTHS)
def test_an_anonymous_reader_sees_what_was_posted_since_their_last_visit(
    new_page, live_server, article, screenshot_dir, width
):
    page = new_page(viewport={"width": width, "height": 900})
    now = timezone.now()
    page.clock.install(time=now)
    line = page.locator("#comments-new")

    page.goto(article.get_absolute_url())  # the first visit marks nothing
    page.wait_for_load_state()
    expect(line).to_be_hidden()
    assert new_ids(page) == []

    # While the reader is away, two replies come (posted after their visit).
    first_thread = Comment.objects.get(author_name="Ada Brenner")
    late = CommentFactory(
        article=article,
        parent=first_thread,
        author_name="Jon Weber",
        body="The hospital stop is in phase two.",
        created_at=now + timedelta(minutes=5),
    )
    later = CommentFactory(
        article=article,
        author_name="Eva Lind",
        body="Phase two has no date yet.",
        created_at=now + timedelta(minutes=10),
    )

    page.clock.set_system_time(now + timedelta(hours=2))  # back two hours later
    page.reload()
    page.wait_for_load_state()
    expect(line).to_be_visible()
    expect(line).to_contain_text("2 new comments since your last visit")
    assert new_ids(page) == [f"comment-{late.pk}", f"comment-{later.pk}"]
    label = page.locator(f"li#comment-{late.pk} .comment-new-label")
    expect(label).to_have_text("new")
    expect(page.locator(f"li#comment-{late.pk} > article")).to_have_accessible_name("new Jon Weber")
    page.screenshot(path=screenshot_dir / f"new-since-visit-{width}.png", full_page=True)

    # A reload a minute later is the same visit: the marks stay.
    page.clock.set_system_time(now + timedelta(hours=2, minutes=1))
    page.reload()
    page.wait_for_load_state()
    expect(line).to_contain_text("2 new comments since your last visit")

    # n goes from one new comment to the next, then says there are no more.
    page.keyboard.press("n")
    assert focused_comment(page) == f"comment-{late.pk}"
    page.keyboard.press("n")
    assert focused_comment(page) == f"comment-{later.pk}"
    page.keyboard.press("n")
    assert focused_comment(page) == f"comment-{later.pk}"
    expect(page.locator("#thread-keys-status")).to_have_text("No more new comments on this page.")

    assert not ArticleVisit.objects.exists()  # nothing of it reached the server
    assert page.js_errors == []


def test_the_next_new_button_does_what_n_does_and_opens_a_folded_list(
    new_page, live_server, article
):
    page = new_page()
    now = timezone.now()
    page.clock.install(time=now)
    page.goto(article.get_absolute_url())
    first_thread = Comment.objects.get(author_name="Ada Brenner")
    page.locator(f"li#comment-{first_thread.pk} > button.thread-toggle").click()  # folded
    reply = CommentFactory(
        article=article, parent=first_thread, created_at=now + timedelta(minutes=1)
    )
    page.clock.set_system_time(now + timedelta(hours=1))
    page.reload()
    page.wait_for_load_state()
    expect(page.locator("#comments-new")).to_contain_text("1 new comment since your last visit")
    expect(page.locator(f"li#comment-{reply.pk}")).to_be_hidden()
    page.get_by_role("button", name="Next new comment").click()
    expect(page.locator(f"li#comment-{reply.pk}")).to_be_visible()
    assert focused_comment(page) == f"comment-{reply.pk}"


def signed_in_page(new_page, live_server, user, **context_options):
    """A page in a browser of its own (a device) holding a session of ``user``."""
    client = Client()
    client.force_login(user)
    page = new_page(**context_options)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return page


def test_a_signed_in_reader_sees_the_same_new_comments_on_every_device(
    new_page, live_server, article
):
    reader = UserFactory(username="tram-reader")
    visits.record_visit(user=reader, article=article, now=timezone.now() - timedelta(hours=3))
    fresh = [
        CommentFactory(article=article, created_at=timezone.now() - timedelta(hours=2)),
        CommentFactory(article=article, created_at=timezone.now() - timedelta(hours=1)),
    ]
    phone = signed_in_page(new_page, live_server, reader, viewport={"width": 375, "height": 800})
    laptop = signed_in_page(new_page, live_server, reader)
    for device in (phone, laptop):  # the laptop comes within the same visit
        device.goto(article.get_absolute_url())
        device.wait_for_load_state()
        expect(device.locator("#comments-new")).to_contain_text(
            "2 new comments since your last visit"
        )
        assert new_ids(device) == [f"comment-{comment.pk}" for comment in fresh]
        # The server keeps these visits: the browser's storage is left alone.
        stored = device.evaluate("() => Object.keys(localStorage)")
        assert not [key for key in stored if key.startswith("threadpress:visit:")]
    assert ArticleVisit.objects.get(user=reader, article=article).previous_visit_at is not None
