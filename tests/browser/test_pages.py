"""Every public page type is valid HTML (Nu Html Checker) and has no WCAG 2.1 A/AA
violations (axe-core in Chromium)."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, vnu_errors
from tests.factories import ArticleFactory, CommentFactory

PAGE_TYPES = ["home", "article", "reply-no-js", "closed", "form-errors", "not-found"]


@pytest.fixture
def closed_article(db):
    article = ArticleFactory(title="An old story", comments_open=False)
    CommentFactory(article=article, author_name="Early reader")
    return article


def page_url(kind, deep_article, closed_article):
    """The URL to open for ``kind`` (the form-errors page is reached by a POST)."""
    return {
        "home": reverse("articles:list"),
        "article": deep_article.get_absolute_url(),
        "reply-no-js": f"{deep_article.get_absolute_url()}?replyto={deep_article.chain[2].pk}",
        "closed": closed_article.get_absolute_url(),
        "form-errors": deep_article.get_absolute_url(),
        "not-found": "/no-such-page/",
    }[kind]


def secondary_pages(client, article, comment_data):
    """Pages a reader meets less often: edit and withdraw their comment, report one,
    unsubscribe, and the admin login lockout."""
    from comments.notifications import unsubscribe_token

    posted = client.post(reverse("comments:post", args=[article.slug]), comment_data())
    assert posted.status_code == 303
    own = article.comments.order_by("-pk").first()
    pages = {
        "edit": client.get(reverse("comments:edit", args=[own.pk])),
        "edit-errors": client.post(reverse("comments:edit", args=[own.pk]), {"body": ""}),
        "withdraw": client.get(reverse("comments:withdraw", args=[own.pk])),
        "report": client.get(reverse("comments:report", args=[article.chain[0].pk])),
        "report-errors": client.post(
            reverse("comments:report", args=[article.chain[0].pk]), {"reason": "illegal"}
        ),
        "unsubscribed": client.get(
            reverse("comments:unsubscribe", args=[unsubscribe_token(article.chain[0])])
        ),
    }
    for attempt in range(5):
        pages["lockout"] = client.post(
            reverse("admin:login"), {"username": "nobody", "password": f"wrong{attempt}"}
        )
    expected = {"edit-errors": 400, "report-errors": 400, "lockout": 429}
    for name, response in pages.items():
        assert response.status_code == expected.get(name, 200), name
    return {name: response.content.decode() for name, response in pages.items()}


@pytest.mark.browser
@pytest.mark.django_db
def test_every_public_page_type_is_valid_html(client, deep_article, closed_article, comment_data):
    documents = {}
    for kind in PAGE_TYPES:
        url = page_url(kind, deep_article, closed_article)
        if kind == "form-errors":
            post_url = reverse("comments:post", args=[deep_article.slug])
            response = client.post(post_url, comment_data(body=""))
            assert response.status_code == 400
        else:
            response = client.get(url)
            assert response.status_code == (404 if kind == "not-found" else 200)
        documents[kind] = response.content.decode()
    documents.update(secondary_pages(client, deep_article, comment_data))
    errors = vnu_errors(documents)
    assert errors == {}, "\n".join(
        f"{kind}: {message}" for kind, messages in errors.items() for message in messages
    )


@pytest.mark.browser
@pytest.mark.django_db
def test_every_demo_article_page_is_valid_html(client):
    """The demo's Markdown bodies (``##`` and ``###`` headings under the page's h1) and
    discussions, checked by the pinned Nu Html Checker: no skipped heading level."""
    from io import StringIO

    from django.core.management import call_command

    from articles.models import Article

    call_command("seed_demo", stdout=StringIO())
    documents = {}
    for article in Article.objects.published():
        response = client.get(article.get_absolute_url())
        assert response.status_code == 200
        documents[article.slug] = response.content.decode()
    assert len(documents) >= 10
    errors = vnu_errors(documents)
    assert errors == {}, "\n".join(
        f"{slug}: {message}" for slug, messages in errors.items() for message in messages
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("kind", PAGE_TYPES)
def test_page_type_has_no_accessibility_violations(
    new_page, live_server, deep_article, closed_article, kind, javascript
):
    # axe is injected as an inline script, which the site's CSP (rightly) forbids.
    page = new_page(bypass_csp=True, java_script_enabled=True)
    if not javascript:
        # Without the reply script: what a reader with JavaScript off gets (axe itself
        # still needs JavaScript, so the site's script is blocked instead).
        page.route("**/comments.js", lambda route: route.abort())
    page.goto(page_url(kind, deep_article, closed_article))
    if kind == "form-errors":
        page.fill("#id_name", "Ada")
        page.get_by_role("button", name="Post Comment").click()
        page.wait_for_selector("#id_body_error")
    if kind == "article" and javascript:
        # The reply form moved under a deep comment is part of the page too.
        page.locator(f"#comment-{deep_article.chain[4].pk} .comment-reply-link").first.click()
        page.wait_for_selector(f"#comment-{deep_article.chain[4].pk} > #respond")
    violations = axe_violations(page)
    assert violations == [], "\n".join(violations)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_focus_is_visible_on_links_and_controls(page, live_server, deep_article):
    page.goto(deep_article.get_absolute_url())
    for selector in (".comment-reply-link", ".comment-report-button", "#id_body", ".button"):
        element = page.locator(selector).first
        element.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
        outline = element.evaluate(
            "el => el === document.activeElement && getComputedStyle(el).outlineStyle"
        )
        assert outline not in (False, "none"), f"no visible focus on {selector}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_page_reflows_at_200_percent_zoom(new_page, live_server, deep_article):
    """200 % zoom on a 1280 px screen is a 640 CSS px viewport: nothing scrolls sideways."""
    page = new_page(viewport={"width": 640, "height": 450}, device_scale_factor=2)
    page.goto(deep_article.get_absolute_url())
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_reduced_motion_turns_off_animations(new_page, live_server, deep_article):
    page = new_page(reduced_motion="reduce")
    page.goto(deep_article.get_absolute_url())
    durations = page.evaluate(
        "[...document.querySelectorAll('*')].map(el => getComputedStyle(el))"
        ".flatMap(s => [s.animationName, s.transitionDuration])"
    )
    assert set(durations) <= {"none", "0s"}


@pytest.mark.browser
def test_the_checkers_catch_known_faults(browser):
    """The page checks above can fail: a known-bad page trips both tools."""
    bad = (
        '<!DOCTYPE html><html lang="en"><head><title>Bad</title></head><body>'
        '<main><ol><div>not a list item</div></ol><input type="text">'
        '<p style="color:#bbb;background:#fff">low contrast</p></main></body></html>'
    )
    errors = vnu_errors({"bad": bad})
    assert any("not allowed as child of element “ol”" in message for message in errors["bad"])
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(bad)
        rules = {line.split(" ", 1)[0] for line in axe_violations(page)}
    finally:
        context.close()
    assert {"list", "label", "color-contrast"} <= rules


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_thread_is_exposed_as_nested_lists(page, live_server, deep_article):
    """Screen readers announce each level: a list item holding a list of replies."""
    page.goto(deep_article.get_absolute_url())
    chain = deep_article.chain
    for depth, comment in enumerate(chain, start=1):
        item = page.locator(f"#comment-{comment.pk}")
        expect(item).to_have_role("listitem")
        lists = item.locator("xpath=ancestor::ol")
        expect(lists).to_have_count(depth)
        if depth < len(chain):
            expect(item.locator("> ol.children")).to_have_role("list")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_own_comment_pages_have_no_accessibility_violations(new_page, live_server, deep_article):
    page = new_page(bypass_csp=True)
    page.goto(deep_article.get_absolute_url())
    page.fill("#id_body", "My own words.")
    page.fill("#id_name", "Ada")
    page.fill("#id_email", "ada@example.org")
    page.get_by_role("button", name="Post Comment").click()
    own = page.locator("li.comment.pending")
    expect(own).to_be_visible()
    assert axe_violations(page) == []  # the article with the reader's pending comment
    own.get_by_role("link", name="Edit").click()
    page.fill("#id_body", "")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#id_body_error")).to_be_visible()
    assert axe_violations(page) == []
    page.goto(deep_article.get_absolute_url())
    page.locator("li.comment.pending").get_by_role("link", name="Withdraw").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Withdraw your comment?")
    assert axe_violations(page) == []
