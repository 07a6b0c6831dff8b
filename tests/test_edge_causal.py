"""Causal purge (site_config/edge.py): with read replicas and a PostgreSQL primary, the
keys of a change are purged once every replica the router reads has replayed it, so the
page the edge fetches next has the change.

The replicas here are the mirrors ``replica_0``/``replica_1`` of site_config/test_settings.py
(the test database itself, so they have replayed everything at once). A replica that lags
is the primary's own WAL position read through ``REPLAYED_SQL`` pointed at a position
behind it; a real streaming standby with paused replay is at the end (root and Debian's
postgresql-common only: it makes two throwaway clusters).
"""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection, connections, transaction

from site_config import dbrouter, edge

pytestmark = pytest.mark.django_db(
    transaction=True, databases=["default", "replica_0", "replica_1"]
)

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="WAL positions are PostgreSQL's"
)


@pytest.fixture
def replicas(settings):
    settings.DATABASE_REPLICAS = ["replica_0", "replica_1"]
    yield settings.DATABASE_REPLICAS
    dbrouter.replica_health.clear()


class Statements(list):
    def __call__(self, execute, sql, params, many, context):
        self.append(sql)
        return execute(sql, params, many, context)


def batches(server):
    assert edge.wait_for_purges(10)
    return list(server.received)


def test_lsn_text_and_number_round_trip():
    """``pg_lsn`` text and the number the purger compares are the same position."""
    assert edge.parse_lsn("16/B374D848") == 0x16B374D848
    assert edge.format_lsn(edge.parse_lsn("16/B374D848")) == "16/B374D848"
    assert edge.parse_lsn("0/0") == 0


def test_without_replicas_no_wal_position_is_asked_and_one_purge_goes(purge_server):
    """No replicas: the purge is sent once, at once, and the primary is asked nothing."""
    statements = Statements()
    with connection.execute_wrapper(statements), transaction.atomic():
        edge.purge_keys(["article-1"])
    assert batches(purge_server) == [["article-1"]]
    assert edge.WAL_POSITION_SQL not in statements


@postgresql_only
def test_the_primarys_wal_position_is_recorded_at_commit(purge_server, replicas):
    """With replicas, the on-commit callback reads the primary's WAL position on the
    connection that committed (and only after the commit)."""
    statements = Statements()
    with connection.execute_wrapper(statements):
        with transaction.atomic():
            edge.purge_keys(["article-2"])
            assert edge.WAL_POSITION_SQL not in statements
        assert statements[-1] == edge.WAL_POSITION_SQL
    assert batches(purge_server) == [["article-2"]]


@postgresql_only
def test_replicas_that_have_the_change_get_one_purge_at_once(purge_server, replicas):
    """Replicas that have replayed the commit: one purge, no second one later (the
    delayed purge is only for a replica that did not catch up in time)."""
    edge.purge_keys(["article-3"])
    assert batches(purge_server) == [["article-3"]]


def _wal_position():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        return edge.parse_lsn(cursor.fetchone()[0])


def _switch_wal():
    """Move the primary's WAL on to the next segment (16 MB further)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_switch_wal()")


@postgresql_only
def test_the_purge_waits_until_the_replicas_have_replayed_the_change(
    purge_server, replicas, settings, monkeypatch
):
    """A replica that has not replayed the commit holds the purge back until it has
    (here: a replica 1 MB of WAL behind the primary, which catches up when the primary
    moves on to its next WAL segment)."""
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 30
    monkeypatch.setattr(edge, "REPLAYED_SQL", "SELECT pg_current_wal_lsn() - 1048576 >= %s::pg_lsn")
    edge.purge_keys(["article-4"])
    time.sleep(0.5)
    assert purge_server.received == []
    switched = time.monotonic()
    _switch_wal()
    assert batches(purge_server) == [["article-4"]]
    assert purge_server.arrivals[0][0] - switched < 0.5


@postgresql_only
def test_a_replica_that_does_not_catch_up_in_time_is_purged_for_now_and_again(
    purge_server, replicas, settings, monkeypatch
):
    """A replica still without the change after DATABASE_REPLICA_MAX_LAG_SECONDS: the keys
    are purged then, and once more REPLICA_CHECK_MARGIN later (when the router has
    stopped reading it)."""
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0.3
    monkeypatch.setattr(edge, "REPLICA_CHECK_MARGIN", 0.2)
    monkeypatch.setattr(edge, "REPLAYED_SQL", "SELECT %s::pg_lsn IS NULL")  # never
    started = time.monotonic()
    edge.purge_keys(["article-5"])
    assert batches(purge_server) == [["article-5"], ["article-5"]]
    first, second = (at for at, _ in purge_server.arrivals)
    assert first - started >= 0.3
    assert second - first >= 0.15  # the second is due 0.2 s after the wait ended


@postgresql_only
def test_a_replica_that_does_not_answer_is_not_waited_for(
    purge_server, replicas, settings, monkeypatch
):
    """A replica that is down (here ``replica_1`` on a closed port, for every thread)
    holds nothing back: the router does not read it either."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setitem(connections.settings["replica_1"], "HOST", "127.0.0.1")
    monkeypatch.setitem(connections.settings["replica_1"], "PORT", closed_port)
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 30
    started = time.monotonic()
    edge.purge_keys(["article-6"])
    assert batches(purge_server) == [["article-6"]]
    assert purge_server.arrivals[0][0] - started < 2
    assert not dbrouter.replica_health.states["replica_1"].usable


