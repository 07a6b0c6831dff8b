"""``python -m benchmarks [--quick] [--json FILE]``: build data sets, measure, print a table.

The run never touches your data: it creates a scratch database and drops it
afterwards (``--keep`` keeps it):

* ``DATABASE_URL`` unset or SQLite: a temporary SQLite file;
* ``DATABASE_URL=postgres://…/anything``: a new database ``tp_bench_<pid>`` (or
  ``--database tp_bench_NAME``) on that server.

``CACHE_URL`` is used as configured (local memory by default); thread renders
are measured uncached, and the cached page separately.
"""

import argparse
import os
import sys
from pathlib import Path

from benchmarks.scratch import ScratchDatabase, use_production_settings

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 10k comments (≈1 min)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--database", help="PostgreSQL scratch database name (tp_bench_*)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--desk", action="store_true", help="only the moderation desk (benchmarks/desk.py)"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    use_production_settings()
    os.environ.setdefault("THREADPRESS_LOG_LEVEL", "WARNING")
    with ScratchDatabase(name=args.database, keep=args.keep) as scratch:
        import django

        django.setup()
        from django.core.management import call_command

        from benchmarks import run

        call_command("migrate", verbosity=0, interactive=False)
        if args.desk:
            from benchmarks import desk

            results = {
                "desk": desk.run(
                    quick=args.quick, repeat=3 if args.quick else 7, progress=not args.no_progress
                )
            }
            results["database"] = "postgresql" if scratch.is_postgres else "sqlite"
            print(f"threadpress benchmark · {results['database']} · median / min (ms)\n")
            print(desk.format_report(results["desk"]))
        else:
            results = run.run_all(quick=args.quick, progress=not args.no_progress)
            results["database"] = "postgresql" if scratch.is_postgres else "sqlite"
            print(run.format_report(results))
        if args.json:
            run.write_json(results, args.json)
            print(f"\nJSON written to {args.json}")


if __name__ == "__main__":
    main()
