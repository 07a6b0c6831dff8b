"""A throwaway database for a benchmark run: your own data is never touched."""

import os
import secrets
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def use_production_settings():
    """Measure what production runs: debug off (no query log, no template debug).

    The in-process test client speaks plain HTTP to "testserver", and static URLs need
    no collected manifest; nothing else differs from a deployment's settings.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "site_config.settings"
    os.environ.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="testserver",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_PLAIN_STATIC="1",
    )
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise, no collectstatic


class ScratchDatabase:
    """Points ``DATABASE_URL`` at a throwaway database for the run's duration.

    SQLite (or no ``DATABASE_URL``): a file in a temporary directory. PostgreSQL: a new
    database ``name`` (default ``tp_bench_<pid>``) on that server, dropped afterwards
    unless ``keep``. ``tmpdir`` is always a temporary directory for the run's files.
    """

    def __init__(self, *, name=None, keep=False):
        self.url = os.environ.get("DATABASE_URL", "")
        self.name = name or f"tp_bench_{os.getpid()}"
        self.keep = keep
        self.tmpdir = None

    @property
    def is_postgres(self):
        return self.url.startswith(("postgres://", "postgresql://", "pgsql://"))

    def __enter__(self):
        self.tmpdir = tempfile.mkdtemp(prefix="tp_bench_")
        if self.is_postgres:
            if not self.name.startswith("tp_bench_"):
                sys.exit("--database must start with tp_bench_ (it is dropped afterwards)")
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}"', f'CREATE DATABASE "{self.name}"')
            parts = urlsplit(self.url)
            os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{self.name}"))
        else:
            os.environ["DATABASE_URL"] = f"sqlite:///{Path(self.tmpdir) / 'bench.sqlite3'}"
        return self

    def __exit__(self, *exc):
        if self.keep:
            print(f"Scratch database kept: {os.environ['DATABASE_URL']}")
            return
        if self.is_postgres:
            from django.db import connections

            connections.close_all()
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def _admin(self, *statements):
        import psycopg

        admin_url = urlunsplit(urlsplit(self.url)._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)
