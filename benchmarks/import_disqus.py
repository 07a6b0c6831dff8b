"""``python -m benchmarks.import_disqus [--comments 50000]``: time the Disqus importer.

Writes a synthetic Disqus export (seeded: threads on another host than the site's, replies
up to ten levels deep and some written before their parent, spam and deleted posts, some
HTML, a few threads without an article), creates the matching articles in a scratch
database, imports the file, imports it again (nothing changes: the idempotent path), and
prints seconds, posts per second and peak resident memory for both (each import in a
child process: ``benchmarks.import_common``).

The scratch database is a temporary SQLite file, or, when ``DATABASE_URL`` points at
PostgreSQL, a database ``tp_bench_disqus_<pid>`` created on that server and dropped
afterwards. Your own data is never touched.
"""

import os
import random

from benchmarks import import_common
from benchmarks.import_common import cdata, thread_of

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
            block = []
            first = post_id + 1
            for post_id, parent in thread_of(rng, first=first, count=count):
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
    args = import_common.parse_args(__doc__, argv, per_thread=100)
    with import_common.scratch_site(f"tp_bench_disqus_{os.getpid()}") as scratch:
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from articles.models import Article
        from comments.models import Comment

        path, threads, described = import_common.write_file(
            scratch,
            "disqus.xml",
            write_export,
            comments=args.comments,
            per_thread=args.per_thread,
            seed=args.seed,
        )
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
        print(
            f"Synthetic Disqus export: {args.comments:,} posts on {threads:,} threads, " + described
        )
        import_common.measure("disqus", path, count=args.comments, unit="posts")
        print(f"Comments stored: {Comment.objects.count():,}")
        import_common.finish()


if __name__ == "__main__":
    main()
