"""Following a discussion in Chromium: an anonymous reader follows from the article page,
confirms from the email (double opt-in), hears of a new comment, unsubscribes in one click
(twice); a moderator reads the email preview. The follow pages pass axe-core."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from playwright.sync_api import expect

from comments import moderation
from comments.models import Comment, Follow
from tests.browser.conftest import axe_violations
from tests.factories import ArticleFactory, CommentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def path_in(message, name):
    url = next(u for u in re.findall(r"http://\S+", message.body) if name in u)
    return url.removeprefix(settings.SITE_URL)


def test_an_anonymous_reader_follows_confirms_hears_and_unsubscribes(new_page, screenshot_dir):
    article = ArticleFactory(title="Should the library open on Sundays?")
    CommentFactory(article=article, author_name="Margaret Osei", body="Yes, please.")
    page = new_page(bypass_csp=True)  # axe-core is injected as a script
    page.goto(article.get_absolute_url())
    form = page.locator("#follow-form")
    expect(form.get_by_role("heading")).to_have_text("Follow this discussion")
    form.get_by_label("Email").fill("fan@example.org")
    form.get_by_label("Daily digest").check()
    form.get_by_label("Instantly").check()
    form.screenshot(path=screenshot_dir / "follow-form.png")
    form.get_by_role("button", name="Follow").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")
    assert not Follow.objects.exists()

    page.goto(path_in(mail.outbox[-1], "/follow/confirm/"))
    expect(page.locator("h1")).to_have_text("Confirm your follow")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("h1")).to_have_text("You follow this discussion")
    page.screenshot(path=screenshot_dir / "follow-confirmed.png", full_page=True)
    assert Follow.objects.get().email == "fan@example.org"

    comment = CommentFactory(article=article, status=Comment.Status.PENDING, body="New!")
    mail.outbox.clear()
    moderation.approve([comment])  # the live server's thread commits at once
    [message] = mail.outbox
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = path_in(message, "/follow/unsubscribe/")
    for _attempt in range(2):
        page.goto(unsubscribe)
        expect(page.locator("h1")).to_have_text("You are unsubscribed")
        expect(page.locator("main, body").first).to_contain_text(article.title)
    assert not Follow.objects.exists()


def test_a_moderator_reads_the_email_preview(new_page, live_server, screenshot_dir):
    from django.test import Client

    moderator = UserFactory(username="mod", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(moderator)
    page = new_page()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.goto(reverse("admin:comments_follow_changelist"))
    page.get_by_role("link", name="Email preview").click()
    digest = page.locator("section.email-preview", has=page.locator("h2", has_text="digest.txt"))
    expect(digest.locator("pre")).to_contain_text("2 new comments")
    expect(digest).to_contain_text("List-Unsubscribe=One-Click")
    page.screenshot(path=screenshot_dir / "email-preview.png", full_page=False)
