"""Helpers for ``benchmarks/load.sh``: seed the load-test article, post through the real form.

    python -m benchmarks.loadtools seed --comments 1000     # prints the article's path
    python -m benchmarks.loadtools post URL --workers 16 --posts 25

``seed`` runs with the same environment as the gunicorn under test (its database);
``post`` only speaks HTTP: each worker GETs the article page (CSRF cookie and token,
the form's signed timestamp, comment ids to answer), then POSTs the form.
"""

import argparse
import http.cookiejar
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadtools")
    commands = parser.add_subparsers(dest="command", required=True)
    seed_parser = commands.add_parser("seed")
    seed_parser.add_argument("--comments", type=int, default=1000)
    post_parser = commands.add_parser("post")
    post_parser.add_argument("url")
    post_parser.add_argument("--workers", type=int, default=16)
    post_parser.add_argument("--posts", type=int, default=25)
    args = parser.parse_args(argv)
    if args.command == "seed":
        seed(args.comments)
        return 0
    return post(args.url, workers=args.workers, posts=args.posts)


if __name__ == "__main__":
    sys.exit(main())