# --- a real streaming replica --------------------------------------------------------------
DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "postgres"


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _run(*command):
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def streaming_replica():
    """A throwaway primary cluster and a streaming replica of it, made with
    deploy/postgres/make-replica.sh (about 20 s), dropped afterwards: their ports."""
    if connection.vendor != "postgresql":
        pytest.skip("a real replica is for the PostgreSQL run")
    if os.geteuid() != 0 or not shutil.which("pg_createcluster"):
        reason = "a real replica needs root and Debian's postgresql-common (pg_createcluster)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required in CI)", pytrace=False)
        pytest.skip(reason)
    version = max(os.listdir("/usr/lib/postgresql"), key=int)
    primary_port, replica_port = _free_ports(2)
    primary, replica = f"tpcausal_{primary_port}", f"tpcausal_replica_{replica_port}"
    _run(
        "pg_createcluster", version, primary, "-p", str(primary_port),
        "--", "--auth-local=trust", "--auth-host=trust",
    )  # fmt: skip
    try:
        _run("pg_ctlcluster", "--skip-systemctl-redirect", version, primary, "start")
        _run("bash", str(DEPLOY / "make-replica.sh"), str(primary_port), str(replica_port), replica)
        yield primary_port, replica_port
    finally:
        subprocess.run(
            ["bash", str(DEPLOY / "drop-replica.sh"), str(replica_port), replica],
            capture_output=True,
        )
        subprocess.run(["pg_dropcluster", "--stop", version, primary], capture_output=True)


def _execute(alias, sql):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone() if cursor.description else None


@pytest.fixture
def real_replica(streaming_replica, settings, monkeypatch):
    """``replica_1`` is the throwaway primary and ``replica_0``, the one replica the
    router reads, its streaming standby (for every thread), which has replayed a
    commit a moment ago."""
    primary_port, replica_port = streaming_replica
    for alias, port in (("replica_1", primary_port), ("replica_0", replica_port)):
        connections[alias].close()
        for key, value in {"HOST": "127.0.0.1", "PORT": port, "NAME": "postgres"}.items():
            monkeypatch.setitem(connections.settings[alias], key, value)
    settings.DATABASE_REPLICAS = ["replica_0"]
    _execute("replica_1", "CREATE TABLE IF NOT EXISTS causal (n int)")
    (position,) = _execute("replica_1", "SELECT pg_current_wal_lsn()")
    for _ in range(500):
        if _execute("replica_0", f"SELECT pg_last_wal_replay_lsn() >= '{position}'")[0]:
            break
        time.sleep(0.01)
    yield
    _execute("replica_0", "SELECT pg_wal_replay_resume()")
    assert edge.wait_for_purges(10)
    for alias in ("replica_0", "replica_1"):
        connections[alias].close()
    dbrouter.replica_health.clear()


def _approve_on_the_primary(key):
    with transaction.atomic(using="replica_1"):
        _execute("replica_1", "INSERT INTO causal VALUES (1)")
        edge.purge_keys([key], using="replica_1")


@postgresql_only
def test_with_replay_paused_on_a_real_replica_the_purge_waits_for_it(
    purge_server, real_replica, settings
):
    """A real streaming standby with replay paused holds the purge back; it goes as
    soon as replay resumes, once."""
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 30
    _execute("replica_0", "SELECT pg_wal_replay_pause()")
    _approve_on_the_primary("article-7")
    time.sleep(1)
    assert purge_server.received == []
    resumed = time.monotonic()
    _execute("replica_0", "SELECT pg_wal_replay_resume()")
    assert batches(purge_server) == [["article-7"]]
    assert purge_server.arrivals[0][0] - resumed < 0.5


@postgresql_only
def test_a_real_replica_that_stays_paused_is_purged_after_the_bound_and_again(
    purge_server, real_replica, settings, monkeypatch
):
    """Replay paused past DATABASE_REPLICA_MAX_LAG_SECONDS: purged once the router finds
    the standby too far behind (or at the bound), and again REPLICA_CHECK_MARGIN later (the
    other workers may have measured it before)."""
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 3
    monkeypatch.setattr(edge, "REPLICA_CHECK_MARGIN", 0.2)
    _execute("replica_0", "SELECT pg_wal_replay_pause()")
    started = time.monotonic()
    _approve_on_the_primary("article-8")
    assert batches(purge_server) == [["article-8"], ["article-8"]]
    first, second = (at for at, _ in purge_server.arrivals)
    assert first - started >= 1
    assert second - first >= 0.15
