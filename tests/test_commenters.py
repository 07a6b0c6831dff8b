"""Commenters: every comment gets the commenter of its email address, and each
commenter's record (counts, first and last seen, recent rejection rate, last rejection)
follows posting, moderation, edits and imports (comments.commenters)."""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comments import commenters, moderation, posting, treewrites
from comments.models import Comment, Commenter
from comments.wxr import import_wxr
from tests.factories import ArticleFactory, UserFactory
from tests.test_import_wxr import comment as wxr_comment
from tests.test_import_wxr import export, item

pytestmark = pytest.mark.django_db

Status = Comment.Status


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


_addresses = iter(range(1, 250))


def post(article, data, *, client=None):
    response = (client or Client()).post(
        reverse("comments:post", args=[article.slug]),
        data,
        REMOTE_ADDR=f"198.51.100.{next(_addresses)}",
    )
    assert response.status_code == 303
    return Comment.objects.order_by("-pk").first()


def stats(commenter):
    commenter.refresh_from_db()
    return (
        commenter.approved_count,
        commenter.pending_count,
        commenter.spam_count,
        commenter.removed_count,
    )


# --- posting ----------------------------------------------------------------------------------
def test_a_first_comment_creates_its_commenter(article, comment_data):
    comment = post(article, comment_data(email="  Ada@Example.ORG", name="Ada"))
    commenter = comment.commenter
    assert commenter.email == "ada@example.org"
    assert commenter.name == "Ada"
    assert stats(commenter) == (0, 1, 0, 0)
    assert commenter.first_seen == commenter.last_seen == comment.created_at


def test_one_person_in_any_spelling_is_one_commenter(article, comment_data):
    first = post(article, comment_data(email="ada@example.org", name="Ada", body="One."))
    second = post(article, comment_data(email="ADA@example.org", name="Ada L.", body="Two."))
    assert first.commenter_id == second.commenter_id
    commenter = Commenter.objects.get()
    assert commenter.name == "Ada L."  # the latest name
    assert commenter.first_seen == first.created_at
    assert commenter.last_seen == second.created_at
    assert stats(commenter) == (0, 2, 0, 0)


def test_a_logged_in_poster_gives_their_commenter_the_account(article, comment_data):
    user = UserFactory(email="ada@example.org")
    # A reader account posts once its address is verified (comments.accounts).
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client = Client()
    client.force_login(user)
    comment = post(article, comment_data(), client=client)
    assert comment.commenter.user == user
    post(article, comment_data(body="Logged out now."))  # the account stays known
    assert Commenter.objects.get().user == user


def test_a_refused_post_creates_no_commenter(article, comment_data, comment_factory):
    comment_factory(article=article, author_email="ada@example.org", body="Same words.")
    before = Commenter.objects.values_list("pk", "approved_count").get()
    response = Client().post(
        reverse("comments:post", args=[article.slug]),
        comment_data(body="Same words."),
        REMOTE_ADDR="198.51.100.200",
    )
    assert response.status_code == 409  # a duplicate
    assert Commenter.objects.values_list("pk", "approved_count").get() == before


def test_the_tree_insert_gives_any_new_comment_its_commenter(article):
    comment = Comment(
        article=article,
        author_name="Seed",
        author_email="Seed@Example.com",
        body="Inserted by a script.",
        status=Status.APPROVED,
        created_at=timezone.now(),
    )
    with transaction.atomic():
        treewrites.insert(comment, parent=None)
    assert comment.commenter.email == "seed@example.com"
    assert stats(comment.commenter) == (1, 0, 0, 0)


def test_concurrent_first_comments_share_one_commenter(monkeypatch):
    """The loser of a race to create a commenter reads the winner's row."""
    winner = commenters.commenter_for("ada@example.org", name="Ada")

    class NotYetVisible:  # the winner's row, as the loser's first read missed it
        def first(self):
            return None

    monkeypatch.setattr(Commenter.objects, "filter", lambda **kwargs: NotYetVisible())
    loser = commenters.commenter_for("ADA@example.org", name="Ada")
    assert loser.pk == winner.pk


