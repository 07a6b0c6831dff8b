"""Benchmarks for threadpress: ``python -m benchmarks`` (see docs/performance.md).

Not collected by pytest. The package sets Django up itself, on a scratch
database it creates and drops (a temporary SQLite file, or a ``tp_bench_*``
PostgreSQL database on the server ``DATABASE_URL`` points at).
"""
