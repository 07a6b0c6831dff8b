"""What the import benchmarks (``benchmarks.import_wxr``, ``benchmarks.import_disqus``)
share: their options, a scratch site, and the measurement.

Each import runs in a child process (``python -m benchmarks.import_common KIND FILE``)
that sets Django up, notes its resident memory, imports the file and reports wall time,
Python CPU and its peak resident memory (``ru_maxrss``): the figure is the import's own,
not the benchmark's (which wrote the file and the articles), and the re-import's peak is
not hidden behind the first import's (``ru_maxrss`` only grows).
"""

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.scratch import ScratchDatabase, use_production_settings

ROOT = Path(__file__).resolve().parent.parent
LABELS = ("first import", "re-import (no changes)")


def parse_args(module_doc, argv=None, **per):
    """``--comments`` and ``--seed``, and ``--per-post``/``--per-thread`` (``per``: its
    name and default)."""
    prog = f"python -m benchmarks.{Path(sys.argv[0]).stem}"
    parser = argparse.ArgumentParser(prog=prog, description=module_doc.split("\n")[0])
    parser.add_argument("--comments", type=int, default=50_000, help="comments in the file")
    for name, default in per.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def cdata(text):
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def thread_of(rng, *, first, count):
    """``(id, parent id)`` of ``count`` comments numbered from ``first``, in order: seven in
    ten reply to an earlier one (0: none), never deeper than ten levels."""
    depths = {}
    for number in range(first, first + count):
        parent = 0
        if number > first and rng.random() > 0.3:
            parent = rng.randrange(first, number)
            if depths[parent] >= 9:
                parent = 0
        depths[number] = depths[parent] + 1 if parent else 0
        yield number, parent


@contextlib.contextmanager
def scratch_site(name):
    """Production settings, a migrated scratch database (see ``benchmarks.scratch``)."""
    sys.path.insert(0, str(ROOT))
    use_production_settings()
    os.environ.setdefault("THREADPRESS_LOG_LEVEL", "WARNING")
    with ScratchDatabase(name=name) as scratch:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        yield scratch


def write_file(scratch, name, write, **options):
    """``write(path, **options)`` a file of the scratch directory; returns the path,
    ``write``'s result and how the file is described ("21.5 MB (written in 0.5 s);
    database: sqlite")."""
    path = Path(scratch.tmpdir) / name
    start = time.perf_counter()
    result = write(path, **options)
    seconds = time.perf_counter() - start
    database = "postgresql" if scratch.is_postgres else "sqlite"
    size_mb = path.stat().st_size / 1e6
    return path, result, f"{size_mb:.1f} MB (written in {seconds:.1f} s); database: {database}"


def measure(kind, path, *, count, unit):
    """Import ``path`` twice, each in a child process, and print a line for each."""
    from django.db import connections

    connections.close_all()  # the children write to the same database
    for label in LABELS:
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks.import_common", kind, str(path)],
            cwd=ROOT,
            env=os.environ,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            sys.exit(f"{label} failed:\n{result.stderr}")
        run = json.loads(result.stdout)
        print(
            f"{label:<24} {run['seconds']:7.2f} s  {count / run['seconds']:10,.0f} {unit}/s  "
            f"(Python CPU {run['cpu']:.2f} s; peak RSS {run['peak_mb']:.0f} MB, "
            f"{run['peak_mb'] - run['django_mb']:.0f} MB above Django's "
            f"{run['django_mb']:.0f} MB; {run['counts']})"
        )


def finish():
    from django.core.management import call_command

    print(f"Load average while measuring: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    call_command("comments_check")


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _child(kind, path):
    """Run in the child: one import, its figures as JSON on stdout."""
    import django

    django.setup()
    if kind == "wxr":
        from comments.wxr import import_wxr as run_import
    else:
        from comments.disqus import import_disqus as run_import
    django_mb = _peak_mb()
    start, cpu = time.perf_counter(), time.process_time()
    report = run_import(path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    counts = f"created {report.comments['created']:,}, unchanged {report.comments['unchanged']:,}"
    if kind == "disqus":
        counts += f", unmatched threads {report.threads['unmatched']:,}"
    figures = {"seconds": seconds, "cpu": cpu, "peak_mb": _peak_mb(), "django_mb": django_mb}
    print(json.dumps({**figures, "counts": counts}))


if __name__ == "__main__":
    _child(*sys.argv[1:3])
