"""A reader's own data in Chromium: a signed-in reader downloads their data as a JSON
file; a reader asks for an erasure, confirms it from the emailed link, and once the
grace period has passed (moved in the database) and ``run_erasures`` has run, sees
"Comment deleted by its author." in the thread with the reply kept; the new pages pass
the Nu Html Checker and axe-core."""

import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from comments.models import ErasureRequest
from tests.browser.conftest import axe_violations, vnu_errors
from tests.factories import ArticleFactory, CommentFactory
from tests.test_accounts import make_reader

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADA = "ada@example.org"


@pytest.fixture
def discussion(db):
    article = ArticleFactory(title="Should the library open on Sundays?")
    first = CommentFactory(
        article=article,
        author_name="Ada Lovelace",
        author_email=ADA,
        body="Sunday is the only day many families can go together.",
        ip_address="198.51.100.23",
    )
    reply = CommentFactory(
        article=article,
        parent=first,
        author_name="Tom Becker",
        body="Agreed, and the reading room is full on Saturdays already.",
    )
    return article, first, reply


def _signed_in(new_page, live_server, user):
    client = Client()
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    page = new_page(bypass_csp=True, accept_downloads=True)
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


def test_a_signed_in_reader_downloads_their_data(new_page, live_server, discussion):
    _, first, _ = discussion
    user = make_reader(ADA, name="Ada Lovelace")
    page = _signed_in(new_page, live_server, user)

    page.goto(live_server.url + reverse("comments:account"))
    page.get_by_role("link", name="Download or erase everything we store about you").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your data")
    assert axe_violations(page) == []
    with page.expect_download() as info:
        page.get_by_role("link", name="Download your data").click()
    download = info.value
    assert download.suggested_filename.endswith(".json")
    with open(download.path(), encoding="utf-8") as file:
        data = json.load(file)
    assert [c["id"] for c in data["comments"]] == [first.pk]
    assert data["ip_addresses"] == ["198.51.100.23"]


def test_an_erasure_after_the_grace_period_leaves_a_placeholder(
    new_page, live_server, discussion, screenshot_dir
):
    article, first, reply = discussion
    page = new_page(bypass_csp=True)
    page.goto(live_server.url + reverse("comments:privacy"))
    form_html = page.content()
    assert axe_violations(page) == []
    page.get_by_label("Email address").fill(ADA)
    page.get_by_role("button", name="Email me a link to erase my data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")

    link = re.search(r"https?://\S+", mail.outbox[-1].body).group(0)
    page.goto(live_server.url + link.removeprefix(settings.SITE_URL))
    confirm_html = page.content()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Erase my data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your data will be erased")
    waiting_html = page.content()
    assert axe_violations(page) == []
    page.screenshot(path=str(screenshot_dir / "privacy-erasure-waiting.png"), full_page=True)

    # Time moves on: the grace period has passed.
    ErasureRequest.objects.update(execute_after=timezone.now() - timedelta(minutes=1))
    call_command("run_erasures")

    page.goto(live_server.url + article.get_absolute_url())
    placeholder = page.locator(f"#comment-{first.pk}")
    expect(placeholder.locator(".comment-removed--erased").first).to_have_text(
        "Comment deleted by its author."
    )
    expect(page.locator(f"#comment-{first.pk} #comment-{reply.pk}")).to_be_visible()
    expect(page.get_by_text("Ada Lovelace")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "privacy-erased-thread.png"), full_page=True)

    assert (
        vnu_errors(
            {
                "your data": form_html,
                "confirm erasure": confirm_html,
                "erasure waiting": waiting_html,
            }
        )
        == {}
    )
