"""Helpers for ``benchmarks/load.sh``: seed the load-test article, post through the real form,
react to its comments in the background.

    python -m benchmarks.loadtools seed --comments 1000     # prints the article's path
    python -m benchmarks.loadtools post URL --workers 16 --posts 25
    python -m benchmarks.loadtools react URL --rate 20 --duration 10 --readers 50

``seed`` runs with the same environment as the gunicorn under test (its database);
``post`` only speaks HTTP: each worker GETs the article page (CSRF cookie and token,
the form's signed timestamp, comment ids to answer), then POSTs the form.

``react`` signs in ``--readers`` test accounts (sessions made in the database, as
Django's test client's ``force_login`` makes them: no password form), then toggles
reactions at ``--rate`` per second over the article's approved comments through
``POST /comments/<pk>/react/`` (the script's JSON requests, CSRF token included) for
``--duration`` seconds. Meanwhile a probe measures how stale the anonymous page's
counts are: one comment of page 1 only the probe reacts to; after each of its
reactions it reads the anonymous page (no cookie: the shared cached page) until the
count shows, and reports the longest wait.
"""

import argparse
import http.cookiejar
import json
import os
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter


def seed(count):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from benchmarks.data import Builder, random_parents

    call_command("migrate", verbosity=0, interactive=False)
    builder = Builder(progress=False)
    article = builder.articles(f"load-{int(time.time())}", 1)[0]
    builder.write(builder.comments(article, random_parents(count, seed=count)), label="load")
    builder.finish()
    builder.settle()
    print(article.get_absolute_url())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 303 after a post is the answer we count, not something to follow


FIELD_RE = re.compile(r'name="(csrfmiddlewaretoken|timestamp)" value="([^"]+)"')
COMMENT_ID_RE = re.compile(r'<li id="comment-(\d+)"')
RUN = f"run {os.getpid()}"  # bodies differ between runs: the duplicate rule stays out of it


def post_worker(base, path, posts, worker, statuses, lock):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    rng = random.Random(worker)
    slug = path.rstrip("/").rsplit("/", 1)[-1]
    for number in range(posts):
        try:
            with opener.open(base + path, timeout=30) as response:
                page = response.read().decode()
            fields = dict(FIELD_RE.findall(page))
            ids = COMMENT_ID_RE.findall(page)
            parent = rng.choice(ids) if ids and rng.random() < 0.7 else ""
            data = urllib.parse.urlencode(
                {
                    "csrfmiddlewaretoken": fields["csrfmiddlewaretoken"],
                    "timestamp": fields["timestamp"],
                    "name": f"Load Poster {worker}",
                    "email": f"load{worker}@example.org",
                    "body": f"Posted under load ({RUN}) by worker {worker}, number {number}.",
                    "parent": parent,
                }
            ).encode()
            request = urllib.request.Request(
                f"{base}/comments/post/{slug}/", data=data, headers={"Referer": base + path}
            )
            try:
                with opener.open(request, timeout=30) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
        except Exception as exc:  # counted, reported, never hidden
            status = type(exc).__name__
        with lock:
            statuses[status] += 1


