"""The edge cache for real: deploy/varnish/threadpress.vcl loaded into a varnishd started
here (free ports, a temporary directory), its backend substituted to the live server.
Anonymous pages are hits, personal requests go to the app, each kind of change shows
through Varnish once its purge is sent, a dead purge URL never fails a write, and the
comment form posts through Varnish for a new reader (no cookie, no token: the browser's
Sec-Fetch-Site), without JavaScript too, and cookie-less page views never reach the app.
A new reader's variant of a page has one include, a returning reader's one per form (and
neither gets the other's); pages come gzipped to readers who take it.

Skipped with a reason when varnishd or varnish-modules is missing, unless ``CI`` or
``THREADPRESS_REQUIRE_BROWSER`` is set (then the tests fail): .ci/install-edge-tools.sh
installs them."""

import glob
import gzip
import http.cookiejar
import logging
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.test.utils import override_settings
from django.utils import timezone

from articles.models import Article
from comments import moderation
from comments.forms import timestamp_age
from comments.models import Comment
from site_config import edge
from tests.factories import ArticleFactory, CommentFactory
from tests.html import NS, parse

ROOT = Path(__file__).resolve().parents[1]
VCL = ROOT / "deploy" / "varnish" / "threadpress.vcl"
VARNISHD = shutil.which("varnishd") or "/usr/sbin/varnishd"
VARNISHADM = shutil.which("varnishadm") or "/usr/bin/varnishadm"
HINT = "run `bash .ci/install-edge-tools.sh`"

pytestmark = pytest.mark.django_db(transaction=True)


