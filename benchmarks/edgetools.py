"""Helpers for ``benchmarks/edge.sh``: the measurements that need more than ``wrk``.

    python -m benchmarks.edgetools prepare ARTICLE_PATH --pending 50 > prepared.json
    python -m benchmarks.edgetools freshness BASE ARTICLE_PATH prepared.json
    python -m benchmarks.edgetools writer BASE ARTICLE_PATH --times 50

``prepare`` runs with the environment of the app servers (their primary database): it
makes a moderator account (a superuser with a random password) and ``--pending``
held replies to the first thread of the article's first comments page (threads never
split across pages, so an approved reply shows on page 1), and prints them as JSON.

``freshness`` only speaks HTTP, through the edge cache at BASE: it signs the moderator
in through the admin's login form (a real session), then approves the held replies one
by one with the changelist's "approve" action. The clock starts when the POST's answer
has arrived and stops when an anonymous GET of the article page through the cache
shows the comment (polled back to back). Prints one line per figure, the last being
``freshness p50/p99: A/B ms``.

``writer`` posts a comment through the real form as a browser does (GET the page: the
token, empty behind the edge for a reader without a CSRF cookie, and the form's signed
timestamp; POST with the browser's Origin and Sec-Fetch-Site),
follows the 303 at once with the same cookies, and checks that the page it lands on
shows the new comment (read-your-writes: the database router pins a reader who just
wrote to the primary), then reads it once more with the pin cookie alone (no session).
Prints ``stale reads seen by the writer: N of M``.
"""

import argparse
import html
import http.cookiejar
import json
import math
import os
import random
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

FIELD_RE = re.compile(r'name="(csrfmiddlewaretoken|timestamp)" value="([^"]*)"')
COOKIE_IMAGE_RE = re.compile(r'<img alt="" src="([^"]+)"[^>]*class="edge-cookie"')
PIN_COOKIE = "tp_primary"  # site_config.dbrouter.PIN_COOKIE (this module speaks only HTTP)
TIMEOUT = 30  # seconds: a poll that waits longer counts as never fresh


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 302/303 is the answer we look at


def _opener(jar=None):
    handlers = [_NoRedirect]
    if jar is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(jar))
    return urllib.request.build_opener(*handlers)


def _fetch(opener, url, data=None, headers=None):
    """``(status, headers, text)``; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return response.status, response.headers, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode(errors="replace")


def percentile(values, fraction):
    """Nearest-rank percentile of ``values`` (the worst of 50 is their p99)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


# --- prepare (database side) ---------------------------------------------------------------
def prepare(article_path, *, pending):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from articles.models import Article
    from comments import threads, treewrites
    from comments.models import Comment

    article = Article.objects.get(slug=article_path.rstrip("/").rsplit("/", 1)[-1])
    page_1 = threads.render_page(article, use_cache=False).html
    first_shown = int(re.search(r'<li id="comment-(\d+)"', page_1).group(1))
    parent = Comment.objects.get(pk=first_shown)
    while parent.parent_id is not None:  # the top of its thread
        parent = parent.parent
    password = secrets.token_urlsafe(16)
    user, _created = get_user_model().objects.get_or_create(
        username="edge-moderator", defaults={"email": "edge-moderator@example.org"}
    )
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    held = []
    for number in range(pending):
        comment = Comment(
            article=article,
            author_name="Edge Reader",
            author_email="edge-reader@example.org",
            body=f"Held for the freshness probe {secrets.token_hex(4)}, number {number}.",
            status=Comment.Status.PENDING,
            ip_address="127.0.0.1",
            created_at=timezone.now(),
        )
        with transaction.atomic():
            treewrites.insert(comment, parent=parent)
        held.append(comment.pk)
    print(json.dumps({"username": user.username, "password": password, "pending": held}))


# --- freshness (HTTP only) -----------------------------------------------------------------
def admin_session(base, username, password):
    """A cookie jar signed in to the admin through its login form."""
    jar = http.cookiejar.CookieJar()
    opener = _opener(jar)
    status, _headers, page = _fetch(opener, f"{base}/admin/login/")
    if status != 200:
        raise SystemExit(f"admin login page answered {status}")
    token = dict(FIELD_RE.findall(page))["csrfmiddlewaretoken"]
    data = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token,
            "username": username,
            "password": password,
            "next": "/admin/",
        }
    ).encode()
    status, headers, _page = _fetch(
        opener, f"{base}/admin/login/", data, {"Referer": f"{base}/admin/login/"}
    )
    if status != 302:
        raise SystemExit(f"admin login answered {status}, not a redirect")
    return jar, opener


def _csrf_cookie(jar):
    return next(cookie.value for cookie in jar if cookie.name == "csrftoken")


