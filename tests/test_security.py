"""Security: production headers, deploy checks, CSRF, hostile URLs, private data,
admin login throttling and request size limits."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from comments.models import Comment
from tests.html import NS, parse

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


@pytest.fixture
def production(settings):
    """The shipped defaults for debug off (test settings only turn the HTTPS redirect off)."""
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["news.example.com"]
    return settings


def csp_directives(response):
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


# --- Headers of a real response --------------------------------------------------------


def test_plain_http_is_redirected_to_https(client, production, article):
    response = client.get(article.get_absolute_url(), headers={"host": "news.example.com"})
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://news.example.com{article.get_absolute_url()}"


def test_https_response_carries_the_security_headers(client, production, article):
    response = client.get(
        article.get_absolute_url(), secure=True, headers={"host": "news.example.com"}
    )
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = csp_directives(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert not any("unsafe" in value for values in csp.values() for value in values)


def test_pages_need_no_inline_script_or_style(client, article, comment_factory):
    """The CSP forbids inline code, so the page must not rely on any."""
    comment_factory(article=article)
    doc = parse(client.get(article.get_absolute_url()))
    scripts = doc.findall(".//h:script", NS)
    assert scripts, "the reply script should be loaded"
    assert all(script.get("src") and not (script.text or "").strip() for script in scripts)
    assert doc.findall(".//h:style", NS) == []
    for element in doc.iter():
        attributes = [name for name in element.attrib if isinstance(name, str)]
        assert "style" not in attributes, element.tag
        assert not [name for name in attributes if name.lower().startswith("on")], element.tag


def test_cookies_are_secure_and_http_only(client, production, article, comment_data, settings):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = True
    host = {"host": "news.example.com"}
    page = client.get(article.get_absolute_url(), secure=True, headers=host)
    posted = client.post(
        reverse("comments:post", args=[article.slug]),
        comment_data(remember="on"),
        secure=True,
        headers=host,
    )
    assert posted.status_code == 303
    cookies = {**page.cookies, **posted.cookies}
    assert {"csrftoken", "sessionid", "comment_author"} <= set(cookies)
    for name in ("csrftoken", "sessionid", "comment_author"):
        assert cookies[name]["secure"] is True, name
        assert cookies[name]["httponly"] is True, name
        assert cookies[name]["samesite"] == "Lax", name


def test_production_settings_pass_the_deploy_checks():
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "site_config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "news.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "site_config.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


# --- CSRF on every POST ------------------------------------------------------------------


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def _post_endpoints(article, comment):
    return {
        "comment post": reverse("comments:post", args=[article.slug]),
        "report": reverse("comments:report", args=[comment.pk]),
        "edit": reverse("comments:edit", args=[comment.pk]),
        "withdraw": reverse("comments:withdraw", args=[comment.pk]),
        "admin login": reverse("admin:login"),
        "admin action": reverse("admin:comments_comment_changelist"),
    }


def test_every_post_without_a_csrf_token_is_refused(
    csrf_client, article, comment_factory, comment_data, superuser
):
    comment = comment_factory(article=article)
    data = {
        **comment_data(),
        "username": superuser.username,
        "password": PASSWORD,
        "action": "approve_selected",
        "_selected_action": [comment.pk],
    }
    for name, url in _post_endpoints(article, comment).items():
        if name == "admin action":
            csrf_client.force_login(superuser)
        response = csrf_client.post(url, data)
        assert response.status_code == 403, name
    assert Comment.objects.count() == 1
    assert comment.reports.count() == 0


def test_post_with_the_page_csrf_token_is_accepted(csrf_client, article, comment_data):
    """The same client succeeds with the token from the form: the refusal above is CSRF."""
    doc = parse(csrf_client.get(article.get_absolute_url()))
    token = doc.find(".//h:form[@id='comment-form']/h:input[@name='csrfmiddlewaretoken']", NS)
    response = csrf_client.post(
        reverse("comments:post", args=[article.slug]),
        comment_data(csrfmiddlewaretoken=token.get("value")),
    )
    assert response.status_code == 303


# --- Hostile author URLs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.cookie)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "ftp://example.com/file",
        "//evil.example/path",
    ],
)
def test_non_http_author_url_is_refused(client, article, comment_data, url):
    response = client.post(reverse("comments:post", args=[article.slug]), comment_data(url=url))
    assert response.status_code == 400
    doc = parse(response)
    error = doc.find(".//h:span[@id='id_url_error']", NS)
    assert error is not None
    assert not Comment.objects.exists()


def test_http_author_url_is_accepted_and_linked_nofollow(client, article, comment_data, settings):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    response = client.post(
        reverse("comments:post", args=[article.slug]), comment_data(url="example.org/me")
    )
    assert response.status_code == 303
    comment = Comment.objects.get()
    assert comment.author_url == "https://example.org/me"
    doc = parse(client.get(article.get_absolute_url()))
    link = doc.find(f".//h:li[@id='comment-{comment.pk}']//h:a[@class='url']", NS)
    assert link.get("href") == "https://example.org/me"
    assert set(link.get("rel").split()) >= {"nofollow", "ugc", "noopener"}


def test_stored_javascript_url_is_never_rendered_as_a_link(client, article, comment_factory):
    """Defence in depth: a bad URL that reached the database (an import) renders as text."""
    comment = comment_factory(article=article, author_url="javascript:alert(1)")
    Comment.objects.filter(pk=comment.pk).update(author_url="javascript:alert(1)")
    doc = parse(client.get(article.get_absolute_url()))
    hrefs = [a.get("href") or "" for a in doc.iter(f"{{{NS['h']}}}a")]
    assert not [href for href in hrefs if "javascript" in href.lower()]


# --- Private data ---------------------------------------------------------------------

SECRET_EMAIL = "private.reader@example.net"
SECRET_IP = "198.51.100.77"
SECRET_AGENT = "SecretAgent/9.9 (hidden)"


@pytest.fixture
def private_comment(article, comment_factory):
    return comment_factory(
        article=article,
        author_email=SECRET_EMAIL,
        ip_address=SECRET_IP,
        user_agent=SECRET_AGENT,
        author_name="Visible Name",
    )


def test_emails_ips_and_user_agents_never_appear_on_public_pages(client, article, private_comment):
    urls = [
        reverse("articles:list"),
        article.get_absolute_url(),
        f"{article.get_absolute_url()}?replyto={private_comment.pk}",
        reverse("comments:feed"),
        reverse("comments:article-feed", args=[article.slug]),
        reverse("articles:feed"),
        reverse("articles:feed-atom"),
        reverse("django.contrib.sitemaps.views.sitemap"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        for secret in (SECRET_EMAIL, SECRET_IP, SECRET_AGENT, "private.reader"):
            assert secret not in content, (url, secret)
    assert "Visible Name" in client.get(article.get_absolute_url()).content.decode()


def test_ips_and_user_agents_are_shown_to_moderators_in_the_admin(
    client, superuser, private_comment
):
    client.force_login(superuser)
    response = client.get(reverse("admin:comments_comment_change", args=[private_comment.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert SECRET_IP in content
    assert SECRET_AGENT in content
    assert SECRET_EMAIL in content


# --- Admin login throttling -----------------------------------------------------------


def _login(client, username, password, ip="203.0.113.50"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def test_admin_login_locks_a_username_after_five_failures(client, staff_user):
    for attempt in range(4):
        response = _login(client, "editor", f"wrong-{attempt}", ip=f"203.0.113.{attempt}")
        assert response.status_code == 200
    locked = _login(client, "editor", "wrong-again", ip="203.0.113.9")
    assert locked.status_code == 429
    # Even the right password from a fresh address is refused while locked.
    refused = _login(client, "editor", PASSWORD, ip="192.0.2.200")
    assert refused.status_code == 429
    doc = parse(refused)
    assert doc.find(".//h:h1", NS).text == "Too many failed login attempts"
    assert "manage.py axes_reset" in "".join(doc.find(".//h:main", NS).itertext())
    assert "_auth_user_id" not in client.session


def test_admin_login_locks_an_address_after_five_failures_on_any_usernames(client, staff_user):
    for attempt in range(5):
        response = _login(client, f"guess{attempt}", "wrong", ip="203.0.113.66")
    assert response.status_code == 429
    assert _login(client, "editor", PASSWORD, ip="203.0.113.66").status_code == 429


def test_four_failures_then_the_right_password_logs_in(client, staff_user):
    for attempt in range(4):
        response = _login(client, "editor", f"wrong-{attempt}")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    assert _login(client, "editor", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(staff_user.pk)


def test_axes_reset_unlocks_a_locked_account(client, staff_user):
    for attempt in range(5):
        _login(client, "editor", f"wrong-{attempt}")
    assert _login(client, "editor", PASSWORD).status_code == 429
    call_command("axes_reset", verbosity=0)
    assert _login(client, "editor", PASSWORD).status_code == 302


# --- Request size ---------------------------------------------------------------------


BOUNDARY = "threadpress-test-boundary"


class RecordingBody:
    """A request body stream that records whether anything read it.

    It serves a well-formed multipart body with one file part of ``file_size`` bytes,
    produced lazily, so a reader that did read it would really spool a big upload."""

    def __init__(self, *, file_size, fields=None):
        head = "".join(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in (fields or {}).items()
        )
        head += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        self.head, self.tail = head.encode(), f"\r\n--{BOUNDARY}--\r\n".encode()
        self.file_size = file_size
        self.length = len(self.head) + file_size + len(self.tail)
        self.position = 0
        self.bytes_read = 0

    def read(self, size=-1):
        remaining = self.length - self.position
        size = remaining if size is None or size < 0 else min(size, remaining)
        chunk = bytearray()
        while len(chunk) < size:
            offset = self.position + len(chunk)
            if offset < len(self.head):
                chunk += self.head[offset : offset + size - len(chunk)]
            elif offset < len(self.head) + self.file_size:
                chunk += b"x" * min(size - len(chunk), len(self.head) + self.file_size - offset)
            else:
                start = offset - len(self.head) - self.file_size
                chunk += self.tail[start : start + size - len(chunk)]
        self.position += len(chunk)
        self.bytes_read += len(chunk)
        return bytes(chunk)

    def readline(self, size=-1):
        return self.read(size if size and size > 0 else 65536)


@pytest.fixture
def temporary_uploads(monkeypatch):
    """Every temporary upload file Django creates while the test runs."""
    from django.core.files import uploadhandler

    created = []

    class RecordedTemporaryUploadedFile(uploadhandler.TemporaryUploadedFile):
        def __init__(self, *args, **kwargs):
            created.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(uploadhandler, "TemporaryUploadedFile", RecordedTemporaryUploadedFile)
    return created


def post_stream(url, body, *, content_type, content_length):
    """POST ``body`` (a stream) with a made-up CSRF cookie and token, as an attacker can."""
    client = Client(enforce_csrf_checks=True)
    token = "a" * 32
    client.cookies["csrftoken"] = token
    return client.generic(
        "POST",
        url,
        headers={"X-CSRFToken": token},
        CONTENT_TYPE=content_type,
        CONTENT_LENGTH=str(content_length),
        **{"wsgi.input": body},
    )


def test_a_hundred_megabyte_multipart_post_is_refused_before_a_byte_is_read(
    article, temporary_uploads
):
    """An oversized body gets 413 from its Content-Length: nothing reads, parses or spools it."""
    body = RecordingBody(file_size=100 * 1024 * 1024, fields={"body": "Hello"})
    response = post_stream(
        reverse("comments:post", args=[article.slug]),
        body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        content_length=body.length,
    )
    assert response.status_code == 413
    assert body.bytes_read == 0
    assert temporary_uploads == []
    assert not Comment.objects.exists()
    doc = parse(response)
    assert "".join(doc.find(".//h:h1", NS).itertext()) == "Request too large"


def test_an_oversized_body_of_any_type_is_refused_unread(client, article):
    """The Content-Length limit holds whatever the content type (here a urlencoded form)."""
    body = RecordingBody(file_size=1024 * 1024)
    response = post_stream(
        reverse("articles:list"),
        body,
        content_type="application/x-www-form-urlencoded",
        content_length=body.length,
    )
    assert response.status_code == 413
    assert body.bytes_read == 0


def test_a_small_multipart_comment_post_is_refused_unread(article, comment_data):
    """The comment forms never send multipart, so the endpoints refuse it unparsed (415)."""
    body = RecordingBody(file_size=10, fields=comment_data())
    response = post_stream(
        reverse("comments:post", args=[article.slug]),
        body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        content_length=body.length,
    )
    assert response.status_code == 415
    assert body.bytes_read == 0
    assert not Comment.objects.exists()


def test_a_chunked_body_without_content_length_is_never_read(article):
    """Django reads no body without a Content-Length (chunked): it sees an empty POST."""
    from django.test.client import ClientHandler, RequestFactory

    body = RecordingBody(file_size=100 * 1024 * 1024)
    request = RequestFactory().generic(
        "POST",
        reverse("comments:post", args=[article.slug]),
        headers={"Transfer-Encoding": "chunked"},
        CONTENT_TYPE="application/x-www-form-urlencoded",
        **{"wsgi.input": body},
    )
    assert "CONTENT_LENGTH" not in request.environ
    response = ClientHandler(enforce_csrf_checks=True)(request.environ)
    assert response.status_code == 403  # no CSRF token found: the body was never looked at
    assert body.bytes_read == 0


def test_a_ten_megabyte_comment_post_is_refused_before_parsing(client, article, comment_data):
    data = comment_data(body="x" * (10 * 1024 * 1024))
    response = client.post(reverse("comments:post", args=[article.slug]), data)
    assert response.status_code == 413
    assert not Comment.objects.exists()


def test_a_ten_megabyte_urlencoded_body_is_refused(client, article):
    body = "body=" + "y" * (10 * 1024 * 1024)
    response = client.generic(
        "POST",
        reverse("comments:post", args=[article.slug]),
        body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert not Comment.objects.exists()


def test_a_urlencoded_comment_post_is_accepted(client, article, comment_data):
    """What the comment form sends in a browser."""
    from django.utils.http import urlencode

    response = client.generic(
        "POST",
        reverse("comments:post", args=[article.slug]),
        urlencode(comment_data()),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 303
    assert Comment.objects.count() == 1


def test_a_multipart_one_click_unsubscribe_is_accepted(comment_factory):
    """RFC 8058 lets a mail client send List-Unsubscribe=One-Click as multipart."""
    from django.test.client import MULTIPART_CONTENT, encode_multipart

    from comments.notifications import unsubscribe_token

    comment = comment_factory(notify_replies=True)
    response = Client(enforce_csrf_checks=True).generic(
        "POST",
        reverse("comments:unsubscribe", args=[unsubscribe_token(comment)]),
        encode_multipart("BoUnDaRy", {"List-Unsubscribe": "One-Click"}),
        content_type=MULTIPART_CONTENT,
    )
    assert response.status_code == 200
    comment.refresh_from_db()
    assert comment.notify_replies is False


def test_a_normal_long_comment_still_fits_the_limit(client, article, comment_data, settings):
    """The limit leaves room for the longest comment the form accepts."""
    from comments.models import MAX_BODY_LENGTH

    settings.COMMENTS_MAX_LINKS = 100
    data = comment_data(body="𝄞" * MAX_BODY_LENGTH)  # 4 bytes each in UTF-8
    response = client.post(reverse("comments:post", args=[article.slug]), data)
    assert response.status_code == 303
    assert Comment.objects.count() == 1


def test_reply_notification_never_shows_the_repliers_address(
    client, article, comment_data, settings, comment_factory, django_capture_on_commit_callbacks
):
    """Replies notify the parent's author by email without exposing the replier's address."""
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    parent = comment_factory(article=article, notify_replies=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("comments:post", args=[article.slug]),
            comment_data(parent=str(parent.pk), email="replier.secret@example.org"),
        )
    assert response.status_code == 303
    [notice] = [message for message in mail.outbox if message.to == [parent.author_email]]
    assert "Ada Reader replied to your comment" in notice.body
    assert "replier.secret" not in notice.body
    assert "replier.secret" not in str(notice.message())
