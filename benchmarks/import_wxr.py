"""``python -m benchmarks.import_wxr [--comments 50000]``: time the WordPress importer.

Writes a synthetic WXR export (seeded: posts with threaded comments up to ten
levels deep, every status, some HTML) to a temporary directory, imports it into
a scratch database, imports it again (nothing changes: the idempotent path), and
prints seconds and comments per second for both.

The scratch database is a temporary SQLite file, or, when ``DATABASE_URL`` points
at PostgreSQL, a database ``tp_bench_wxr_<pid>`` created on that server and
dropped afterwards. Your own data is never touched.
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

from benchmarks.scratch import ScratchDatabase, use_production_settings

ROOT = Path(__file__).resolve().parent.parent
WP = "http://wordpress.org/export/1.2/"
STATUSES = ["1"] * 90 + ["0"] * 5 + ["spam"] * 3 + ["trash"] * 2
BODIES = [
    "Thanks for this article.",
    "I disagree with the second point.\n\nHere is why: the numbers from last year say otherwise.",
    '<p>See <a href="https://example.org/source">the source</a> &amp; judge.</p>',
    "Short.",
    "A longer reply, because some readers explain their reasoning in detail, "
    "with a second sentence<br />and a line break for good measure.",
    "Καλή δουλειά — ευχαριστώ!",
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.import_wxr", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--comments", type=int, default=50_000, help="comments in the file")
    parser.add_argument("--per-post", type=int, default=100, help="comments per post")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def cdata(text):
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def write_export(path, *, comments, per_post, seed):
    """A WXR 1.2 file of ``comments`` comments spread over posts of ``per_post`` each."""
    rng = random.Random(seed)
    comment_id = 0
    posts = (comments + per_post - 1) // per_post
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8" ?>\n'
            f'<rss version="2.0" xmlns:excerpt="{WP}excerpt/" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="{WP}">\n<channel>\n'
            "<title>Benchmark blog</title><link>https://bench.example.com</link>\n"
            "<wp:wxr_version>1.2</wp:wxr_version>\n"
            "<wp:base_blog_url>https://bench.example.com</wp:base_blog_url>\n"
            "<wp:author><wp:author_id>1</wp:author_id><wp:author_login>editor</wp:author_login>"
            "<wp:author_email>editor@example.com</wp:author_email></wp:author>\n"
        )
        for post_id in range(1, posts + 1):
            count = min(per_post, comments - comment_id)
            out.write(
                f"<item><title>Post {post_id}</title><dc:creator>editor</dc:creator>"
                f"<content:encoded>{cdata('Paragraph one.' + chr(10) * 2 + 'Paragraph two.')}"
                "</content:encoded><excerpt:encoded></excerpt:encoded>"
                f"<wp:post_id>{post_id}</wp:post_id>"
                "<wp:post_date>2020-01-01 09:00:00</wp:post_date>"
                "<wp:post_date_gmt>2020-01-01 09:00:00</wp:post_date_gmt>"
                "<wp:comment_status>open</wp:comment_status>"
                f"<wp:post_name>post-{post_id}</wp:post_name><wp:status>publish</wp:status>"
                "<wp:post_type>post</wp:post_type><wp:post_password></wp:post_password>\n"
            )
            first, depths = comment_id + 1, {}
            for _ in range(count):
                comment_id += 1
                parent = 0
                if comment_id > first and rng.random() > 0.3:
                    parent = rng.randrange(first, comment_id)
                    if depths[parent] >= 9:
                        parent = 0
                depths[comment_id] = depths[parent] + 1 if parent else 0
                minute = comment_id % 60
                out.write(
                    f"<wp:comment><wp:comment_id>{comment_id}</wp:comment_id>"
                    f"<wp:comment_author>{cdata(f'Reader {rng.randrange(500)}')}"
                    "</wp:comment_author>"
                    f"<wp:comment_author_email>r{comment_id % 500}@example.org"
                    "</wp:comment_author_email>"
                    "<wp:comment_author_url></wp:comment_author_url>"
                    "<wp:comment_author_IP>198.51.100.7</wp:comment_author_IP>"
                    f"<wp:comment_date_gmt>2020-01-02 10:{minute:02d}:00</wp:comment_date_gmt>"
                    f"<wp:comment_content>{cdata(rng.choice(BODIES))}</wp:comment_content>"
                    f"<wp:comment_approved>{rng.choice(STATUSES)}</wp:comment_approved>"
                    "<wp:comment_type></wp:comment_type>"
                    f"<wp:comment_parent>{parent}</wp:comment_parent></wp:comment>\n"
                )
            out.write("</item>\n")
        out.write("</channel>\n</rss>\n")
    return posts


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    use_production_settings()
    os.environ.setdefault("THREADPRESS_LOG_LEVEL", "WARNING")
    with ScratchDatabase(name=f"tp_bench_wxr_{os.getpid()}") as scratch:
        import django

        django.setup()
        from django.core.management import call_command

        from comments.models import Comment
        from comments.wxr import import_wxr

        call_command("migrate", verbosity=0, interactive=False)
        path = Path(scratch.tmpdir) / "export.xml"
        start = time.perf_counter()
        posts = write_export(path, comments=args.comments, per_post=args.per_post, seed=args.seed)
        generated = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        print(
            f"Synthetic export: {args.comments:,} comments on {posts:,} posts, "
            f"{size_mb:.1f} MB (written in {generated:.1f} s); "
            f"database: {'postgresql' if scratch.is_postgres else 'sqlite'}"
        )
        for label in ("first import", "re-import (no changes)"):
            start, cpu = time.perf_counter(), time.process_time()
            report = import_wxr(path)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(
                f"{label:<24} {seconds:7.2f} s  {args.comments / seconds:10,.0f} comments/s  "
                f"(Python CPU {cpu:.2f} s; created {report.comments['created']:,}, "
                f"unchanged {report.comments['unchanged']:,})"
            )
        assert Comment.objects.count() == args.comments
        print(f"Load average while measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
        call_command("comments_check")


if __name__ == "__main__":
    main()
