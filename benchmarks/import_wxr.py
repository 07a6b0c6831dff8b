"""``python -m benchmarks.import_wxr [--comments 50000]``: time the WordPress importer.

Writes a synthetic WXR export (seeded: posts with threaded comments up to ten
levels deep, every status, some HTML) to a temporary directory, imports it into
a scratch database, imports it again (nothing changes: the idempotent path), and
prints seconds, comments per second and peak resident memory for both (each import in
a child process: ``benchmarks.import_common``).

The scratch database is a temporary SQLite file, or, when ``DATABASE_URL`` points
at PostgreSQL, a database ``tp_bench_wxr_<pid>`` created on that server and
dropped afterwards. Your own data is never touched.
"""

import os
import random

from benchmarks import import_common
from benchmarks.import_common import cdata, thread_of

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
            first = comment_id + 1
            for comment_id, parent in thread_of(rng, first=first, count=count):
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
    args = import_common.parse_args(__doc__, argv, per_post=100)
    with import_common.scratch_site(f"tp_bench_wxr_{os.getpid()}") as scratch:
        from comments.models import Comment

        path, posts, described = import_common.write_file(
            scratch,
            "export.xml",
            write_export,
            comments=args.comments,
            per_post=args.per_post,
            seed=args.seed,
        )
        print(f"Synthetic export: {args.comments:,} comments on {posts:,} posts, " + described)
        import_common.measure("wxr", path, count=args.comments, unit="comments")
        assert Comment.objects.count() == args.comments
        import_common.finish()


if __name__ == "__main__":
    main()