def freshness(base, article_path, prepared, *, app=None):
    jar, opener = admin_session(base, prepared["username"], prepared["password"])
    anonymous = _opener()  # no cookies: the shared, cached page
    changelist = f"{base}/admin/comments/comment/"
    waits, refused = [], 0
    rng = random.Random(16)
    for pk in prepared["pending"]:
        data = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": _csrf_cookie(jar),
                "action": "approve_selected",
                "_selected_action": pk,
                "index": 0,
                "select_across": 0,
            }
        ).encode()
        status, _headers, _page = _fetch(opener, changelist, data, {"Referer": changelist})
        approved_at = time.perf_counter()
        if status != 302:
            refused += 1
            continue
        marker = f'id="comment-{pk}"'
        while time.perf_counter() < approved_at + TIMEOUT:
            status, headers, page = _fetch(anonymous, base + article_path)
            if status == 200 and marker in page:
                waits.append((time.perf_counter() - approved_at) * 1000)
                break
        else:
            waits.append(math.inf)
            # Which layer holds the old page: the edge's copy, or the app itself?
            seen = "-"
            if app:
                _status, _headers, direct = _fetch(anonymous, app + article_path)
                seen = "shows it" if marker in direct else "does not show it either"
            print(
                f"comment {pk}: not shown through the edge after {TIMEOUT} s "
                f"(X-Cache {headers.get('X-Cache')}, Age {headers.get('Age')} s); "
                f"the app without the edge {seen}"
            )
        time.sleep(rng.uniform(0.05, 0.3))  # approvals at any point of the load
    fresh = [wait for wait in waits if math.isfinite(wait)]
    print(
        f"approvals: {len(waits)} through the admin ({refused} refused), "
        f"{len(waits) - len(fresh)} never shown within {TIMEOUT} s"
    )
    if not waits:
        print("freshness p50/p99: -/- ms")
        return 1
    p50, p99 = percentile(waits, 0.5), percentile(waits, 0.99)
    print(f"freshness p50/p99: {p50:.0f}/{p99:.0f} ms")
    return 0 if not refused and len(fresh) == len(waits) else 1


# --- writer (HTTP only) --------------------------------------------------------------------
def writer(base, article_path, *, times):
    slug = article_path.rstrip("/").rsplit("/", 1)[-1]
    run = secrets.token_hex(4)
    stale, stale_pinned, failed = 0, 0, 0
    jar = http.cookiejar.CookieJar()
    opener = _opener(jar)
    for number in range(times):
        status, _headers, page = _fetch(opener, base + article_path)
        # Behind the edge, a reader's first page sets the CSRF cookie through an image
        # (site_config.edge.fragment): fetch it as a browser would.
        for src in COOKIE_IMAGE_RE.findall(page):
            _fetch(opener, urllib.parse.urljoin(base, html.unescape(src)))
        fields = dict(FIELD_RE.findall(page))
        if status != 200 or "timestamp" not in fields:
            failed += 1
            continue
        data = urllib.parse.urlencode(
            {
                **fields,
                "name": "Edge Writer",
                "email": "edge-writer@example.org",
                "body": f"Read-your-writes probe {run}, number {number}.",
                "parent": "",
            }
        ).encode()
        # What a browser sends with a form post from the page: a reader without a CSRF
        # cookie (the edge's page carries no token for them) is checked on these.
        browser = {"Referer": base + article_path, "Origin": base, "Sec-Fetch-Site": "same-origin"}
        status, headers, _page = _fetch(opener, f"{base}/comments/post/{slug}/", data, browser)
        location = headers.get("Location", "") if status == 303 else ""
        anchor = urllib.parse.urlsplit(location).fragment
        if not anchor.startswith("comment-"):
            failed += 1
            continue
        url = urllib.parse.urljoin(base, location)
        status, _headers, page = _fetch(opener, url)
        if status != 200 or f'id="{anchor}"' not in page:
            stale += 1
        # The same read with the pin cookie alone (no session): the pin must suffice.
        pinned = http.cookiejar.CookieJar()
        for cookie in jar:
            if cookie.name == PIN_COOKIE:
                pinned.set_cookie(cookie)
        status, _headers, page = _fetch(_opener(pinned), url)
        if status != 200 or f'id="{anchor}"' not in page:
            stale_pinned += 1
    print(f"writer: {times} posts, {failed} not posted")
    print(f"  pin cookie alone (session left out): {stale_pinned} stale of {times - failed}")
    print(f"stale reads seen by the writer: {stale} of {times - failed}")
    return 0 if not failed else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.edgetools")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_parser = commands.add_parser("prepare")
    prepare_parser.add_argument("article_path")
    prepare_parser.add_argument("--pending", type=int, default=50)
    fresh_parser = commands.add_parser("freshness")
    fresh_parser.add_argument("base")
    fresh_parser.add_argument("article_path")
    fresh_parser.add_argument("prepared", help="the JSON file prepare printed")
    fresh_parser.add_argument("--app", help="the app without the edge (diagnoses a miss)")
    writer_parser = commands.add_parser("writer")
    writer_parser.add_argument("base")
    writer_parser.add_argument("article_path")
    writer_parser.add_argument("--times", type=int, default=50)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.article_path, pending=args.pending)
        return 0
    if args.command == "freshness":
        with open(args.prepared) as prepared:
            return freshness(args.base, args.article_path, json.load(prepared), app=args.app)
    return writer(args.base, args.article_path, times=args.times)


if __name__ == "__main__":
    sys.exit(main())
