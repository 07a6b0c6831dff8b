"""Reader accounts in a real Chromium: sign up, verify the address from the email (the
live server runs in this process, so its mail lands in ``mail.outbox``), sign in, post
without name or email, and reach the profile from the comment; at a desktop and a phone
width. The account pages are valid HTML (Nu Html Checker) with no WCAG 2.1 A/AA
violations (axe-core)."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from comments.models import Comment
from tests.browser.conftest import axe_violations, vnu_errors
from tests.factories import ArticleFactory, CommentFactory
from tests.test_accounts import PASSWORD, link_in, make_reader

pytestmark = pytest.mark.browser

WIDTHS = {1280: 900, 375: 740}


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_reader_signs_up_verifies_posts_and_their_name_links_their_profile(
    new_page, live_server, browser_settings, screenshot_dir, width
):
    browser_settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False  # shown at once
    article = ArticleFactory(title="Council approves the riverside park")
    page = new_page(viewport={"width": width, "height": WIDTHS[width]})

    # The comment form offers an account; signing up comes back to the article.
    page.goto(article.get_absolute_url())
    page.locator(".comment-account").get_by_role("link", name="Create one").click()
    expect(page.locator("h1")).to_have_text("Sign Up")
    page.get_by_label("Display name").fill("Ada Reader")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    assert no_sideways_scroll(page)
    page.screenshot(path=screenshot_dir / f"reader-signup-{width}.png", full_page=True)
    page.get_by_role("button", name="Sign Up").click()
    expect(page.locator("h1")).to_have_text("Verify Your Email Address")

    # The link in the email confirms the address; then the reader signs in.
    page.goto(link_in(mail.outbox[-1], "/accounts/confirm-email/"))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("h1")).to_have_text("Sign In")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".messages")).to_contain_text("Ada Reader")

    # Signed in: the form asks for the comment alone.
    page.goto(article.get_absolute_url())
    expect(page.locator(".logged-in-as")).to_contain_text("Signed in as Ada Reader")
    expect(page.locator("#id_name")).to_have_count(0)
    expect(page.locator("#id_email")).to_have_count(0)
    page.fill("#id_body", "A park by the river is the best use of that land.")
    page.get_by_role("button", name="Post Comment").click()
    expect(page).to_have_url(re.compile(r"#comment-\d+$"))
    comment = Comment.objects.get()
    assert (comment.author_name, comment.author_email) == ("Ada Reader", "ada@example.org")
    author = page.locator(f"#comment-author-{comment.pk} a")
    expect(author).to_have_text("Ada Reader")
    assert no_sideways_scroll(page)

    author.click()
    expect(page.locator("h1")).to_have_text("Ada Reader")
    expect(page.locator(".profile-comment")).to_contain_text(
        "A park by the river is the best use of that land."
    )
    assert no_sideways_scroll(page)
    page.screenshot(path=screenshot_dir / f"reader-profile-{width}.png", full_page=True)
    assert page.js_errors == []


def signed_in_context_cookie(user, live_server):
    client = Client()
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    name = "sessionid"
    return {"name": name, "value": client.cookies[name].value, "url": live_server.url}


def account_pages(article, reader):
    """Every account page a reader meets: ``{name: (path, needs to be signed in)}``."""
    return {
        "sign-in": (reverse("account_login"), False),
        "sign-up": (reverse("account_signup"), False),
        "password-reset": (reverse("account_reset_password"), False),
        "verification-sent": (reverse("account_email_verification_sent"), False),
        "profile": (reverse("comments:profile", args=[reader.reader_profile.pk]), False),
        "article-account-required": (article.get_absolute_url(), False),
        "settings": (reverse("comments:account"), True),
        "email": (reverse("account_email"), True),
        "password-change": (reverse("account_change_password"), True),
        "sign-out": (reverse("account_logout"), True),
        "article-signed-in": (article.get_absolute_url(), True),
    }


@pytest.fixture
def reader_with_comments(db):
    reader = make_reader()
    article = ArticleFactory(title="River park")
    for n in range(3):
        CommentFactory(
            article=article,
            user=reader,
            author_name="Ada Reader",
            author_email=reader.email,
            body=f"Comment {n} on the park, long enough to wrap on a phone screen.",
        )
    return article, reader


@pytest.mark.django_db
def test_account_pages_are_valid_html(client, settings, reader_with_comments):
    settings.COMMENTS_REQUIRE_ACCOUNT = True
    article, reader = reader_with_comments
    signed_in = Client()
    signed_in.force_login(reader, backend="allauth.account.auth_backends.AuthenticationBackend")
    documents = {}
    for name, (path, needs_account) in account_pages(article, reader).items():
        response = (signed_in if needs_account else client).get(path)
        assert response.status_code == 200, name
        documents[name] = response.content.decode()
    # Refused forms, with their errors.
    documents["sign-up-errors"] = client.post(
        reverse("account_signup"), {"email": "not an address", "password1": "x"}
    ).content.decode()
    documents["sign-in-errors"] = client.post(
        reverse("account_login"), {"login": "ada@example.org", "password": "wrong"}
    ).content.decode()
    errors = vnu_errors(documents)
    assert errors == {}, "\n".join(
        f"{name}: {message}" for name, messages in errors.items() for message in messages
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "name",
    [
        "sign-in",
        "sign-up",
        "sign-up-errors",
        "profile",
        "settings",
        "email",
        "article-account-required",
        "article-signed-in",
    ],
)
def test_account_pages_have_no_accessibility_violations(
    new_page, live_server, browser_settings, reader_with_comments, name
):
    browser_settings.COMMENTS_REQUIRE_ACCOUNT = True
    article, reader = reader_with_comments
    pages = account_pages(article, reader) | {"sign-up-errors": (reverse("account_signup"), False)}
    path, needs_account = pages[name]
    # axe is injected as an inline script, which the site's CSP (rightly) forbids.
    page = new_page(bypass_csp=True)
    if needs_account:
        page.context.add_cookies([signed_in_context_cookie(reader, live_server)])
    page.goto(path)
    if name == "sign-up-errors":
        page.get_by_label("Email").fill("not an address")
        page.get_by_role("button", name="Sign Up").click()
        expect(page.locator(".form-errors")).to_be_visible()
    violations = axe_violations(page)
    assert violations == [], "\n".join(violations)
