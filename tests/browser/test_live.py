"""Live updates in Chromium: a comment approved while the page is open brings the button
"1 new comment — show"; clicking it inserts the comment in its place (a reply under its
parent, a new thread at the end) without a reload and says so in the polite status
region. A hidden tab stops asking; without JavaScript no button shows. The page with
the button shown passes the Nu Html Checker and axe-core."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, vnu_errors
from tests.factories import ArticleFactory, CommentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fast_polling(browser_settings):
    browser_settings.COMMENTS_LIVE_POLL_SECONDS = 1
    return browser_settings


@pytest.fixture
def discussion(db):
    article = ArticleFactory(title="The tram line goes ahead", body="Work starts in March.")
    first = CommentFactory(
        article=article,
        author_name="Ada Brenner",
        body="Finally. I have waited ten years for this.",
        created_at=timezone.now() - timedelta(hours=2),
    )
    return article, first


def test_a_new_reply_and_a_new_thread_appear_in_their_places_after_the_button(
    page, fast_polling, discussion, screenshot_dir
):
    article, first = discussion
    page.goto(article.get_absolute_url())
    button = page.locator("#comments-live .comments-live-show")
    expect(button).to_be_hidden()
    reply = CommentFactory(
        article=article, parent=first, author_name="Tom Ruiz", body="And the budget doubled."
    )
    thread = CommentFactory(article=article, author_name="Mia Kowalski", body="The hospital?")
    expect(button).to_be_visible()
    expect(button).to_have_text("2 new comments — show")
    assert page.locator(f"#comment-{reply.pk}").count() == 0
    page.screenshot(path=screenshot_dir / "live-button.png")
    button.click()
    expect(page.locator(f"#replies-{first.pk} > li#comment-{reply.pk}")).to_contain_text(
        "And the budget doubled."
    )
    expect(page.locator(f"ol.comment-list > li#comment-{thread.pk}")).to_be_visible()
    assert page.eval_on_selector_all(
        "ol.comment-list > li.comment", "items => items.map(li => li.id)"
    ) == [f"comment-{first.pk}", f"comment-{thread.pk}"]
    expect(page.locator("#comments-live [aria-live='polite']")).to_have_text("2 new comments shown")
    expect(button).to_be_hidden()
    page.screenshot(path=screenshot_dir / "live-shown.png")


def test_a_hidden_tab_pauses_polling_and_asks_again_when_shown(page, fast_polling, discussion):
    article, _first = discussion
    page.goto(article.get_absolute_url())
    box = page.locator("#comments-live")
    expect(box).to_have_attribute("data-state", "polling")
    page.evaluate(
        """() => {
        Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }"""
    )
    expect(box).to_have_attribute("data-state", "paused")
    CommentFactory(article=article, body="Posted while the tab was hidden.")
    page.wait_for_timeout(2500)  # several intervals: a paused page asks nothing
    expect(page.locator("#comments-live .comments-live-show")).to_be_hidden()
    page.evaluate(
        """() => {
        Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }"""
    )
    expect(page.locator("#comments-live .comments-live-show")).to_have_text("1 new comment — show")


def test_polling_stops_on_an_article_quiet_for_a_day(page, fast_polling):
    article = ArticleFactory(published_at=timezone.now() - timedelta(days=5))
    CommentFactory(article=article, created_at=timezone.now() - timedelta(days=3))
    page.goto(article.get_absolute_url())
    expect(page.locator("#comments-live")).to_have_attribute("data-state", "stopped")


def test_without_javascript_no_button_shows(new_page, fast_polling, discussion):
    article, first = discussion
    page = new_page(java_script_enabled=False)
    page.goto(article.get_absolute_url())
    CommentFactory(article=article, parent=first, body="A reply nobody polls for.")
    page.wait_for_timeout(1500)
    expect(page.locator("#comments-live .comments-live-show")).to_be_hidden()


def test_the_page_with_the_live_button_shown_is_valid_and_accessible(
    new_page, fast_polling, discussion
):
    article, first = discussion
    page = new_page(bypass_csp=True)  # axe is injected as an inline script
    page.goto(article.get_absolute_url())
    CommentFactory(article=article, parent=first, body="A reply while you read.")
    expect(page.locator("#comments-live .comments-live-show")).to_be_visible()
    shown_dom = page.content()
    assert axe_violations(page) == []
    page.locator("#comments-live .comments-live-show").click()
    expect(page.locator("#comments-live [aria-live='polite']")).to_have_text("1 new comment shown")
    assert axe_violations(page) == []
    page.evaluate("() => document.querySelectorAll('script:not([src])').forEach(s => s.remove())")
    inserted_dom = page.content()  # without axe's inline script
    assert (
        vnu_errors(
            {
                "the button shown": shown_dom,
                "the comment inserted": inserted_dom,
                "as served": Client().get(article.get_absolute_url()).content.decode(),
            }
        )
        == {}
    )
