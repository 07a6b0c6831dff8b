"""Check the read replica router against a real streaming replica.

    THREADPRESS_PRIMARY_URL=postgres://postgres@127.0.0.1:5441/threadpress \\
    THREADPRESS_REPLICA_URL=postgres://postgres@127.0.0.1:5442/threadpress \\
      .venv/bin/python deploy/postgres/check-replica.py

The replica is one made by deploy/postgres/make-replica.sh (the same database name on
both). The script migrates the primary's database, adds an article and a comment to it
(use a scratch database), and sends requests through Django's whole middleware stack
(the test client, in this process), counting the statements each connection runs:

1. the article reaches the replica by streaming;
2. an anonymous page view reads the replica, not the primary;
3. a comment's poster is pinned: their next page view reads the primary and shows the
   comment at once, while replay on the replica is paused (so it cannot have it);
4. with replay paused past DATABASE_REPLICA_MAX_LAG_SECONDS (1 s here), anonymous page
   views read the primary, and the replica again once it has caught up;
5. when the replica stops between two requests, and when it stops under a request
   (its health still trusted), pages answer 200 from the primary; after it starts again,
   page views read it again.

Steps 3 and 4 pause replay on the replica (superuser); step 5 stops and starts the
replica's cluster with pg_ctlcluster (root, a cluster on this machine), or is skipped.
Prints one line per check and exits 1 when any fails.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

PRIMARY = os.environ.get("THREADPRESS_PRIMARY_URL")
REPLICA = os.environ.get("THREADPRESS_REPLICA_URL")
if not (PRIMARY and REPLICA):
    sys.exit(__doc__)
os.environ.update(
    DJANGO_SETTINGS_MODULE="site_config.settings",
    DJANGO_DEBUG="1",  # a development secret key, testserver allowed
    DJANGO_SECURE_SSL_REDIRECT="0",
    DATABASE_URL=PRIMARY,
    DATABASE_REPLICA_URLS=REPLICA,
    DATABASE_REPLICA_MAX_LAG_SECONDS="1",
    DATABASE_PIN_SECONDS="5",
    CACHE_URL="locmemcache://replica-check",
    EMAIL_URL="dummymail://",
    THREADPRESS_LOG_LEVEL="WARNING",
    COMMENTS_FLOOD_SECONDS="0",
    COMMENTS_MIN_SUBMIT_SECONDS="0",
    COMMENTS_REQUIRE_PREVIOUSLY_APPROVED="0",
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import DEFAULT_DB_ALIAS, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.http import urlencode  # noqa: E402

from articles.models import Article  # noqa: E402
from comments.forms import sign_timestamp  # noqa: E402
from site_config import dbrouter  # noqa: E402

REPLICA_ALIAS = "replica_0"
ARTICLES = Article._meta.db_table
failures = []


def check(ok, what, detail=""):
    print(f"{'PASS' if ok else 'FAIL'}  {what}{f'  ({detail})' if detail else ''}")
    if not ok:
        failures.append(what)


class Statements(list):
    """The SQL a connection runs (an execute wrapper: it needs no open connection, and
    no request start empties it)."""

    def __call__(self, execute, sql, params, many, context):
        self.append(sql)
        return execute(sql, params, many, context)


def article_reads(statements):
    return sum(1 for sql in statements if sql.startswith("SELECT") and ARTICLES in sql)


def view(client, url):
    """GET ``url``: (status, html, article reads on the primary, on the replica)."""
    primary, replica = Statements(), Statements()
    with (
        connections[DEFAULT_DB_ALIAS].execute_wrapper(primary),
        connections[REPLICA_ALIAS].execute_wrapper(replica),
    ):
        response = client.get(url)
    return (
        response.status_code,
        response.content.decode(),
        article_reads(primary),
        article_reads(replica),
    )


def on_replica(sql):
    """Run ``sql`` on the replica through a connection of its own."""
    connection = connections.create_connection(REPLICA_ALIAS)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()
    finally:
        connection.close()


def wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:  # the replica starting up
            pass
        time.sleep(0.1)
    return False


def replica_cluster():
    """(version, name) of the local cluster on the replica's port, or None."""
    port = str(settings.DATABASES[REPLICA_ALIAS]["PORT"])
    try:
        lines = subprocess.run(
            ["pg_lsclusters", "-h"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[2] == port:
            return fields[0], fields[1]
    return None


def pg_ctlcluster(cluster, action):
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            *cluster,
            action,
            *(["-m", "fast"] * (action == "stop")),
        ],
        check=True,
    )


