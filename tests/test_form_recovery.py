"""A refused comment post never strands the reader: an expired form, a stale CSRF token,
a flood refusal, a reload and a reply on a later comments page all come back to a form
that keeps the text and can be sent again."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from comments.forms import timestamp_age
from comments.models import Comment
from tests.conftest import aged_timestamp
from tests.factories import CommentFactory
from tests.html import NS, comment_ids, parse, text_of

pytestmark = pytest.mark.django_db

EXPIRED = "This form has expired, please submit again."
SESSION_EXPIRED = "Your session had expired; please submit again."


@pytest.fixture(autouse=True)
def _rules(settings):
    settings.COMMENTS_FORM_MAX_AGE_SECONDS = 7200
    settings.COMMENTS_MIN_SUBMIT_SECONDS = 2
    settings.COMMENTS_FLOOD_SECONDS = 0


def post_url(article, query=""):
    return reverse("comments:post", args=[article.slug]) + query


def comment_form(response):
    form = parse(response).find(".//h:form[@id='comment-form']", NS)
    assert form is not None, "no comment form on the page"
    return form


def form_values(response):
    """What a browser sends when the reader clicks "Post Comment" on this page again."""
    form = comment_form(response)
    values = {}
    for field in form.iter(f"{{{NS['h']}}}input"):
        name = field.get("name")
        if name and (field.get("type") != "checkbox" or field.get("checked") is not None):
            values[name] = field.get("value") or ""
    for area in form.iter(f"{{{NS['h']}}}textarea"):
        values[area.get("name")] = "".join(area.itertext())
    return values


def error_summary(response):
    summary = parse(response).find(".//h:div[@id='comment-form-errors']", NS)
    assert summary is not None, "no error summary"
    return text_of(summary)


# --- an expired form ---------------------------------------------------------------------
def test_an_expired_form_is_refused_with_the_text_kept_and_a_fresh_time(
    client, article, comment_data
):
    response = client.post(
        post_url(article), comment_data(body="Typed over lunch.", timestamp=aged_timestamp(8000))
    )
    assert response.status_code == 400
    assert EXPIRED in error_summary(response)
    values = form_values(response)
    assert values["body"] == "Typed over lunch."
    age = timestamp_age(values["timestamp"])
    assert age is not None and age < 60  # signed now, not 8,000 seconds ago


def test_the_re_displayed_expired_form_posts_at_once_and_is_not_spam(client, article, comment_data):
    refused = client.post(
        post_url(article), comment_data(body="Second try.", timestamp=aged_timestamp(8000))
    )
    response = client.post(post_url(article), form_values(refused))  # the immediate click
    assert response.status_code == 303
    comment = Comment.objects.get()
    assert comment.body == "Second try."
    assert comment.status != Comment.Status.SPAM, comment.moderation_reason


def test_a_still_valid_form_time_is_re_displayed_as_posted(client, article, comment_data):
    """The "too fast" rule keeps counting from when the reader first saw the form."""
    timestamp = aged_timestamp(60)
    response = client.post(post_url(article), comment_data(body="", timestamp=timestamp))
    assert response.status_code == 400
    assert form_values(response)["timestamp"] == timestamp


def test_a_forged_form_time_earns_no_credit_when_re_displayed(client, article, comment_data):
    """Only a reader who really spent the time gets a form dated back."""
    response = client.post(post_url(article), comment_data(body="", timestamp="forged"))
    assert response.status_code == 400
    again = client.post(post_url(article), form_values(response) | {"body": "Bot text."})
    assert again.status_code == 303
    assert Comment.objects.get().status == Comment.Status.SPAM  # too fast


# --- a stale CSRF token --------------------------------------------------------------------
def test_a_stale_csrf_token_keeps_the_text_and_gives_a_working_token(article, comment_data):
    reader = Client(enforce_csrf_checks=True)
    reader.get(article.get_absolute_url())  # the CSRF cookie
    stale = "x" * 64  # e.g. a token from before a login in another tab
    data = comment_data(body="Written before logging in elsewhere.", csrfmiddlewaretoken=stale)
    response = reader.post(post_url(article), data)
    assert response.status_code == 403
    assert SESSION_EXPIRED in error_summary(response)
    values = form_values(response)
    assert values["body"] == "Written before logging in elsewhere."
    assert values["csrfmiddlewaretoken"] not in ("", stale)
    assert not Comment.objects.exists()
    again = reader.post(post_url(article), values)
    assert again.status_code == 303
    assert Comment.objects.get().body == "Written before logging in elsewhere."


def test_a_missing_csrf_cookie_keeps_the_text_and_sets_a_new_one(article, comment_data):
    """A page served from a cache, posted by a browser that never got the cookie."""
    reader = Client(enforce_csrf_checks=True)
    response = reader.post(post_url(article), comment_data(body="No cookie yet."))
    assert response.status_code == 403
    values = form_values(response)
    assert values["body"] == "No cookie yet."
    assert reader.cookies.get("csrftoken") is not None
    assert reader.post(post_url(article), values).status_code == 303


def test_a_foreign_origin_gets_the_sites_403_page_without_the_text(article, comment_data):
    """A cross-site post is not the reader's own stale form: nothing is echoed back."""
    reader = Client(enforce_csrf_checks=True)
    reader.get(article.get_absolute_url())
    response = reader.post(
        post_url(article),
        comment_data(body="Planted by another site."),
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "Planted by another site." not in response.content.decode()
    doc = parse(response)
    assert text_of(doc.find(".//h:h1", NS)) == "Please send the form again"
    assert doc.find(".//h:header[@class='site-header']", NS) is not None  # the site's look


def test_a_csrf_failure_elsewhere_gets_the_sites_403_page(db):
    response = Client(enforce_csrf_checks=True).post(
        reverse("admin:login"), {"username": "a", "password": "b"}
    )
    assert response.status_code == 403
    assert text_of(parse(response).find(".//h:h1", NS)) == "Please send the form again"


# --- flood: how long to wait -------------------------------------------------------------
def test_a_flood_refusal_says_how_long_to_wait_and_sends_retry_after(
    client, article, comment_data, settings
):
    settings.COMMENTS_FLOOD_SECONDS = 15
    assert client.post(post_url(article), comment_data(body="First.")).status_code == 303
    response = client.post(post_url(article), comment_data(body="Too soon."))
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 15
    assert f"Please wait {wait} seconds before posting again." in error_summary(response)
    assert form_values(response)["body"] == "Too soon."


# --- where the answer lands, and reloading it ----------------------------------------------
def test_the_form_posts_to_its_error_summary(client, article):
    """The browser opens a refused post's answer at the summary, JavaScript or not."""
    action = comment_form(client.get(article.get_absolute_url())).get("action")
    assert action == f"{post_url(article)}#comment-form-errors"


@pytest.mark.parametrize(
    ("overrides", "status"), [({"body": ""}, 400), ({"timestamp": aged_timestamp(9000)}, 400)]
)
def test_the_error_summary_can_take_the_focus(client, article, comment_data, overrides, status):
    response = client.post(post_url(article), comment_data(**overrides))
    assert response.status_code == status
    summary = parse(response).find(".//h:div[@id='comment-form-errors']", NS)
    assert summary.get("tabindex") == "-1"
    assert summary.get("autofocus") is not None


def test_a_get_of_the_post_address_goes_back_to_the_form_on_the_same_page(client, article):
    """Reload or Back on a refused post's address: the form again, never a 405."""
    response = client.get(post_url(article, "?cpage=2&csort=newest"))
    assert response.status_code in (302, 303)
    assert response["Location"] == f"{article.get_absolute_url()}?cpage=2&csort=newest#respond"


def test_a_get_of_the_post_address_of_an_unknown_article_is_404(client, db):
    assert client.get(reverse("comments:post", args=["no-such-article"])).status_code == 404


# --- replying on a later comments page ------------------------------------------------------
@pytest.fixture
def two_pages(article, settings):
    """Three threads, one per page."""
    settings.COMMENTS_THREADS_PER_PAGE = 1
    return [CommentFactory(article=article, author_name=f"Root {n}") for n in range(3)]


def reply_href(response, comment):
    link = parse(response).find(
        f".//h:li[@id='comment-{comment.pk}']//h:a[@class='comment-reply-link']", NS
    )
    return link.get("href")


def test_a_reply_link_on_a_later_page_keeps_the_page(client, article, two_pages):
    response = client.get(f"{article.get_absolute_url()}?cpage=2")
    target = two_pages[1]
    assert reply_href(response, target) == (
        f"{article.get_absolute_url()}?cpage=2&replyto={target.pk}#respond"
    )


def test_a_reply_link_keeps_the_sort_too(client, article, two_pages):
    response = client.get(f"{article.get_absolute_url()}?cpage=2&csort=newest")
    target = two_pages[1]
    assert reply_href(response, target) == (
        f"{article.get_absolute_url()}?cpage=2&csort=newest&replyto={target.pk}#respond"
    )
    first = client.get(article.get_absolute_url())  # page 1, oldest first: nothing to keep
    assert reply_href(first, two_pages[0]) == (
        f"{article.get_absolute_url()}?replyto={two_pages[0].pk}#respond"
    )


def test_following_a_reply_link_on_a_later_page_shows_the_comment_and_the_form(
    client, article, two_pages
):
    target = two_pages[1]
    response = client.get(f"{article.get_absolute_url()}?cpage=2&replyto={target.pk}")
    assert response.status_code == 200
    doc = parse(response)
    assert comment_ids(doc) == [f"comment-{target.pk}"]
    respond = doc.find(".//h:section[@id='respond']", NS)
    assert text_of(respond.find("h:h2", NS)) == f"Replying to {target.author_name}"
    assert respond.find(".//h:input[@name='parent']", NS).get("value") == str(target.pk)
    assert comment_form(response).get("action") == (
        f"{post_url(article)}?cpage=2#comment-form-errors"
    )


def test_a_refused_reply_shows_the_same_comments_page_again(
    client, article, two_pages, comment_data
):
    target = two_pages[1]
    response = client.post(
        post_url(article, "?cpage=2"), comment_data(body="", parent=str(target.pk))
    )
    assert response.status_code == 400
    assert comment_ids(parse(response)) == [f"comment-{target.pk}"]
    assert re.search(r"\?cpage=2#", comment_form(response).get("action"))
