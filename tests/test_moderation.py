"""comments/moderation.py: the one place a comment's status changes."""

import html5lib
import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client

from articles.models import Article
from comments import moderation
from comments.models import Comment

pytestmark = pytest.mark.django_db

Status = Comment.Status


def parse(response):
    return html5lib.parse(response.content, treebuilder="etree", namespaceHTMLElements=False)


def version(article):
    return Article.objects.values_list("comments_version", flat=True).get(pk=article.pk)


def test_set_status_returns_how_many_changed(comment_factory, superuser):
    pending = [comment_factory(status=Status.PENDING) for _ in range(2)]
    already = comment_factory(status=Status.APPROVED)
    assert moderation.approve([*pending, already], by=superuser) == 2
    assert moderation.approve([*pending, already], by=superuser) == 0


def test_set_status_accepts_a_queryset(comment_factory):
    for _ in range(3):
        comment_factory(status=Status.PENDING)
    assert moderation.mark_spam(Comment.objects.pending()) == 3
    assert not Comment.objects.pending().exists()


def test_moderator_and_time_are_recorded(comment_factory, superuser):
    comment = comment_factory(status=Status.PENDING)
    moderation.approve([comment], by=superuser)
    comment.refresh_from_db()
    assert comment.moderated_by == superuser
    assert comment.moderated_at is not None


def test_log_entry_records_who_did_what(comment_factory, superuser):
    comment = comment_factory(status=Status.PENDING)
    moderation.remove([comment], by=superuser, reason="off topic")
    entry = LogEntry.objects.get(object_id=str(comment.pk))
    assert entry.user == superuser
    assert entry.action_flag == CHANGE
    assert entry.change_message == "Removed (off topic) (was pending)."


def test_changes_by_the_site_leave_no_log_entry(comment_factory):
    comment = comment_factory(status=Status.APPROVED)
    moderation.restore([comment], reason="reported by readers")
    assert not LogEntry.objects.exists()
    comment.refresh_from_db()
    assert comment.moderation_reason == "reported by readers"
    assert comment.moderated_by is None


def test_reason_is_kept_when_none_is_given(comment_factory, superuser):
    comment = comment_factory(status=Status.PENDING, moderation_reason="held: 3 links")
    moderation.approve([comment], by=superuser)
    comment.refresh_from_db()
    assert comment.moderation_reason == "held: 3 links"


def test_change_bumps_the_thread_version_of_each_article(comment_factory):
    first = comment_factory(status=Status.PENDING)
    second = comment_factory(status=Status.PENDING)
    before = (version(first.article), version(second.article))
    moderation.approve([first, second])
    assert (version(first.article), version(second.article)) == (before[0] + 1, before[1] + 1)


def test_no_change_no_version_bump(comment_factory):
    comment = comment_factory(status=Status.APPROVED)
    before = version(comment.article)
    moderation.approve([comment])
    assert version(comment.article) == before


def test_moderation_never_deletes_rows(comment_factory, superuser):
    root = comment_factory()
    comment_factory(parent=root)
    for action in (moderation.mark_spam, moderation.remove, moderation.restore):
        action(Comment.objects.all(), by=superuser)
    assert Comment.objects.count() == 2


def test_removed_comment_with_replies_leaves_a_placeholder(client, comment_factory, article):
    root = comment_factory(article=article, body="Regrettable words.")
    reply = comment_factory(parent=root, body="A sensible reply.")
    moderation.remove([root])
    page = parse(client.get(article.get_absolute_url()))
    placeholder = page.find(f".//li[@id='comment-{root.pk}']")
    assert "placeholder" in placeholder.get("class")
    content = " ".join("".join(placeholder.itertext()).split())
    assert "This comment was removed." in content
    assert "Regrettable words." not in content
    assert placeholder.find(f".//li[@id='comment-{reply.pk}']") is not None


def test_bulk_change_takes_a_constant_number_of_queries(
    comment_factory, superuser, django_assert_max_num_queries
):
    few = [comment_factory(status=Status.PENDING) for _ in range(2)]
    many = [comment_factory(status=Status.PENDING) for _ in range(40)]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        moderation.approve(few, by=superuser)
    with CaptureQueriesContext(connection) as large:
        moderation.approve(many, by=superuser)
    assert len(small.captured_queries) == len(large.captured_queries)
    # 6 for the change, its pages and its log; 3 recount the authors' records
    # (comments.commenters.refresh_stats: counts, last decisions, one update).
    with django_assert_max_num_queries(9):
        moderation.restore(many, by=superuser)


def test_posting_records_a_pending_comment_without_a_log_entry(article, comment_data):
    response = Client().post(f"/comments/post/{article.slug}/", comment_data())
    assert response.status_code == 303
    assert Comment.objects.get().status == Status.PENDING
    assert not LogEntry.objects.exists()


def test_staff_comment_bumps_the_thread_version(article, comment_data, staff_user):
    client = Client()
    client.force_login(staff_user)
    before = version(article)
    client.post(f"/comments/post/{article.slug}/", comment_data())
    assert Comment.objects.get().status == Status.APPROVED
    assert version(article) == before + 1
