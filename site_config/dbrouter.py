"""Read replicas: anonymous readers' page views read from them, everything else from the
primary (the ``default`` database).

``DATABASE_REPLICA_URLS`` lists the replicas; each becomes an alias in ``DATABASES``
(``replica_0``, ``replica_1``, …, listed in ``DATABASE_REPLICAS``). With none, the router
answers nothing and the middleware removes itself: every query goes to the primary, as it
always did.

Which reads go to a replica (``ReplicaRouter.db_for_read``): only those of a *public read*,
an anonymous ``GET``/``HEAD`` that

- carries no session cookie (a signed-in reader, or one whose session holds something),
- and no pin cookie (``PIN_COOKIE``: its browser wrote something a moment ago),
- is not the admin, an account page (allauth) or a reader's own page (``PRIMARY_VIEWS``),
- and has not written anything yet (once ``db_for_write`` is called, the rest of the
  request reads the primary), outside any transaction open on the primary.

Everything without a request (management commands, tasks run by a worker, the live
version fast path in ``site_config/wsgi.py``, which runs before the middleware) reads the
primary. Writes always go to the primary; migrations run only there.

Read-your-writes: a response to an unsafe request (``POST`` …) sets ``PIN_COOKIE`` for
``DATABASE_PIN_SECONDS``, so that browser's next requests read the primary while the
replicas catch up. An edge cache must pass any request with that cookie to the app.

Health: a replica is used only while it answers and is at most
``DATABASE_REPLICA_MAX_LAG_SECONDS`` behind (``replica_health``, measured at most once a
second per worker and replica, a down one every ``DOWN_RETRY_SECONDS``); otherwise its
reads go to another healthy replica or the primary, and the change is logged (again at
most once a minute while it lasts). A replica that fails in the middle of a request that
wrote nothing makes that request run again on the primary (``ReplicaMiddleware``).
"""

import contextlib
import contextvars
import logging
import random
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, Error, InterfaceError, OperationalError, connections
from django.dispatch import receiver
from django.urls import Resolver404, get_resolver

logger = logging.getLogger("threadpress")

PIN_COOKIE = "tp_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
PUBLIC_METHODS = frozenset({"GET", "HEAD"})
# Pages that show a reader their own things, opened from an email link without a session:
# they read what that reader's last write left, so from the primary.
PRIMARY_VIEWS = frozenset(
    {
        "comments:account",
        "comments:appeal",
        "comments:edit",
        "comments:follow-confirm",
        "comments:follow-unsubscribe",
        "comments:follows",
        "comments:privacy",
        "comments:privacy-download",
        "comments:privacy-erase",
        "comments:privacy-erasure",
        "comments:privacy-export",
        "comments:unsubscribe",
        "comments:withdraw",
    }
)

CHECK_SECONDS = 1.0  # how long a worker trusts what it measured of a replica
DOWN_RETRY_SECONDS = 5.0  # how long it leaves a replica that did not answer alone
LOG_SECONDS = 60.0  # how often a lasting problem is logged again

# PostgreSQL: 0 on a primary; on a standby, 0 while it has replayed all it received from
# a streaming WAL receiver, else the age of the last replayed transaction. NULL (lag
# unknown: not streaming, or nothing replayed yet) counts as too far behind: a standby
# cut off from its primary stays "caught up" with what it received, however old. "<=",
# not "=": a restarted standby's receiver starts at the beginning of a WAL segment, behind
# what it already replayed, and an idle primary would leave it "behind" until its next
# commit.
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN NULL
    WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
