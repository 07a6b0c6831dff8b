"""A comment posted by a reader without a CSRF cookie (the form came from the edge cache,
with no token) is accepted only when the browser says it comes from this site
(``Sec-Fetch-Site: same-origin``, or an ``Origin`` Django trusts when the browser sends
no Sec-Fetch-Site): site_config/csrf.py. Everything else keeps Django's full check:
other views, readers with a cookie or a session, cross-site posts."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from comments.models import Comment
from tests.factories import CommentFactory
from tests.html import NS, parse

pytestmark = pytest.mark.django_db

SAME_ORIGIN = {"sec-fetch-site": "same-origin"}
OWN_ORIGIN = "http://testserver"  # the test client's host


@pytest.fixture(autouse=True)
def _rules(settings):
    settings.COMMENTS_MIN_SUBMIT_SECONDS = 0
    settings.COMMENTS_FLOOD_SECONDS = 0


def post_url(article):
    return reverse("comments:post", args=[article.slug])


def post(article, data, headers=None, cookies=None):
    """A comment post from a browser with no cookie but ``cookies``."""
    reader = Client(enforce_csrf_checks=True)
    for name, value in (cookies or {}).items():
        reader.cookies[name] = value
    return reader, reader.post(post_url(article), data, headers=headers or {})


def form_body(response):
    form = parse(response).find(".//h:form[@id='comment-form']", NS)
    return form.find(".//h:textarea[@name='body']", NS).text


def test_a_cookieless_comment_from_this_sites_page_is_accepted(article, comment_data):
    """Sec-Fetch-Site: same-origin, no cookie, no token: the comment lands (303)."""
    _reader, response = post(article, comment_data(body="First visit."), SAME_ORIGIN)
    assert response.status_code == 303
    assert Comment.objects.get().body == "First visit."


def test_without_sec_fetch_site_a_matching_origin_is_enough(article, comment_data, settings):
    """An older browser sends Origin only: this host, or a CSRF_TRUSTED_ORIGINS entry."""
    _reader, response = post(article, comment_data(body="Origin only."), {"origin": OWN_ORIGIN})
    assert response.status_code == 303
    settings.CSRF_TRUSTED_ORIGINS = ["https://www.example.org"]
    _reader, response = post(
        article, comment_data(body="Trusted origin."), {"origin": "https://www.example.org"}
    )
    assert response.status_code == 303
    assert sorted(Comment.objects.values_list("body", flat=True)) == [
        "Origin only.",
        "Trusted origin.",
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},  # another subdomain may be anyone's
        {"sec-fetch-site": "none"},
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site", "origin": OWN_ORIGIN},
        {"sec-fetch-site": "same-origin", "origin": "https://evil.example"},
    ],
)
def test_a_cross_site_cookieless_post_is_refused(article, comment_data, headers):
    """What another site's page can send is refused (403, nothing stored), where the
    same post from this site's page is accepted."""
    _reader, response = post(article, comment_data(body="Planted."), headers)
    assert response.status_code == 403
    assert not Comment.objects.exists()
    _reader, response = post(article, comment_data(body="Mine."), SAME_ORIGIN)
    assert response.status_code == 303
    assert Comment.objects.get().body == "Mine."


def test_neither_header_gets_the_form_back_with_the_text_and_a_cookie(article, comment_data):
    """No Sec-Fetch-Site and no Origin: refused as before (the form with the text kept
    and a CSRF cookie, so sending again works); the browser's header would have done."""
    reader, response = post(article, comment_data(body="Kept for later."))
    assert response.status_code == 403
    assert form_body(response).strip() == "Kept for later."
    assert reader.cookies.get(settings.CSRF_COOKIE_NAME) is not None
    assert not Comment.objects.exists()
    _reader, response = post(article, comment_data(body="Kept for later."), SAME_ORIGIN)
    assert response.status_code == 303


def test_other_views_keep_the_full_check(article, comment_data):
    """A cookie-less post with Sec-Fetch-Site: same-origin to any other view (reactions,
    following, the language chooser, account pages, sign-in) is refused; the comment
    view takes it."""
    comment = CommentFactory(article=article)
    urls = [
        reverse("comments:react", args=[comment.pk]),
        reverse("comments:follow", args=[article.slug]),
        reverse("comments:report", args=[comment.pk]),
        reverse("set_language"),
        reverse("comments:account"),
        reverse("account_login"),
    ]
    for url in urls:
        response = Client(enforce_csrf_checks=True).post(
            url, {"email": "a@example.org", "language": "de"}, headers=SAME_ORIGIN
        )
        assert response.status_code == 403, url
    _reader, response = post(article, comment_data(), SAME_ORIGIN)
    assert response.status_code == 303


def test_a_reader_with_a_cookie_or_a_session_keeps_the_token_check(article, comment_data):
    """A CSRF cookie with a wrong token, or a session cookie without a CSRF cookie: the
    browser's headers don't stand in for the token (403); without them the same post
    is taken."""
    for cookies in (
        {settings.CSRF_COOKIE_NAME: "a" * 32},
        {settings.CSRF_COOKIE_NAME: "not a secret"},
        {settings.SESSION_COOKIE_NAME: "abc"},
    ):
        # A well-formed token of another secret ("b" * 64 would unmask to "a" * 32).
        data = comment_data(body="Wrong token.", csrfmiddlewaretoken="b" * 32 + "c" * 32)
        _reader, response = post(article, data, SAME_ORIGIN, cookies=cookies)
        assert response.status_code == 403, cookies
    assert not Comment.objects.exists()
    _reader, response = post(article, comment_data(body="No cookie."), SAME_ORIGIN)
    assert response.status_code == 303


def test_the_deploy_checks_want_a_csrf_middleware_django_s_or_the_sites(settings):
    """Django's security.W003 (silenced: it knows its own class by name only) is held by
    threadpress.W002 for Django's middleware and any subclass of it."""
    from django.core import checks

    def warnings():
        found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
        shown = {message.id for message in found} - set(settings.SILENCED_SYSTEM_CHECKS)
        return shown & {"threadpress.W002", "security.W003"}

    assert warnings() == set()
    site = settings.MIDDLEWARE
    settings.MIDDLEWARE = [path for path in site if not path.endswith(".CsrfViewMiddleware")]
    assert warnings() == {"threadpress.W002"}
    settings.MIDDLEWARE = [
        "django.middleware.csrf.CsrfViewMiddleware"
        if path == "site_config.csrf.CsrfViewMiddleware"
        else path
        for path in site
    ]
    assert warnings() == set()