# --- moderation ---------------------------------------------------------------------------------
def test_bulk_moderation_recounts_every_author(comment_factory, staff_user):
    ada = [comment_factory(author_email="ada@example.org", status=Status.PENDING) for _ in range(3)]
    bob = [comment_factory(author_email="bob@example.org", status=Status.PENDING) for _ in range(2)]
    moderation.approve([ada[0], ada[1], bob[0]], by=staff_user)
    moderation.mark_spam([ada[2], bob[1]], by=staff_user)
    ada_commenter, bob_commenter = ada[0].commenter, bob[0].commenter
    assert stats(ada_commenter) == (2, 0, 1, 0)
    assert stats(bob_commenter) == (1, 0, 1, 0)
    assert ada_commenter.recent_rejection_rate == pytest.approx(1 / 3)
    assert bob_commenter.recent_rejection_rate == pytest.approx(1 / 2)
    spammed_at = Comment.objects.get(pk=ada[2].pk).moderated_at
    assert ada_commenter.last_rejected_at == spammed_at


def test_restoring_a_rejected_comment_clears_the_rejection(comment_factory, staff_user):
    comment = comment_factory(author_email="ada@example.org", status=Status.PENDING)
    moderation.remove([comment], by=staff_user)
    moderation.restore([comment], by=staff_user)
    commenter = Commenter.objects.get()
    assert stats(commenter) == (0, 1, 0, 0)
    assert commenter.recent_rejection_rate == 0.0
    assert commenter.last_rejected_at is None


def test_the_rate_counts_only_the_last_ten_decisions(comment_factory, staff_user):
    comments = [
        comment_factory(author_email="ada@example.org", status=Status.PENDING) for _ in range(12)
    ]
    moderation.mark_spam(comments[:2], by=staff_user)
    moderation.approve(comments[2:], by=staff_user)
    old = timezone.now() - timedelta(days=5)
    Comment.objects.filter(pk__in=[c.pk for c in comments[:2]]).update(moderated_at=old)
    commenters.refresh_stats([comments[0].commenter_id])
    commenter = Commenter.objects.get()
    assert commenter.recent_rejection_rate == 0.0  # the two spams are older than the last 10
    assert commenter.last_rejected_at == old
    assert stats(commenter) == (10, 0, 2, 0)


def test_the_sites_own_decisions_are_no_rejections(comment_factory):
    comment = comment_factory(author_email="ada@example.org", status=Status.APPROVED)
    posting.withdraw_comment(comment)
    commenter = Commenter.objects.get()
    assert stats(commenter) == (0, 0, 0, 1)
    assert commenter.recent_rejection_rate == 0.0
    assert commenter.last_rejected_at is None


def test_recounting_costs_the_same_for_2_or_40_commenters(
    comment_factory, staff_user, django_assert_max_num_queries
):
    few = [comment_factory(status=Status.PENDING) for _ in range(2)]
    many = [comment_factory(status=Status.PENDING) for _ in range(40)]
    moderation.approve([comment_factory(status=Status.PENDING)], by=staff_user)  # warm-up
    with CaptureQueriesContext(connection) as small:
        commenters.refresh_stats({c.commenter_id for c in few})
    with django_assert_max_num_queries(len(small.captured_queries)):
        commenters.refresh_stats({c.commenter_id for c in many})
    assert len(small.captured_queries) == 3


def test_an_edit_held_by_the_rules_recounts_its_author(settings, article, comment_data):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    client = Client()
    comment = post(article, comment_data(body="Fine words."), client=client)
    assert stats(comment.commenter) == (1, 0, 0, 0)
    settings.COMMENTS_MODERATION_KEYS = ["casino"]
    response = client.post(
        reverse("comments:edit", args=[comment.pk]),
        {"body": "Visit my casino."},
        REMOTE_ADDR="198.51.100.10",
    )
    assert response.status_code == 303
    assert stats(comment.commenter) == (0, 1, 0, 0)


