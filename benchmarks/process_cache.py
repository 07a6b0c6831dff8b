"""``python -m benchmarks.process_cache``: is each worker's copy of cached pages worth it?

A cached article page served with the per-worker copy (``PROCESS_CACHE_SECONDS`` = 5,
the default) and without it (0: every hit fetches and unpickles the page from the
shared cache), taken in turns, for a small and a big page, on the cache ``CACHE_URL``
configures (local memory by default; ``CACHE_URL=redis://…`` for Redis). Same scratch
database and production settings as ``python -m benchmarks``.
"""

import argparse
import os
import sys
from pathlib import Path

from benchmarks.scratch import ScratchDatabase, use_production_settings

ROOT = Path(__file__).resolve().parent.parent


def measure_hits(repeat):
    from django.conf import settings
    from django.test import Client

    from benchmarks.data import Builder, one_thread_parents, random_parents
    from benchmarks.run import measure_alternating
    from site_config import pagecache

    builder = Builder(progress=False)
    shapes = [
        ("random 1,000 (page 1)", random_parents(1000, seed=1000)),
        ("one thread of 2,000", one_thread_parents(2000, seed=2000)),
    ]
    articles = builder.articles("lru", len(shapes))
    for article, (name, parents) in zip(articles, shapes, strict=True):
        builder.write(builder.comments(article, parents), label=name)
    builder.finish()
    builder.settle()

    client = Client()
    rows = []
    for article, (name, _parents) in zip(articles, shapes, strict=True):
        url = article.get_absolute_url()

        def hit(url=url):
            response = client.get(url)
            assert response.status_code == 200, response.status_code
            return response.content

        def with_copy():
            settings.PROCESS_CACHE_SECONDS = 5  # assigned, not overridden: no clearing
            hit()  # this worker's copy holds the page again (untimed)

        def without_copy():
            settings.PROCESS_CACHE_SECONDS = 0
            pagecache.process_cache.clear()

        with_copy()
        size = len(hit())  # fills the shared cache and this worker's copy
        results = measure_alternating(
            {"with the copy": hit, "shared cache only": hit},
            repeat=repeat,
            setups={"with the copy": with_copy, "shared cache only": without_copy},
        )
        rows.append((name, round(size / 1024), results))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.process_cache")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    use_production_settings()
    os.environ.setdefault("THREADPRESS_LOG_LEVEL", "WARNING")
    with ScratchDatabase():
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
        print(f"cached article page, {backend}, median / min of {args.repeat} (ms)")
        print("| page | KB | with the copy | shared cache only |")
        print("|---|---|---|---|")
        for name, size, results in measure_hits(args.repeat):
            cells = [
                f"{results[key]['median_ms']} / {results[key]['min_ms']}"
                for key in ("with the copy", "shared cache only")
            ]
            print(f"| {name} | {size} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