def post(url, *, workers, posts):
    parts = urllib.parse.urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    statuses, lock = Counter(), threading.Lock()
    started = time.perf_counter()
    threads = [
        threading.Thread(target=post_worker, args=(base, parts.path, posts, n, statuses, lock))
        for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    total = sum(statuses.values())
    print(f"posted {total} comments in {elapsed:.1f}s ({total / elapsed:.1f}/s): {dict(statuses)}")
    return 0 if set(statuses) == {303} else 1


# --- reactions under load ------------------------------------------------------------------
def _sign_in_readers(count):
    """``[session key]`` of ``count`` reader accounts, signed in (sessions in the database)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    keys = []
    for n in range(count):
        user, _created = get_user_model().objects.get_or_create(
            username=f"load-reader-{n}", defaults={"email": f"load-reader-{n}@example.org"}
        )
        client = Client()
        client.force_login(user)
        keys.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return keys


def _page_comment_ids(article_path):
    """The article's approved comments, and those of its first comments page."""
    from articles.models import Article
    from comments import threads
    from comments.models import Comment

    article = Article.objects.get(slug=article_path.rstrip("/").rsplit("/", 1)[-1])
    approved = list(Comment.objects.filter(article=article).approved().values_list("pk", flat=True))
    page_1 = threads.render_page(article, use_cache=False).html
    shown = {int(pk) for pk in COMMENT_ID_RE.findall(page_1)}
    return approved, [pk for pk in approved if pk in shown]


class Reactor:
    """POSTs reactions as signed-in readers: ``send(pk, session)`` → (status, JSON)."""

    def __init__(self, base):
        self.base = base
        # Any 32 letters: the CSRF cookie's secret and the header's token (Django
        # compares the two), so no page has to be fetched for a token.
        self.csrf = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(32))
        from django.conf import settings

        self.session_cookie = settings.SESSION_COOKIE_NAME
        self.csrf_cookie = settings.CSRF_COOKIE_NAME

    def send(self, pk, session, reacted=None):
        data = urllib.parse.urlencode({} if reacted is None else {"reacted": reacted}).encode()
        request = urllib.request.Request(
            f"{self.base}/comments/{pk}/react/",
            data=data,
            headers={
                "Accept": "application/json",
                "X-CSRFToken": self.csrf,
                "Cookie": f"{self.session_cookie}={session}; {self.csrf_cookie}={self.csrf}",
                "Referer": self.base + "/",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, None


COUNT_RE = r'id="comment-{pk}".*?class="comment-reaction-count">(\d+)<'


def shown_count(url, pk):
    """The count the anonymous (cookie-less, so shared) page shows for comment ``pk``."""
    with urllib.request.urlopen(url, timeout=30) as response:
        page = response.read().decode()
    found = re.search(COUNT_RE.format(pk=pk), page, re.S)
    return int(found.group(1)) if found else None


def react(url, *, rate, duration, readers, ready_file=None):
    parts = urllib.parse.urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    sessions = _sign_in_readers(readers + 1)
    probe_session, sessions = sessions[0], sessions[1:]
    approved, on_page_1 = _page_comment_ids(parts.path)
    probe_pk = on_page_1[0]
    others = [pk for pk in approved if pk != probe_pk]
    reactor = Reactor(base)
    statuses, lock, latencies = Counter(), threading.Lock(), []
    rng = random.Random(1)

    def one(pk, session):
        started = time.perf_counter()
        status, _body = reactor.send(pk, session)
        with lock:
            statuses[status] += 1
            latencies.append(time.perf_counter() - started)

    def load():
        # 20 a second on a schedule (not back to back): a slow answer never lowers the
        # rate, it only adds a thread.
        interval, next_at, running = 1 / rate, time.monotonic(), []
        while next_at < stop_at:
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            worker = threading.Thread(
                target=one, args=(rng.choice(others), rng.choice(sessions)), daemon=True
            )
            worker.start()
            running.append(worker)
            next_at += interval
        for worker in running:
            worker.join()

    waits = []
    stop_at = time.monotonic() + duration

    def probe():
        reacted = "true"
        while time.monotonic() < stop_at - 1:
            status, body = reactor.send(probe_pk, probe_session, reacted)
            if status != 200:
                waits.append(None)
                break
            expected, sent_at = body["count"], time.monotonic()
            while time.monotonic() < sent_at + 30:
                asked_at = time.monotonic()  # the page shows the counts of about now
                if shown_count(url, probe_pk) == expected:
                    waits.append(asked_at - sent_at)
                    break
                time.sleep(0.1)
            else:
                waits.append(float("inf"))
            reacted = "false" if reacted == "true" else "true"
            time.sleep(rng.uniform(0.5, 2.0))  # react at any point of the counts' period

    loader, prober = threading.Thread(target=load), threading.Thread(target=probe)
    if ready_file:  # load.sh starts its measurement now
        with open(ready_file, "w") as ready:
            ready.write("reacting\n")
    loader.start()
    prober.start()
    loader.join()
    prober.join()
    total = sum(statuses.values())
    measured = [wait for wait in waits if wait is not None]
    worst = max(measured) if measured else float("nan")
    latencies.sort()
    print(
        f"reacted {total} times in {duration}s ({total / duration:.1f}/s): {dict(statuses)}, "
        f"answered in {latencies[len(latencies) // 2] * 1000:.0f} ms (median), "
        f"{latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms (95th percentile); "
        f"staleness: {len(measured)} probes, max {worst:.1f}s "
        f"(median {sorted(measured)[len(measured) // 2] if measured else float('nan'):.1f}s)"
    )
    # The last line is for load.sh: the worst staleness in seconds.
    print(f"{worst:.2f}")
    return 0 if set(statuses) <= {200} and measured else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadtools")
    commands = parser.add_subparsers(dest="command", required=True)
    seed_parser = commands.add_parser("seed")
    seed_parser.add_argument("--comments", type=int, default=1000)
    post_parser = commands.add_parser("post")
    post_parser.add_argument("url")
    post_parser.add_argument("--workers", type=int, default=16)
    post_parser.add_argument("--posts", type=int, default=25)
    react_parser = commands.add_parser("react")
    react_parser.add_argument("url")
    react_parser.add_argument("--rate", type=float, default=20)
    react_parser.add_argument("--duration", type=float, default=10)
    react_parser.add_argument("--readers", type=int, default=50)
    react_parser.add_argument("--ready-file", help="written when the reactions begin")
    args = parser.parse_args(argv)
    if args.command == "seed":
        seed(args.comments)
        return 0
    if args.command == "react":
        return react(
            args.url,
            rate=args.rate,
            duration=args.duration,
            readers=args.readers,
            ready_file=args.ready_file,
        )
    return post(args.url, workers=args.workers, posts=args.posts)


if __name__ == "__main__":
    sys.exit(main())