def require(available, reason):
    if available:
        return
    if os.environ.get("CI") or os.environ.get("THREADPRESS_REQUIRE_BROWSER"):
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Varnish:
    def __init__(self, port, workdir):
        self.url = f"http://127.0.0.1:{port}"
        self.workdir = workdir

    def counter(self, name):
        output = subprocess.run(
            ["varnishstat", "-n", str(self.workdir), "-1", "-f", name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return int(output.split()[1])

    def admin(self, *command):
        subprocess.run(
            [VARNISHADM, "-n", str(self.workdir), *command], check=True, capture_output=True
        )

    def ban_everything(self):
        subprocess.run(
            [VARNISHADM, "-n", str(self.workdir), "ban", "req.url", "~", "."],
            check=True,
            capture_output=True,
        )


@pytest.fixture(scope="module")
def varnish(live_server, tmp_path_factory):
    """One varnishd for the module, in front of the live server."""
    require(os.access(VARNISHD, os.X_OK), f"varnishd not found; {HINT}")
    require(
        glob.glob("/usr/lib/*/varnish/vmods/libvmod_xkey.so"),
        f"varnish-modules (xkey) not installed; {HINT}",
    )
    backend_port = live_server.url.rsplit(":", 1)[1]
    tmp = tmp_path_factory.mktemp("varnish")
    vcl = tmp / "threadpress.vcl"
    vcl.write_text(
        VCL.read_text()
        .replace("@BACKEND_HOST@", "127.0.0.1")
        .replace("@BACKEND_PORT@", backend_port)
    )
    port = free_port()
    workdir = tmp / "workdir"
    # The probe's Host (localhost) and the readers' (127.0.0.1) between tests too.
    hosts = override_settings(ALLOWED_HOSTS=["localhost", "127.0.0.1", "testserver"])
    hosts.enable()
    try:
        yield from _run_varnishd(vcl, port, workdir)
    finally:
        hosts.disable()


def _run_varnishd(vcl, port, workdir):
    process = subprocess.Popen(
        [
            VARNISHD,
            "-F",
            "-j",
            "none",
            "-a",
            f"127.0.0.1:{port}",
            "-T",
            "127.0.0.1:0",
            "-f",
            str(vcl),
            "-n",
            str(workdir),
            "-s",
            "malloc,32m",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"varnishd did not start: {process.stderr.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("varnishd did not listen within 30 s")
            time.sleep(0.1)
    yield Varnish(port, workdir)
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def edge_site(varnish, settings):
    """Purges go to the Varnish, which starts empty; posting has no delays. A new
    reader's page is kept as long as any other (its 1-second default has a test of its
    own), so that what a test reads twice is not refetched between."""
    settings.EDGE_PURGE_URLS = [varnish.url + "/"]
    settings.EDGE_NEW_READER_SECONDS = settings.EDGE_CACHE_SECONDS
    settings.COMMENTS_MIN_SUBMIT_SECONDS = 0
    settings.COMMENTS_FLOOD_SECONDS = 0
    # Plain HTTP here (production is HTTPS): cookies a client sends back over it.
    settings.CSRF_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = False
    varnish.ban_everything()
    yield varnish
    edge.wait_for_purges(10)


class Reader:
    """A browser-like client: its own cookies, never a proxy."""

    def __init__(self, base, cookies=None):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar)
        )
        self.headers = {"Cookie": cookies} if cookies else {}

    def get(self, path):
        return self.open(urllib.request.Request(self.base + path, headers=self.headers))

    def post(self, path, data, headers=None):
        body = urllib.parse.urlencode(data).encode()
        headers = {**self.headers, "Origin": self.base, **(headers or {})}
        return self.open(urllib.request.Request(self.base + path, data=body, headers=headers))

    def open(self, request):
        try:
            response = self.opener.open(request, timeout=15)
        except urllib.error.HTTPError as error:
            response = error
        response.body = response.read()
        return response


def page_text(response):
    return response.body.decode()


def test_anonymous_readers_are_served_from_varnish(edge_site, article):
    """The second anonymous view is a hit; the edge's own headers stay inside."""
    first = Reader(edge_site.url).get(article.get_absolute_url())
    second = Reader(edge_site.url).get(article.get_absolute_url())
    assert (first.status, second.status) == (200, 200)
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    for response in (first, second):
        assert "xkey" not in response.headers and "Surrogate-Control" not in response.headers
        assert b"<esi:" not in response.body and b"tp-hole-" not in response.body


def test_a_session_cookie_goes_to_the_app_every_time(edge_site, article):
    """A reader with a session (or any unknown cookie) is never served from the cache."""
    for cookies in ("sessionid=abc", "something=else; csrftoken=" + "a" * 32):
        reader = Reader(edge_site.url, cookies=cookies)
        assert [reader.get(article.get_absolute_url()).headers["X-Cache"] for _ in "12"] == [
            "MISS",
            "MISS",
        ]


def test_each_language_is_kept_apart_whatever_the_reader_sends(edge_site, article):
    """One object per site language: "de-AT" and the language cookie share the German
    page, an unknown language gets the default one."""
    url = article.get_absolute_url()

    def lang(headers):
        reader = Reader(edge_site.url)
        reader.headers = headers
        response = reader.get(url)
        return parse(response.body).get("lang"), response.headers["X-Cache"]

    assert lang({"Accept-Language": "de-DE,de;q=0.9"}) == ("de", "MISS")
    assert lang({"Accept-Language": "de-AT"}) == ("de", "HIT")
    assert lang({"Cookie": "django_language=de", "Accept-Language": "en"}) == ("de", "HIT")
    assert lang({"Accept-Language": "fr-FR, en;q=0.5"}) == ("en", "MISS")
    assert lang({}) == ("en", "HIT")


def test_a_sick_app_leaves_readers_the_last_good_page(edge_site, article, settings):
    """Grace: a page past its edge TTL is still served while the app is down; what was
    never cached is an error."""
    settings.EDGE_CACHE_SECONDS = 1
    url = article.get_absolute_url()
    assert Reader(edge_site.url).get(url).status == 200
    # Past its TTL (Varnish never serves an object whose TTL was 0, so one second it is).
    time.sleep(1.5)
    edge_site.admin("backend.set_health", "boot.app", "sick")
    try:
        stale = Reader(edge_site.url).get(url)
        never_cached = Reader(edge_site.url).get("/feed/")
    finally:
        edge_site.admin("backend.set_health", "boot.app", "auto")
    assert stale.status == 200 and article.title in page_text(stale)
    assert stale.headers["X-Cache"] == "HIT"
    assert never_cached.status == 503


def test_static_files_are_cached_for_everyone(edge_site):
    """A static file is kept whoever asks, signed in or not."""
    reader = Reader(edge_site.url, cookies="sessionid=abc")
    first, second = (reader.get("/static/comments/reactions.js") for _ in "12")
    assert (first.status, second.status) == (200, 200)
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")


def test_an_approved_comment_shows_through_varnish(edge_site, article):
    """Approving purges the article's pages: the next anonymous view has the comment."""
    comment = CommentFactory(article=article, status=Comment.Status.PENDING, body="Held back")
    url = article.get_absolute_url()
    Reader(edge_site.url).get(url)
    cached = Reader(edge_site.url).get(url)
    assert cached.headers["X-Cache"] == "HIT" and "Held back" not in page_text(cached)
    moderation.approve(Comment.objects.filter(pk=comment.pk))
    assert edge.wait_for_purges(10)
    fresh = Reader(edge_site.url).get(url)
    assert fresh.headers["X-Cache"] == "MISS" and "Held back" in page_text(fresh)


def test_article_edits_and_author_renames_show_through_varnish(edge_site, article):
    """A retitled article and a renamed author purge the article page."""
    url = article.get_absolute_url()
    Reader(edge_site.url).get(url)
    article.title = "A better title"
    article.save()
    assert edge.wait_for_purges(10)
    assert "A better title" in page_text(Reader(edge_site.url).get(url))
    author = article.author
    author.first_name, author.last_name = "Renata", "Renamed"
    author.save()
    assert edge.wait_for_purges(10)
    assert "Renata Renamed" in page_text(Reader(edge_site.url).get(url))


def test_publishing_an_article_updates_the_lists(edge_site, article):
    """Home, feed and sitemap are purged when an article comes out."""
    draft = ArticleFactory(status=Article.Status.DRAFT, title="Fresh off the press")
    urls = ["/", "/feed/", "/sitemap.xml"]
    for url in urls:
        Reader(edge_site.url).get(url)
        cached = Reader(edge_site.url).get(url)
        assert cached.headers["X-Cache"] == "HIT" and draft.slug not in page_text(cached)
    draft.status = Article.Status.PUBLISHED
    draft.published_at = timezone.now() - timedelta(minutes=1)
    draft.save()
    assert edge.wait_for_purges(10)
    for url in urls:
        assert draft.slug in page_text(Reader(edge_site.url).get(url)), url


def test_a_dead_purge_url_is_logged_and_the_write_succeeds(edge_site, article, caplog):
    """A Varnish that can't be reached: the approval still commits, the failure is
    logged, and the Varnish that answers is purged."""
    dead = f"http://127.0.0.1:{free_port()}/"
    edge_site_urls = [dead, edge_site.url + "/"]
    from django.conf import settings

    settings.EDGE_PURGE_URLS = edge_site_urls
    comment = CommentFactory(article=article, status=Comment.Status.PENDING, body="Still here")
    Reader(edge_site.url).get(article.get_absolute_url())
    with caplog.at_level(logging.ERROR, logger="threadpress"):
        moderation.approve(Comment.objects.filter(pk=comment.pk))
        assert edge.wait_for_purges(20)
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.APPROVED
    failures = [r for r in caplog.records if "Edge purge" in r.getMessage()]
    assert failures and dead in failures[0].getMessage()
    assert "Still here" in page_text(Reader(edge_site.url).get(article.get_absolute_url()))


def tokens_of(response):
    return [
        field.get("value") or ""
        for field in parse(response.body).iter(f"{{{NS['h']}}}input")
        if field.get("name") == "csrfmiddlewaretoken"
    ]


def test_cookieless_page_views_cost_the_app_nothing(edge_site, article):
    """After the first, page views of readers without any cookie never reach the app:
    their whole page (empty tokens and the form's timestamp in place) comes from
    Varnish."""
    url = article.get_absolute_url()
    first = Reader(edge_site.url).get(url)
    assert first.status == 200 and tokens_of(first) and set(tokens_of(first)) == {""}
    before, started = edge_site.counter("MAIN.backend_req"), time.monotonic()
    views = [Reader(edge_site.url).get(url) for _ in range(20)]
    fetched = edge_site.counter("MAIN.backend_req") - before
    assert all(view.headers["X-Cache"] == "HIT" for view in views)
    assert all(view.body == first.body for view in views)
    # The timestamp is kept a second: a slow machine may cross that once.
    assert fetched == 0 or (fetched == 1 and time.monotonic() - started > 0.9)


def test_a_returning_reader_gets_tokens_of_their_own_cookie(edge_site, article):
    """Readers with a CSRF cookie get tokens of that cookie from their own fragments,
    kept for them (a second view asks the app for at most the form's timestamp),
    never another reader's, and the cookie-less page stays token-less."""
    url = article.get_absolute_url()
    Reader(edge_site.url).get(url)  # the cookie-less fragments are cached first
    for secret in ("r" * 32, "s" * 32):
        reader = Reader(edge_site.url, cookies="csrftoken=" + secret)
        reader.get(url)
        before = edge_site.counter("MAIN.backend_req")
        page = reader.get(url)
        assert page.headers["X-Cache"] == "HIT"
        assert edge_site.counter("MAIN.backend_req") - before <= 1
        tokens = tokens_of(page)
        assert tokens and {_unmask_cipher_token(token) for token in tokens} == {secret}
    assert set(tokens_of(Reader(edge_site.url).get(url))) == {""}


def esi_includes_of(edge_site, reader, url):
    """The page ``reader`` gets, and how many ESI includes Varnish processed for it."""
    before = edge_site.counter("MAIN.esi_req")
    page = reader.get(url)
    return page, edge_site.counter("MAIN.esi_req") - before


def test_a_new_readers_page_has_no_include_and_never_another_readers_variant(edge_site, article):
    """Readers without a CSRF cookie share a whole variant of the page (empty tokens and
    the form's timestamp in place): Varnish processes no include for them, whatever
    header the reader sends to ask for the other. A returning reader (a CSRF cookie)
    gets the variant with an include per form, tokens of their own cookie, before and
    after the new readers, and they never get theirs."""
    url = article.get_absolute_url()
    reader = Reader(edge_site.url)
    first, includes = esi_includes_of(edge_site, reader, url)
    assert first.status == 200 and includes == 0
    assert len(tokens_of(first)) >= 3 and set(tokens_of(first)) == {""}
    secret = "t" * 32
    returning = Reader(edge_site.url, cookies="csrftoken=" + secret)
    for _ in range(2):
        page, includes = esi_includes_of(edge_site, returning, url)
        assert includes == len(tokens_of(page)) + 1
        assert {_unmask_cipher_token(token) for token in tokens_of(page)} == {secret}
        assert "HIT" in page.headers["X-Cache"] or _ == 0
    forged = Reader(edge_site.url)
    forged.headers["X-Edge-Reader"] = "returning"
    for other in (reader, forged, Reader(edge_site.url)):
        page, includes = esi_includes_of(edge_site, other, url)
        assert page.headers["X-Cache"] == "HIT" and includes == 0
        assert set(tokens_of(page)) == {""}
    assert not list(reader.jar)


def timestamp_of(page):
    (stamp,) = re.findall(rb'name="timestamp"[^>]*value="([^"]*)"', page.body)
    return stamp


def test_a_new_readers_page_is_kept_a_second_so_its_form_timestamp_stays_fresh(
    edge_site, article, settings
):
    """With the default EDGE_NEW_READER_SECONDS (1), a new reader's whole page is a hit
    within the second and fetched anew after it: the form's signed timestamp it carries
    (which dates the form for the too-fast rule) is never much older than that."""
    settings.EDGE_NEW_READER_SECONDS = 1
    url = article.get_absolute_url()
    first = Reader(edge_site.url).get(url)
    again = Reader(edge_site.url).get(url)
    assert again.headers["X-Cache"] == "HIT" and timestamp_of(again) == timestamp_of(first)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        time.sleep(0.3)
        page = Reader(edge_site.url).get(url)
        if timestamp_of(page) != timestamp_of(first):
            break
    else:
        pytest.fail("the new reader's page kept its first timestamp for 15 s")
    assert 0 <= timestamp_age(timestamp_of(page).decode()) < 5


def without_timestamp(body):
    return re.sub(rb'(name="timestamp"[^>]*value=")[^"]*"', rb'\1"', body)


def test_pages_and_their_includes_are_gzipped_for_readers_who_take_it(edge_site, article):
    """With Accept-Encoding: gzip the page comes compressed (Varnish compresses what
    the app sent plain, includes and all) and decodes to the page a reader without
    gzip gets; a returning reader's gzipped page carries their own tokens."""
    url = article.get_absolute_url()
    plain = Reader(edge_site.url).get(url)
    assert "Content-Encoding" not in plain.headers
    for cookies in (None, "csrftoken=" + "g" * 32):
        reader = Reader(edge_site.url, cookies=cookies)
        reader.headers["Accept-Encoding"] = "gzip"
        page = reader.get(url)
        assert page.status == 200 and page.headers["Content-Encoding"] == "gzip"
        assert len(page.body) * 2 < len(plain.body)
        page.body = gzip.decompress(page.body)
        assert b'name="timestamp"' in page.body and b"<esi:" not in page.body
        if cookies is None:
            assert without_timestamp(page.body) == without_timestamp(plain.body)
        else:
            tokens = {_unmask_cipher_token(token) for token in tokens_of(page)}
            assert tokens == {"g" * 32}


def comment_form_values(page):
    form = parse(page.body).find(".//h:form[@id='comment-form']", NS)
    values = {
        field.get("name"): field.get("value") or ""
        for field in form.iter(f"{{{NS['h']}}}input")
        if field.get("name")
    }
    return form.get("action").split("#")[0], values


def test_a_new_reader_posts_the_comment_form_through_varnish(edge_site, article):
    """A cookie-less reader loads a cached page (no token in it) and posts the form
    through Varnish as a browser does (Sec-Fetch-Site and Origin): the comment lands.
    The same post from another site is refused."""
    url = article.get_absolute_url()
    Reader(edge_site.url).get(url)  # cached for everyone
    reader = Reader(edge_site.url)
    page = reader.get(url)
    assert page.headers["X-Cache"] == "HIT" and not list(reader.jar)
    action, values = comment_form_values(page)
    assert values["csrfmiddlewaretoken"] == ""
    values |= {"name": "Edge reader", "email": "edge@example.org", "body": "Posted via Varnish"}
    foreign = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    assert Reader(edge_site.url).post(action, values, foreign).status == 403
    assert not Comment.objects.exists()
    response = reader.post(action, values, {"Sec-Fetch-Site": "same-origin"})
    assert response.status == 200  # urllib followed the 303 back to the article
    assert Comment.objects.get().body == "Posted via Varnish"


def test_the_comment_form_works_without_javascript_through_varnish(edge_site, article, browser):
    """Chromium with JavaScript off, a first visit through Varnish (no cookie, no token:
    its own Sec-Fetch-Site vouches for the form): the comment posts."""
    url = article.get_absolute_url()
    Reader(edge_site.url).get(url)  # the page is cached before the browser comes
    context = browser.new_context(base_url=edge_site.url, java_script_enabled=False)
    try:
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(url, wait_until="load")  # no CSRF cookie: the token is empty
        assert not context.cookies()
        page.fill("#id_body", "No script needed")
        page.fill("#id_name", "Plain reader")
        page.fill("#id_email", "plain@example.org")
        page.click("#comment-form button[type=submit]")
        page.wait_for_load_state("load")
    finally:
        context.close()
    assert Comment.objects.get().body == "No script needed"