def main():
    call_command("migrate", verbosity=0)
    stamp = time.strftime("%Y%m%d%H%M%S")
    author, _ = get_user_model().objects.get_or_create(username="replica-check")
    article = Article.objects.create(
        title=f"Replica check {stamp}",
        slug=f"replica-check-{stamp}",
        author=author,
        summary="Checking the read replica.",
        body="Checking the read replica.",
        status=Article.Status.PUBLISHED,
        published_at=timezone.now() - timezone.timedelta(minutes=1),
    )
    url = article.get_absolute_url()

    # 1. streaming
    started = time.monotonic()
    arrived = wait_for(lambda: Article.objects.using(REPLICA_ALIAS).filter(pk=article.pk).exists())
    check(arrived, "the new article reaches the replica", f"{time.monotonic() - started:.2f} s")

    # 2. anonymous page views
    status, html, primary_reads, replica_reads = view(Client(), url)
    check(
        status == 200 and article.title in html and replica_reads and not primary_reads,
        "an anonymous page view reads the replica",
        f"status {status}, article reads: primary {primary_reads}, replica {replica_reads}",
    )

    # 3. the writer's next view, with replay paused: only the primary has the comment
    on_replica("SELECT pg_wal_replay_pause()")
    try:
        writer = Client()
        body = f"Read your writes {stamp}"
        response = writer.post(
            reverse("comments:post", args=[article.slug]),
            urlencode(
                {
                    "name": "Ada Reader",
                    "email": "ada@example.org",
                    "url": "",
                    "body": body,
                    "parent": "",
                    "timestamp": sign_timestamp(time.time() - 60),
                    "homepage": "",
                }
            ),
            content_type="application/x-www-form-urlencoded",  # as the form posts
        )
        pinned = dbrouter.PIN_COOKIE in response.cookies
        check(
            response.status_code == 303 and pinned,
            "a comment post answers with the pin cookie",
            f"status {response.status_code}, Set-Cookie {dbrouter.PIN_COOKIE}: {pinned}",
        )
        writer.cookies.pop(settings.SESSION_COOKIE_NAME, None)  # the pin alone
        status, html, primary_reads, replica_reads = view(writer, url)
        check(
            status == 200 and body in html and primary_reads and not replica_reads,
            "the writer's next page view reads the primary and shows the comment",
            f"status {status}, comment shown {body in html}, "
            f"article reads: primary {primary_reads}, replica {replica_reads}",
        )

        # 4. lag: replay stays paused while the primary changes
        article.title = f"Changed {stamp}"
        article.save()  # through the model: the cached page changes key
        time.sleep(settings.DATABASE_REPLICA_MAX_LAG_SECONDS + dbrouter.CHECK_SECONDS + 0.2)
        status, html, primary_reads, replica_reads = view(Client(), url)
        state = dbrouter.replica_health.states.get(REPLICA_ALIAS)
        check(
            status == 200 and f"Changed {stamp}" in html and primary_reads and not replica_reads,
            "a replica lagging past the bound is skipped",
            f"measured lag {state.lag if state else None} s, bound "
            f"{settings.DATABASE_REPLICA_MAX_LAG_SECONDS} s, "
            f"article reads: primary {primary_reads}, replica {replica_reads}",
        )
    finally:
        on_replica("SELECT pg_wal_replay_resume()")
    caught_up = wait_for(
        lambda: Article.objects.using(REPLICA_ALIAS).get(pk=article.pk).title == f"Changed {stamp}"
    )
    time.sleep(dbrouter.CHECK_SECONDS + 0.1)
    status, html, primary_reads, replica_reads = view(Client(), url)
    check(
        caught_up and status == 200 and replica_reads and not primary_reads,
        "once caught up, the replica is read again",
        f"article reads: primary {primary_reads}, replica {replica_reads}",
    )

    # 5. the replica stops
    cluster = replica_cluster()
    if cluster is None or os.geteuid() != 0:
        print("SKIP  stopping the replica (run as root, with the replica a local cluster)")
        return
    trusted, dbrouter.CHECK_SECONDS = dbrouter.CHECK_SECONDS, 3600.0
    try:
        view(Client(), url)  # the replica measured healthy, and trusted for now
        pg_ctlcluster(cluster, "stop")
        failed = 0
        status, html, primary_reads, replica_reads = view(Client(), url)
        failed += status != 200
        check(
            status == 200 and primary_reads and f"Changed {stamp}" in html,
            "the replica stopping under a request: answered from the primary",
            f"status {status}, article reads: primary {primary_reads}",
        )
    finally:
        dbrouter.CHECK_SECONDS = trusted
    statuses = [view(Client(), url)[0] for _ in range(20)]
    failed += sum(status != 200 for status in statuses)
    check(failed == 0, "with the replica stopped, 21 page views: none failed", f"{statuses[:3]}…")
    pg_ctlcluster(cluster, "start")
    streaming = wait_for(
        lambda: on_replica("SELECT status FROM pg_stat_wal_receiver") == ("streaming",), 60
    )
    time.sleep(dbrouter.DOWN_RETRY_SECONDS + 0.1)
    status, html, primary_reads, replica_reads = view(Client(), url)
    check(
        streaming and status == 200 and replica_reads and not primary_reads,
        "the replica started again is read again",
        f"streaming {streaming}, article reads: primary {primary_reads}, replica {replica_reads}",
    )


if __name__ == "__main__":
    main()
    print(f"{len(failures)} failed" if failures else "all checks passed")
    sys.exit(1 if failures else 0)
