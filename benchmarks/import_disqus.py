"""``python -m benchmarks.import_disqus [--comments 50000]``: time the Disqus importer.

Writes a synthetic Disqus export (seeded: threads on another host than the site's, replies
up to ten levels deep and some written before their parent, spam and deleted posts, some
HTML, a few threads without an article), creates the matching articles in a scratch
database, imports the file, imports it again (nothing changes: the idempotent path), and
prints seconds, comments per second and the process's peak resident memory (ru_maxrss,
which only grows: the first import's figure is the one that counts).

The scratch database is a temporary SQLite file, or, when ``DATABASE_URL`` points at
PostgreSQL, a database ``tp_bench_disqus_<pid>`` created on that server and dropped
afterwards. Your own data is never touched.
"""

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

from benchmarks.scratch import ScratchDatabase, use_production_settings

ROOT = Path(__file__).resolve().parent.parent
BODIES = [
    "<p>Thanks for this article.</p>",
    "<p>I disagree with the second point.</p><p>Here is why: the numbers say otherwise.</p>",
    '<p>See <a href="https://example.org/source">the source</a> &amp; judge.</p>',
    "Short.",
    "<p>A longer reply, because some readers explain their reasoning in detail,<br>"
    "with a line break for good measure.</p>",
    "<p>Καλή δουλειά — ευχαριστώ!</p>",
]
UNMATCHED_EVERY = 50  # one thread in 50 points at a page that is no article


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.import_disqus", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--comments", type=int, default=50_000, help="posts in the file")
    parser.add_argument("--per-thread", type=int, default=100, help="posts per thread")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def cdata(text):
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def write_export(path, *, comments, per_thread, seed):
    """A Disqus export of ``comments`` posts over threads of ``per_thread`` each; returns
    the number of threads. Thread N links to /articles/story-N/ on an old host."""
    rng = random.Random(seed)
    threads = (comments + per_thread - 1) // per_thread
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="utf-8"?>\n<disqus xmlns="http://disqus.com" '
            'xmlns:dsq="http://disqus.com/disqus-internals">\n'
        )
        for number in range(1, threads + 1):
            page = "about" if number % UNMATCHED_EVERY == 0 else f"articles/story-{number}"
            out.write(
                f'<thread dsq:id="{number}"><id>story-{number}</id><forum>bench</forum>'
                f"<link>http://old.bench.example.net/{page}/</link>"
                f"<title>Story {number}</title>"
                "<createdAt>2020-01-01T09:00:00Z</createdAt></thread>\n"
            )
        post_id = 0
        for number in range(1, threads + 1):
            count = min(per_thread, comments - post_id)
            first, depths, block = post_id + 1, {}, []
            for _ in range(count):
                post_id += 1
                parent = 0
                if post_id > first and rng.random() > 0.3:
                    parent = rng.randrange(first, post_id)
                    if depths[parent] >= 9:
                        parent = 0
                depths[post_id] = depths[parent] + 1 if parent else 0
                roll = rng.random()
                block.append(
                    f'<post dsq:id="{post_id}"><id />'
                    f"<message>{cdata(rng.choice(BODIES))}</message>"
                    f"<createdAt>2020-01-02T10:{post_id % 60:02d}:00Z</createdAt>"
                    f"<isDeleted>{'true' if roll < 0.02 else 'false'}</isDeleted>"
                    f"<isSpam>{'true' if 0.02 <= roll < 0.05 else 'false'}</isSpam>"
                    f"<author><email>r{post_id % 500}@example.org</email>"
                    f"<name>Reader {rng.randrange(500)}</name>"
                    "<isAnonymous>false</isAnonymous>"
                    f"<username>reader{post_id % 500}</username></author>"
                    "<ipAddress>198.51.100.7</ipAddress>"
                    f'<thread dsq:id="{number}" />'
                    + (f'<parent dsq:id="{parent}" />' if parent else "")
                    + "</post>\n"
                )
            if rng.random() < 0.5:
                block.reverse()  # replies before their parents
            out.writelines(block)
        out.write("</disqus>\n")
    return threads


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    use_production_settings()
    os.environ.setdefault("THREADPRESS_LOG_LEVEL", "WARNING")
    with ScratchDatabase(name=f"tp_bench_disqus_{os.getpid()}") as scratch:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.utils import timezone

        from articles.models import Article
        from comments.disqus import import_disqus
        from comments.models import Comment

        call_command("migrate", verbosity=0, interactive=False)
        path = Path(scratch.tmpdir) / "disqus.xml"
        start = time.perf_counter()
        threads = write_export(
            path, comments=args.comments, per_thread=args.per_thread, seed=args.seed
        )
        generated = time.perf_counter() - start
        author = get_user_model().objects.create(username="editor")
        Article.objects.bulk_create(
            [
                Article(
                    title=f"Story {n}",
                    slug=f"story-{n}",
                    author=author,
                    status=Article.Status.PUBLISHED,
                    published_at=timezone.now(),
                )
                for n in range(1, threads + 1)
                if n % UNMATCHED_EVERY
            ],
            batch_size=500,
        )
        size_mb = path.stat().st_size / 1e6
        print(
            f"Synthetic Disqus export: {args.comments:,} posts on {threads:,} threads, "
            f"{size_mb:.1f} MB (written in {generated:.1f} s); "
            f"database: {'postgresql' if scratch.is_postgres else 'sqlite'}"
        )
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        print(f"Peak RSS before importing: {before:.0f} MB")
        for label in ("first import", "re-import (no changes)"):
            start, cpu = time.perf_counter(), time.process_time()
            report = import_disqus(path)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
            print(
                f"{label:<24} {seconds:7.2f} s  {args.comments / seconds:10,.0f} posts/s  "
                f"(Python CPU {cpu:.2f} s; peak RSS {peak:.0f} MB; "
                f"created {report.comments['created']:,}, "
                f"unchanged {report.comments['unchanged']:,}, "
                f"unmatched threads {report.threads['unmatched']:,})"
            )
        print(f"Comments stored: {Comment.objects.count():,}")
        print(f"Load average while measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
        call_command("comments_check")


if __name__ == "__main__":
    main()
