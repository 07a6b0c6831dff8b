"""Reactions in Chromium: the "Respect" button toggles without a reload (aria-pressed and
the count follow), works without JavaScript (the form goes back to the comment), asks an
anonymous reader to sign in, and the page passes the Nu Html Checker and axe-core."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from comments.models import Comment, Reaction
from tests.browser.conftest import axe_violations, vnu_errors
from tests.factories import ArticleFactory, CommentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def discussion(db):
    article = ArticleFactory(
        title="Should the library open on Sundays?",
        body="The council asks readers before it decides.\n\nThe vote is next month.",
    )
    first = CommentFactory(
        article=article,
        author_name="Margaret Osei",
        body="Sunday is the only day many families can go together. Yes, please.",
    )
    CommentFactory(
        article=article,
        parent=first,
        author_name="Tom Becker",
        body="Agreed, and the reading room is full on Saturdays already.",
    )
    CommentFactory(
        article=article,
        author_name="Lena Fischer",
        body="Who pays the staff? I'd like to see the numbers first.",
    )
    return article, first


def signed_in_page(new_page, live_server, username="reader", **context_options):
    """A page whose browser holds a signed-in reader's session."""
    user = UserFactory(username=username)
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
    return page, user


@pytest.mark.parametrize("width", [1280, 375])
def test_a_click_respects_a_comment_without_a_reload_and_a_second_takes_it_back(
    new_page, live_server, discussion, screenshot_dir, width
):
    article, first = discussion
    page, user = signed_in_page(new_page, live_server, viewport={"width": width, "height": 900})
    page.goto(article.get_absolute_url())
    page.evaluate("window.__notReloaded = true")
    button = page.locator(f"li#comment-{first.pk} > article button.comment-reaction")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_role("button", name="Respect: 0").first).to_be_visible()

    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button.locator(".comment-reaction-count")).to_have_text("1")
    expect(button).to_have_accessible_name("Respect: 1")
    assert page.evaluate("window.__notReloaded") is True
    assert Reaction.objects.filter(comment=first, user=user).count() == 1
    page.locator(f"li#comment-{first.pk}").screenshot(
        path=screenshot_dir / f"reaction-pressed-{width}.png"
    )

    button.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button.locator(".comment-reaction-count")).to_have_text("0")
    assert page.evaluate("window.__notReloaded") is True
    assert not Reaction.objects.exists()
    assert page.js_errors == []


def test_the_keyboard_reacts_too(new_page, live_server, discussion):
    article, first = discussion
    page, _user = signed_in_page(new_page, live_server)
    page.goto(article.get_absolute_url())
    button = page.locator(f"li#comment-{first.pk} > article button.comment-reaction")
    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Space")
    expect(button).to_have_attribute("aria-pressed", "false")
    assert Comment.objects.get(pk=first.pk).reaction_count == 0


def test_without_javascript_the_form_reacts_and_returns_to_the_comment(
    new_page, live_server, discussion, screenshot_dir
):
    article, first = discussion
    page, user = signed_in_page(new_page, live_server, java_script_enabled=False)
    page.goto(article.get_absolute_url())
    page.locator(f"li#comment-{first.pk} > article button.comment-reaction").click()
    page.wait_for_url(f"**{article.get_absolute_url()}#comment-{first.pk}")
    button = page.locator(f"li#comment-{first.pk} > article button.comment-reaction")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button.locator(".comment-reaction-count")).to_have_text("1")
    assert Reaction.objects.filter(comment=first, user=user).exists()
    page.screenshot(path=screenshot_dir / "reaction-no-javascript.png")


def test_an_anonymous_reader_is_asked_to_sign_in_beside_the_button(
    new_page, live_server, discussion, screenshot_dir
):
    article, first = discussion
    page = new_page()
    page.goto(article.get_absolute_url())
    page.locator(f"li#comment-{first.pk} > article button.comment-reaction").click()
    link = page.locator(f"li#comment-{first.pk} .comment-reaction-note a")
    expect(link).to_have_text("Sign in to react to comments.")
    assert "next=" in link.get_attribute("href")
    assert not Reaction.objects.exists()
    page.locator(f"li#comment-{first.pk}").screenshot(path=screenshot_dir / "reaction-sign-in.png")
    assert page.js_errors == []


def test_the_article_page_with_reaction_buttons_is_valid_and_accessible(
    new_page, live_server, discussion
):
    article, first = discussion
    # axe is injected as an inline script, which the site's CSP (rightly) forbids.
    reader, user = signed_in_page(new_page, live_server, bypass_csp=True)
    reader.goto(article.get_absolute_url())
    reader.locator(f"li#comment-{first.pk} > article button.comment-reaction").click()
    expect(reader.locator("button.comment-reaction[aria-pressed='true']")).to_have_count(1)
    pressed_dom = reader.content()  # the DOM after the script's click, before axe joins it
    anonymous = new_page(bypass_csp=True)
    anonymous.goto(article.get_absolute_url() + "?csort=reactions")
    assert axe_violations(reader) == []
    assert axe_violations(anonymous) == []
    reader_client = Client()
    reader_client.force_login(user)
    documents = {
        "signed in, a pressed button": pressed_dom,
        "signed in, as served": reader_client.get(article.get_absolute_url()).content.decode(),
        "anonymous, most reactions first": Client()
        .get(article.get_absolute_url() + "?csort=reactions")
        .content.decode(),
    }
    assert 'aria-pressed="true"' in documents["signed in, as served"]
    assert vnu_errors(documents) == {}
