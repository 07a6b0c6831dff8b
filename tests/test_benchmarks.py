"""``python -m benchmarks`` keeps working: every measurement runs on tiny data and the
report prints every row and every target (timings themselves are not asserted)."""

import json

import pytest
from django.db import connection

from benchmarks import run
from benchmarks.data import Builder, chain_parents, one_thread_parents, random_parents

pytestmark = pytest.mark.django_db

# The report's shape names, each with a tiny tree of that shape.
TINY_SHAPES = [
    ("random 100", random_parents(12, seed=1)),
    ("random 1,000", random_parents(20, seed=2)),
    ("random 5,000", random_parents(30, seed=3)),
    ("one thread of 2,000", one_thread_parents(25, seed=4)),
    ("chain of 500", chain_parents(40)),
]


def test_every_measurement_runs_and_the_report_lists_every_target(client, tmp_path):
    builder = Builder(progress=False)
    articles = builder.articles("shape", len(TINY_SHAPES))
    for article, (_name, parents) in zip(articles, TINY_SHAPES, strict=True):
        builder.write(builder.comments(article, parents), label="test")
    builder.finish()

    renders = [
        run.render_shape(name, article, repeat=1, client=client)
        for article, (name, _parents) in zip(articles, TINY_SHAPES, strict=True)
    ]
    results = {
        "quick": True,
        "repeat": 1,
        "python": "3",
        "django": "5",
        "machine": "test",
        "debug": False,
        "cache": "LocMemCache",
        "database": connection.vendor,
        "renders": renders,
        "insert": run.insert_replies(articles[3], repeat=1),
        "site": {"comments": 0, "articles": 0} | run.site_pages(repeat=1),
        "memory_mb_5000": run.memory(articles[2]),
    }

    assert [row["comments"] for row in renders] == [len(p) for _n, p in TINY_SHAPES]
    assert all(row["page_queries"] <= run.TARGETS["page_queries"] for row in renders)
    assert results["insert"]["rows_updated"] > 0
    report = run.format_report(results)
    for name, _parents in TINY_SHAPES:
        assert f"| {name} |" in report
    verdicts = [line.split()[0] for line in report.split("Targets:")[1].splitlines() if line]
    assert len(verdicts) == 10 and set(verdicts) <= {"PASS", "MISS", "INFO"}

    run.write_json(results, tmp_path / "bench.json")
    assert json.loads((tmp_path / "bench.json").read_text())["renders"][0]["shape"] == "random 100"
