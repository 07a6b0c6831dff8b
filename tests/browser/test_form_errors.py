"""A refused comment post opens at its error summary, focused, on a long article at phone
and desktop widths, with and without JavaScript; with JavaScript a reload shows the page
again instead of re-sending the form."""

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from comments.models import Comment
from tests.browser.conftest import vnu_errors
from tests.conftest import aged_timestamp
from tests.factories import ArticleFactory, CommentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READER = {"name": "Grace Browser", "email": "grace@example.org"}
VIEWPORTS = {"375": {"width": 375, "height": 812}, "1280": {"width": 1280, "height": 800}}
PARAGRAPH = (
    "The council's plan for the riverside has been argued over for a decade, and this "
    "comment, like the others, goes on long enough to wrap over several lines on a phone."
)


@pytest.fixture
def long_article(db):
    """A long article whose 30 long comments put the form thousands of pixels down."""
    article = ArticleFactory(
        title="The riverside park, argued in full",
        body="\n\n".join([PARAGRAPH] * 12),
    )
    for number in range(30):
        CommentFactory(
            article=article,
            author_name=f"Long reader {number}",
            body="\n\n".join([f"Point {number}. {PARAGRAPH}"] * 3),
        )
    return article


def fill_and_post(page, body):
    """Fill the form as a reader and click Post Comment; the POST's response."""
    page.fill("#id_name", READER["name"])
    page.fill("#id_email", READER["email"])
    page.fill("#id_body", body)
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name="Post Comment").click()
    page.wait_for_load_state()
    return answer.value


def prepare(case, article, settings, page):
    """Set up ``case`` and return (body to post, expected status)."""
    if case == "empty":
        return "", 400
    if case == "duplicate":
        CommentFactory(article=article, author_email=READER["email"], body="Said it before.")
        return "Said it before.", 409
    settings.COMMENTS_FLOOD_SECONDS = 120  # "flood": a first post, then one too soon
    assert fill_and_post(page, "My first word.").status == 303
    return "And a second one, too soon.", 429


def assert_summary_in_view_and_focused(page):
    summary = page.locator("#comment-form-errors")
    expect(summary).to_be_visible()
    expect(summary).to_be_in_viewport(ratio=1)  # all of it
    expect(summary).to_be_focused()
    assert page.evaluate("document.activeElement.id") == "comment-form-errors"


@pytest.mark.parametrize("case", ["empty", "duplicate", "flood"])
@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_refused_post_opens_at_its_focused_error_summary(
    new_page, live_server, long_article, browser_settings, screenshot_dir, case, width, javascript
):
    page = new_page(viewport=VIEWPORTS[width], java_script_enabled=javascript)
    page.goto(long_article.get_absolute_url())
    assert page.evaluate("document.documentElement.scrollHeight") > 4 * VIEWPORTS[width]["height"]
    body, status = prepare(case, long_article, browser_settings, page)
    comments_before = Comment.objects.count()

    answer = fill_and_post(page, body)

    assert answer.status == status
    assert_summary_in_view_and_focused(page)
    expect(page.locator("#id_body")).to_have_value(body)  # the text is kept
    if case == "flood":
        assert int(answer.headers["retry-after"]) > 0
        expect(page.locator("#comment-form-errors")).to_contain_text("Please wait")
    js = "js" if javascript else "no-js"
    path = screenshot_dir / f"form-error-{case}-{width}-{js}.png"
    page.screenshot(path=path)
    print(f"\nscreenshot: {path}")
    assert Comment.objects.count() == comments_before
    assert page.js_errors == []


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_with_javascript_a_reload_after_an_error_gets_the_page_not_a_resend(
    new_page, live_server, long_article, browser_settings, width
):
    page = new_page(viewport=VIEWPORTS[width])
    page.goto(long_article.get_absolute_url())
    CommentFactory(article=long_article, author_email=READER["email"], body="Said it before.")
    assert fill_and_post(page, "Said it before.").status == 409
    assert page.url == f"{live_server.url}{long_article.get_absolute_url()}#respond"
    comments_before = Comment.objects.count()

    methods = []

    def record(request):
        if request.is_navigation_request():
            methods.append(request.method)

    page.on("request", record)
    page.reload()

    assert methods == ["GET"]
    assert Comment.objects.count() == comments_before
    expect(page.locator("#comment-form-errors")).to_have_count(0)
    expect(page.locator("#respond")).to_be_in_viewport()
    assert page.js_errors == []


def test_an_expired_form_posts_with_the_second_click(
    new_page, live_server, long_article, browser_settings
):
    """The form was open for longer than COMMENTS_FORM_MAX_AGE_SECONDS: refused once,
    then the same click posts (and the "too fast" rule lets it through)."""
    browser_settings.COMMENTS_MIN_SUBMIT_SECONDS = 2
    page = new_page(viewport=VIEWPORTS["375"], java_script_enabled=False)
    page.goto(long_article.get_absolute_url())
    page.locator("input[name=timestamp]").evaluate(
        "(input, value) => { input.value = value; }", aged_timestamp(9000)
    )  # as if the page had been open since this morning
    assert fill_and_post(page, "Written slowly.").status == 400
    assert_summary_in_view_and_focused(page)
    expect(page.locator("#comment-form-errors")).to_contain_text("This form has expired")

    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.get_by_role("button", name="Post Comment").click()
    assert answer.value.status == 303
    comment = Comment.objects.get(body="Written slowly.")
    assert comment.status != Comment.Status.SPAM, comment.moderation_reason


def test_the_pages_a_refused_post_leads_to_are_valid_html(long_article, comment_data):
    post_url = reverse("comments:post", args=[long_article.slug])
    expired = Client().post(post_url, comment_data(timestamp=aged_timestamp(9000)))
    stale = Client(enforce_csrf_checks=True).post(post_url, comment_data())
    elsewhere = Client(enforce_csrf_checks=True).post(reverse("admin:login"), {})
    assert (expired.status_code, stale.status_code, elsewhere.status_code) == (400, 403, 403)
    documents = {
        "expired-form": expired.content.decode(),
        "csrf-failure-comment": stale.content.decode(),
        "csrf-failure-elsewhere": elsewhere.content.decode(),
    }
    errors = vnu_errors(documents)
    assert errors == {}, "\n".join(
        f"{kind}: {message}" for kind, messages in errors.items() for message in messages
    )
