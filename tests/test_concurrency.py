"""Concurrent posting never corrupts a tree.

Real threads, real commits (``transaction=True``): each thread posts through
``comments.posting.post_comment`` with a validated form, on its own database
connection, all starting together. Afterwards every comment is stored, no thread
saw an error, ``comments_check`` finds every tree consistent and no two roots
share a tree id.
"""

import random
import sqlite3
import threading
import time

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Count

from comments import posting
from comments.forms import TIMESTAMP_SALT, CommentForm
from comments.models import Comment
from comments.treewrites import is_transient, retry_write
from tests.factories import ArticleFactory, CommentFactory

ENGINE = django_settings.DATABASES["default"]["ENGINE"]
on_postgresql = pytest.mark.skipif(
    "postgresql" not in ENGINE, reason="8 concurrent writers need PostgreSQL (DATABASE_URL)"
)
on_sqlite = pytest.mark.skipif(
    "sqlite" not in ENGINE, reason="the SQLite variant runs when DATABASE_URL is SQLite"
)


@pytest.fixture
def _posting_settings(settings):
    settings.COMMENTS_FLOOD_SECONDS = 0
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    settings.COMMENTS_SPAM_CHECKER = ""


def valid_form(article, *, body, parent=None):
    form = CommentForm(
        {
            "name": "Concurrent Reader",
            "email": "concurrent@example.org",
            "body": body,
            "parent": str(parent) if parent else "",
            "timestamp": signing.dumps(time.time() - 60, salt=TIMESTAMP_SALT),
        },
        article=article,
    )
    assert form.is_valid(), form.errors
    return form


class Scenario:
    """Three articles, a hot thread, and a pool of comments anyone may answer."""

    def __init__(self):
        self.articles = [ArticleFactory() for _ in range(3)]
        self.hot = CommentFactory(article=self.articles[0])
        self.hot_ids = [self.hot.pk]
        self.reply_ids = []  # (article index, comment id)
        for index, article in enumerate(self.articles):
            for _ in range(3):
                root = CommentFactory(article=article)
                self.reply_ids.append((index, root.pk))
        self.ids_lock = threading.Lock()
        self.errors = []

    def post(self, worker, number, rng):
        kind = (worker + number) % 3
        body = f"Worker {worker}, comment {number}."
        if kind == 0:  # a reply somewhere in the one hot thread
            with self.ids_lock:
                parent = rng.choice(self.hot_ids)
            article_index = 0
        elif kind == 1:  # a reply into a random thread of a random article
            with self.ids_lock:
                article_index, parent = rng.choice(self.reply_ids)
        else:  # a new thread on one of the three articles
            article_index, parent = rng.randrange(3), None
        article = self.articles[article_index]
        comment = posting.post_comment(
            article=article,
            form=valid_form(article, body=body, parent=parent),
            request_meta=posting.RequestMeta(ip_address=f"198.51.100.{worker + 1}"),
        )
        with self.ids_lock:
            if kind == 0:
                self.hot_ids.append(comment.pk)
            else:
                self.reply_ids.append((article_index, comment.pk))

    def run(self, *, workers, per_worker):
        barrier = threading.Barrier(workers)

        def work(worker):
            rng = random.Random(worker)
            try:
                barrier.wait()
                for number in range(per_worker):
                    self.post(worker, number, rng)
            except Exception as exc:  # collected and asserted on in the main thread
                self.errors.append(f"worker {worker}: {exc!r}")
            finally:
                connections.close_all()

        threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def assert_trees_consistent():
    call_command("comments_check", verbosity=0)  # exits with status 1 on a broken tree
    shared = (
        Comment.objects.filter(parent=None)
        .values("tree_id")
        .annotate(roots=Count("pk"))
        .filter(roots__gt=1)
    )
    assert list(shared) == []


def run_scenario(*, workers, per_worker):
    scenario = Scenario()
    before = Comment.objects.count()
    scenario.run(workers=workers, per_worker=per_worker)
    assert scenario.errors == []
    assert Comment.objects.count() - before == workers * per_worker
    assert Comment.objects.filter(body__startswith="Worker ").count() == workers * per_worker
    assert_trees_consistent()
    hot = Comment.objects.get(pk=scenario.hot.pk)
    assert hot.rght - hot.lft + 1 == 2 * len(scenario.hot_ids)


@on_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_posting_settings")
def test_eight_threads_posting_fifty_comments_each_keep_every_tree_valid_on_postgresql():
    run_scenario(workers=8, per_worker=50)


@pytest.fixture
def sqlite_file_database(tmp_path):
    """Run on a copy of the test database in a file, as production does.

    The test runner's in-memory SQLite database uses shared-cache mode, where a
    writer makes other connections fail at once with "table is locked" instead
    of waiting; a file database in WAL mode lets readers read while one writer
    writes and queues writers behind the busy timeout.

    The in-memory connection itself is left untouched: the browser tests' live server
    shares that very object with its request threads, and a request thread finishing
    late closes it unless it is still an in-memory connection (closing a connection
    another thread is using crashes the interpreter). This thread and the workers get
    connections of their own to the file instead.
    """
    in_memory = connections["default"]
    if not in_memory.is_in_memory_db():
        yield
        return
    in_memory.ensure_connection()
    path = tmp_path / "concurrency.sqlite3"
    target = sqlite3.connect(path)
    in_memory.connection.backup(target)
    target.close()
    shared_settings = connections.settings["default"]
    in_memory.settings_dict = dict(shared_settings)  # stays in memory, whatever happens next
    original_name = shared_settings["NAME"]
    shared_settings["NAME"] = str(path)  # the workers' new connections open the file
    connections["default"] = on_file = connections.create_connection("default")
    try:
        yield
    finally:
        on_file.close()
        shared_settings["NAME"] = original_name
        in_memory.settings_dict = shared_settings
        connections["default"] = in_memory


@on_sqlite
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_posting_settings", "sqlite_file_database")
def test_four_threads_posting_fifty_comments_each_keep_every_tree_valid_on_sqlite():
    run_scenario(workers=4, per_worker=50)


@pytest.mark.django_db(transaction=True)
def test_a_write_that_hits_a_lock_is_retried_then_succeeds():
    calls = []

    def flaky_write():
        calls.append(1)
        if len(calls) < 3:
            raise _locked_error()
        return "stored"

    assert retry_write(flaky_write, first_delay=0) == "stored"
    assert len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_a_write_still_locked_after_the_retries_raises_for_the_503_page():
    calls = []

    def always_locked():
        calls.append(1)
        raise _locked_error()

    with pytest.raises(Exception, match="database is locked"):
        retry_write(always_locked, attempts=3, first_delay=0)
    assert len(calls) == 3


def test_other_database_errors_are_not_retried():
    from django.db import OperationalError

    assert not is_transient(OperationalError("no such column: nope"))
    assert not is_transient(ValueError("database is locked"))
    assert is_transient(_locked_error())
    assert not connection.in_atomic_block


def _locked_error():
    from django.db import OperationalError

    return OperationalError("database is locked")