# --- imports ------------------------------------------------------------------------------------
@pytest.fixture
def write_wxr(tmp_path):
    counter = iter(range(1000))

    def write(*items):
        path = tmp_path / f"export-{next(counter)}.xml"
        path.write_text(export(*items), encoding="utf-8")
        return path

    return write


def test_imported_comments_get_commenters_created_in_bulk(write_wxr):
    comments = [
        wxr_comment(1, email="Ann@Example.org", author="Ann", date="2020-01-02 10:00:00"),
        wxr_comment(2, email="ann@example.org", author="Ann B.", date="2020-01-03 10:00:00"),
        wxr_comment(3, email="bob@example.org", approved="0"),
        wxr_comment(4, email="eve@example.org", approved="spam"),
    ]
    import_wxr(write_wxr(item(5, comments=comments)))
    assert not Comment.objects.filter(commenter__isnull=True).exists()
    ann = Commenter.objects.get(email="ann@example.org")
    assert ann.name == "Ann B."
    assert stats(ann) == (2, 0, 0, 0)
    assert ann.first_seen < ann.last_seen
    assert stats(Commenter.objects.get(email="bob@example.org")) == (0, 1, 0, 0)
    assert stats(Commenter.objects.get(email="eve@example.org")) == (0, 0, 1, 0)


def test_imported_comments_join_an_existing_commenter(write_wxr, comment_factory):
    existing = comment_factory(author_email="ann@example.org").commenter
    import_wxr(write_wxr(item(5, comments=[wxr_comment(1, email="ANN@example.org")])))
    assert Commenter.objects.get() == existing
    assert stats(existing) == (2, 0, 0, 0)


def test_reimporting_a_changed_address_moves_the_comment_to_its_commenter(write_wxr):
    import_wxr(write_wxr(item(5, comments=[wxr_comment(1, email="old@example.org")])))
    import_wxr(write_wxr(item(5, comments=[wxr_comment(1, email="new@example.org")])))
    comment = Comment.objects.get()
    assert comment.commenter.email == "new@example.org"
    assert stats(comment.commenter) == (1, 0, 0, 0)
    assert stats(Commenter.objects.get(email="old@example.org")) == (0, 0, 0, 0)


def test_bulk_insert_gives_each_comment_a_commenter():
    article = ArticleFactory()
    now = timezone.now()
    comments = [
        Comment(
            article=article, author_name=f"R{n}", author_email=f"r{n % 3}@example.org",
            body=f"Bulk {n}.", body_html="", status=Status.APPROVED, created_at=now,
        )
        for n in range(7)
    ]  # fmt: skip
    with transaction.atomic():
        treewrites.place_new_comments(comments, tree_ids=treewrites.TreeIds())
        treewrites.bulk_insert(comments)
    assert Commenter.objects.count() == 3
    assert sorted(c.approved_count for c in Commenter.objects.all()) == [2, 2, 3]
    assert not Comment.objects.filter(commenter__isnull=True).exists()


@pytest.mark.skipif(
    "postgresql" not in connection.settings_dict["ENGINE"],
    reason="concurrent writers need PostgreSQL (DATABASE_URL)",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_a_new_address_make_one_commenter_counting_them_all(settings):
    """Real threads and commits: the race to create the commenter and the counting
    UPDATEs lose nothing."""
    import threading

    from django.db import connections

    from tests.test_concurrency import valid_form

    settings.COMMENTS_FLOOD_SECONDS = 0
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    article = ArticleFactory()
    start, errors = threading.Barrier(6), []

    def worker(number):
        try:
            start.wait()
            for index in range(5):
                form = valid_form(article, body=f"Worker {number}, comment {index}.")
                meta = posting.RequestMeta(ip_address=f"198.51.100.{number}")
                posting.post_comment(article=article, form=form, request_meta=meta)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    commenter = Commenter.objects.get()
    assert commenter.email == "concurrent@example.org"
    assert stats(commenter) == (30, 0, 0, 0)
    assert not Comment.objects.filter(commenter__isnull=True).exists()