END
"""


# --- the request's route ---------------------------------------------------------------
class Route:
    """Where the current request reads: decided at its first read, the primary for good
    once it writes. While it reads a replica, it watches that replica's queries."""

    __slots__ = ("request", "alias", "wrote", "failed")

    def __init__(self, request):
        self.request = request
        self.alias = None  # a replica's alias or DEFAULT_DB_ALIAS, once a read asks
        self.wrote = False
        self.failed = None  # the error a query on the replica raised

    def read_alias(self):
        if self.alias is None:
            alias = choose_replica() if is_public_read(self.request) else DEFAULT_DB_ALIAS
            if alias != DEFAULT_DB_ALIAS:
                connections[alias].execute_wrappers.append(self._watch)
            self.alias = alias
        return self.alias

    @property
    def on_replica(self):
        return self.alias not in (None, DEFAULT_DB_ALIAS)

    def use_primary(self):
        """Read the primary from now on (and stop watching the replica)."""
        if self.on_replica:
            with contextlib.suppress(ValueError):
                connections[self.alias].execute_wrappers.remove(self._watch)
        self.alias = DEFAULT_DB_ALIAS

    def _watch(self, execute, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except (OperationalError, InterfaceError) as exc:  # the replica's, not the query's
            self.failed = exc
            raise


_route = contextvars.ContextVar("threadpress_db_route", default=None)


def replicas():
    return settings.DATABASE_REPLICAS


def is_public_read(request):
    """True for an anonymous page view any replica may answer (see the module docstring)."""
    if request.method not in PUBLIC_METHODS:
        return False
    cookies = request.COOKIES
    if PIN_COOKIE in cookies or settings.SESSION_COOKIE_NAME in cookies:
        return False
    match = request.resolver_match
    if match is None:  # a read before the URL is resolved (in a middleware)
        try:
            match = get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
        except Resolver404:
            return True  # the 404 page
    if "admin" in match.namespaces or match.view_name in PRIMARY_VIEWS:
        return False
    return not getattr(match.func, "__module__", "").startswith("allauth.")


def choose_replica():
    """A healthy replica's alias, at random among them, or the primary's."""
    healthy = replica_health.usable(replicas())
    return random.choice(healthy) if healthy else DEFAULT_DB_ALIAS


class ReplicaRouter:
    """``DATABASE_ROUTERS``: public reads to a replica, all else to the primary."""

    def db_for_read(self, model, **hints):
        if not replicas():
            return None
        route = _route.get()
        if route is None or route.wrote:
            return DEFAULT_DB_ALIAS
        alias = route.read_alias()
        if alias != DEFAULT_DB_ALIAS and connections[DEFAULT_DB_ALIAS].in_atomic_block:
            # A transaction on the primary reads what it wrote and locked there.
            return DEFAULT_DB_ALIAS
        return alias

    def db_for_write(self, model, **hints):
        if not replicas():
            return None
        route = _route.get()
        if route is not None:
            route.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        ours = {DEFAULT_DB_ALIAS, *replicas()}
        if len(ours) > 1 and obj1._state.db in ours and obj2._state.db in ours:
            return True  # the same data, some of it read from a copy
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db in replicas():
            return False
        return None


class ReplicaMiddleware:
    """Early in ``MIDDLEWARE``: gives each request its route, pins a browser that wrote
    to the primary (``PIN_COOKIE``), and runs a public read again on the primary when
    its replica failed under it. Not used at all without replicas."""

    def __init__(self, get_response):
        if not replicas():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        route = Route(request)
        token = _route.set(route)
        try:
            response = self.get_response(request)
            if self._replica_failed(route, response):
                logger.warning(
                    "Replica %s failed during %s %s (%s); answered from the primary",
                    route.alias,
                    request.method,
                    request.path,
                    route.failed or "no answer",
                )
                route.use_primary()
                response = self.get_response(request)
        finally:
            route.use_primary()
            _route.reset(token)
        if request.method not in SAFE_METHODS and settings.DATABASE_PIN_SECONDS > 0:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.DATABASE_PIN_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    @staticmethod
    def _replica_failed(route, response):
        """A server error in a request that read from a replica and wrote nothing, when a
        query on the replica failed (a lost connection, a query cancelled by recovery) or
        the replica no longer answers: it can run again on the primary."""
        if response.status_code < 500 or route.wrote or not route.on_replica:
            return False
        down = not replica_health.check(route.alias).usable
        return down or route.failed is not None


# --- replica health ----------------------------------------------------------------------
@dataclass
class Health:
    checked_at: float
    lag: float | None = None  # seconds behind the primary; None: unknown
    error: str = ""  # why it could not be asked
    usable: bool = False


class ReplicaHealth:
    """What each worker knows of each replica: whether it answers and how far behind it
    is, measured on the worker's own connection and trusted for ``CHECK_SECONDS`` (a
    replica that did not answer for ``DOWN_RETRY_SECONDS``), so a request pays for a
    measurement about once a second per worker, and the others pay nothing."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.states = {}  # alias → Health
        self.logged = {}  # alias → (what was logged, when)
        self.lock = threading.Lock()

    def usable(self, aliases):
        now = self.clock()
        found = []
        for alias in aliases:
            state = self.states.get(alias)
            if state is None or now - state.checked_at >= self._trust(state):
                state = self.check(alias)
            if state.usable:
                found.append(alias)
        return found

    @staticmethod
    def _trust(state):
        return CHECK_SECONDS if state.error == "" else DOWN_RETRY_SECONDS

    def check(self, alias):
        """Measure ``alias`` now; never raises."""
        max_lag = settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        state = Health(checked_at=self.clock())
        try:
            state.lag = measure_lag(connections[alias])
        except Error as exc:
            state.error = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            close_quietly(connections[alias])
        else:
            state.usable = state.lag is not None and state.lag <= max_lag
        with self.lock:
            self.states[alias] = state
        self._report(alias, state, max_lag)
        return state

    def _report(self, alias, state, max_lag):
        if state.error:
            what = "down"
            message, args = (
                "Replica %s unreachable (%s); reading from the primary",
                (
                    alias,
                    state.error,
                ),
            )
        elif not state.usable:
            what = "behind"
            lag = "unknown" if state.lag is None else f"{state.lag:.1f} s"
            message, args = (
                "Replica %s is behind the primary (%s, bound %s s); reading from the primary",
                (alias, lag, max_lag),
            )
        else:
            what = "ok"
        with self.lock:
            last = self.logged.get(alias)
            if (
                last is not None
                and last[0] == what
                and (what == "ok" or state.checked_at - last[1] < LOG_SECONDS)
            ):
                return
            self.logged[alias] = (what, state.checked_at)
        if what != "ok":
            logger.warning(message, *args)
        elif last is not None:
            logger.info("Replica %s is back (%.1f s behind); reading from it", alias, state.lag)

    def clear(self):
        with self.lock:
            self.states.clear()
            self.logged.clear()


def measure_lag(connection):
    """Seconds ``connection``'s database is behind its primary (None: unknown); 0 for a
    database that is no PostgreSQL standby."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(LAG_SQL)
            (lag,) = cursor.fetchone()
            return None if lag is None else max(float(lag), 0.0)
        cursor.execute("SELECT 1")
        cursor.fetchone()
        return 0.0


def close_quietly(connection):
    with contextlib.suppress(Error):
        connection.close()


replica_health = ReplicaHealth()


@receiver(setting_changed)
def _forget_on_settings_change(*, setting, **kwargs):
    if setting in ("DATABASE_REPLICAS", "DATABASE_REPLICA_MAX_LAG_SECONDS", "DATABASES"):
        replica_health.clear()
