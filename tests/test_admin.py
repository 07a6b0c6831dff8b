"""The moderation desk: the comment changelist is the queue; actions go through moderation."""

from datetime import timedelta

import html5lib
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comments.models import Comment, CommentRevision

pytestmark = pytest.mark.django_db

Status = Comment.Status
CHANGELIST = "admin:comments_comment_changelist"


def parse(response):
    return html5lib.parse(response.content, treebuilder="etree", namespaceHTMLElements=False)


def text(element):
    return " ".join("".join(element.itertext()).split())


def result_rows(response):
    """The changelist's rows as {pk, cells: {column class: element}}."""
    rows = []
    table = parse(response).find(".//table[@id='result_list']")
    if table is None:
        return rows
    for tr in table.find("tbody").findall("tr"):
        checkbox = tr.find(".//input[@name='_selected_action']")
        cells = {}
        for cell in tr:
            for css in (cell.get("class") or "").split():
                if css.startswith("field-"):
                    cells[css.removeprefix("field-")] = cell
        rows.append({"pk": int(checkbox.get("value")), "cells": cells})
    return rows


def row_ids(response):
    return [row["pk"] for row in result_rows(response)]


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def admin_client_(superuser):
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def staff_client(staff_user):
    from django.contrib.auth.models import Group

    staff_user.groups.add(Group.objects.get(name="Moderators"))
    client = Client()
    client.force_login(staff_user)
    return client


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


# --- the queue ------------------------------------------------------------------------
def test_changelist_opens_on_pending_comments_longest_waiting_first(admin_client_, comment_factory):
    """Otherwise equal, the comment that has waited longer has the higher priority
    (tests/test_queue_priority.py has the rest of the queue's order)."""
    older = comment_factory(status=Status.PENDING, created_at=ago(hours=2))
    newer = comment_factory(status=Status.PENDING, created_at=ago(minutes=1))
    comment_factory(status=Status.APPROVED)
    comment_factory(status=Status.SPAM)
    response = admin_client_.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert row_ids(response) == [older.pk, newer.pk]


@pytest.mark.parametrize("status", ["approved", "spam", "removed"])
def test_one_click_shows_each_other_status(admin_client_, comment_factory, status):
    wanted = comment_factory(status=status)
    comment_factory(status=Status.PENDING)
    response = admin_client_.get(reverse(CHANGELIST), {"status": status})
    assert row_ids(response) == [wanted.pk]


def test_all_choice_shows_every_status(admin_client_, comment_factory):
    comments = [comment_factory(status=status) for status in Status.values]
    response = admin_client_.get(reverse(CHANGELIST), {"status": "all"})
    assert sorted(row_ids(response)) == sorted(c.pk for c in comments)


def test_status_filter_offers_all_and_reported_choices(admin_client_):
    response = admin_client_.get(reverse(CHANGELIST))
    filters = parse(response).find(".//nav[@id='changelist-filter']")
    labels = [text(a) for a in filters.iter("a")]
    for label in ["Pending", "Approved", "Spam", "Removed", "Reported by readers", "All"]:
        assert label in labels
    selected = [text(li) for li in filters.iter("li") if "selected" in (li.get("class") or "")]
    assert "Pending" in selected


def test_columns_show_the_comment_in_its_context(admin_client_, comment_factory, article):
    parent = comment_factory(article=article, author_name="Parent Poster")
    reply = comment_factory(
        parent=parent,
        status=Status.PENDING,
        author_name="Rita Replier",
        author_email="rita@example.org",
        body="This reply is waiting.",
        ip_address="198.51.100.23",
        report_count=2,
    )
    root = comment_factory(article=article, status=Status.PENDING)
    response = admin_client_.get(reverse(CHANGELIST))
    rows = {row["pk"]: row["cells"] for row in result_rows(response)}
    cells = rows[reply.pk]

    excerpt_link = cells["excerpt"].find(".//a")
    assert excerpt_link.get("href") == reverse("admin:comments_comment_change", args=[reply.pk])
    assert text(excerpt_link) == "This reply is waiting."
    assert "Rita Replier" in text(cells["author"])
    mailto = [
        a.get("href") for a in cells["author"].iter("a") if a.get("class") != "commenter-link"
    ]
    assert mailto == ["mailto:rita@example.org"]
    article_link = cells["article_link"].find(".//a")
    assert article_link.get("href") == article.get_absolute_url()
    assert text(article_link) == article.title
    assert text(cells["thread_context"]) == "reply to Parent Poster"
    assert cells["thread_context"].find(".//a").get("href") == reverse(
        "admin:comments_comment_change", args=[parent.pk]
    )
    assert text(cells["depth"]) == "2"
    badge = cells["status_badge"].find(".//span")
    assert "comment-status--pending" in badge.get("class")
    assert text(badge) == "Pending"
    assert text(cells["report_summary"]) == "2"
    assert text(cells["ip_address"]) == "198.51.100.23"
    assert text(rows[root.pk]["thread_context"]) == "new thread"
    assert text(rows[root.pk]["depth"]) == "1"


def test_changelist_does_not_count_the_whole_table(admin_client_, comment_factory):
    comment_factory(status=Status.PENDING)
    response = admin_client_.get(reverse(CHANGELIST))
    assert response.context["cl"].show_full_result_count is False
    assert response.context["cl"].full_result_count is None


def test_changelist_query_count_does_not_grow_with_rows(
    admin_client_, comment_factory, article, django_assert_max_num_queries
):
    def queries_for_queue():
        with CaptureQueriesContext(connection) as context:
            response = admin_client_.get(reverse(CHANGELIST), {"status": "all"})
        assert response.status_code == 200
        return len(context.captured_queries), len(row_ids(response))

    def add(count):
        for _ in range(count):
            root = comment_factory(article=article, status=Status.PENDING)
            comment_factory(parent=root, status=Status.PENDING, report_count=1)

    queries_for_queue()  # the word lists (highlighted in the rows) reach the cache
    add(3)
    few, rows_few = queries_for_queue()
    add(27)
    many, rows_many = queries_for_queue()
    assert (rows_few, rows_many) == (6, 60)
    assert few == many
    # session, user, article filter, paginator count, the rows: 5 measured.
    with django_assert_max_num_queries(6):
        admin_client_.get(reverse(CHANGELIST))


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("Findable Name", "match"),
        ("findme@example.org", "match"),
        ("192.0.2.99", "match"),
        ("needle-in-body", "match"),
    ],
)
def test_search_by_name_email_ip_and_body(admin_client_, comment_factory, term, expected):
    match = comment_factory(
        status=Status.PENDING,
        author_name="Findable Name",
        author_email="findme@example.org",
        ip_address="192.0.2.99",
        body="There is a needle-in-body here.",
    )
    comment_factory(status=Status.PENDING)
    response = admin_client_.get(reverse(CHANGELIST), {"q": term})
    assert row_ids(response) == [match.pk]


def test_filter_by_article(admin_client_, comment_factory, article):
    mine = comment_factory(article=article, status=Status.PENDING)
    comment_factory(status=Status.PENDING)
    response = admin_client_.get(reverse(CHANGELIST), {"article__id__exact": article.pk})
    assert row_ids(response) == [mine.pk]


def test_filter_reported(admin_client_, comment_factory):
    reported = comment_factory(status=Status.PENDING, report_count=3)
    quiet = comment_factory(status=Status.PENDING)
    assert row_ids(admin_client_.get(reverse(CHANGELIST), {"reported": "yes"})) == [reported.pk]
    assert row_ids(admin_client_.get(reverse(CHANGELIST), {"reported": "no"})) == [quiet.pk]


def test_reported_status_choice_lists_reported_comments_of_any_status(
    admin_client_, comment_factory
):
    approved_reported = comment_factory(status=Status.APPROVED, report_count=1)
    pending_reported = comment_factory(status=Status.PENDING, report_count=3)
    comment_factory(status=Status.APPROVED)
    response = admin_client_.get(reverse(CHANGELIST), {"status": "reported"})
    assert sorted(row_ids(response)) == sorted([approved_reported.pk, pending_reported.pk])


def test_filter_is_a_reply(admin_client_, comment_factory):
    root = comment_factory(status=Status.PENDING, created_at=ago(minutes=5))
    reply = comment_factory(parent=root, status=Status.PENDING)
    assert row_ids(admin_client_.get(reverse(CHANGELIST), {"is_reply": "yes"})) == [reply.pk]
    assert row_ids(admin_client_.get(reverse(CHANGELIST), {"is_reply": "no"})) == [root.pk]


def test_filter_by_created_date(admin_client_, comment_factory):
    today = comment_factory(status=Status.PENDING)
    comment_factory(status=Status.PENDING, created_at=ago(days=40))
    now = timezone.localtime()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    response = admin_client_.get(
        reverse(CHANGELIST),
        {
            "created_at__gte": start.strftime("%Y-%m-%d %H:%M:%S%z"),
            "created_at__lt": (start + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S%z"),
        },
    )
    assert row_ids(response) == [today.pk]


# --- the change page ----------------------------------------------------------------------
def change_url(comment):
    return reverse("admin:comments_comment_change", args=[comment.pk])


def test_change_page_shows_ancestors_linked_and_direct_replies(admin_client_, comment_factory):
    root = comment_factory(author_name="Root Author")
    middle = comment_factory(parent=root, author_name="Middle Author")
    current = comment_factory(parent=middle, author_name="Current Author")
    first = comment_factory(parent=current, author_name="First Replier")
    comment_factory(parent=first, author_name="Grandchild")
    second = comment_factory(parent=current, author_name="Second Replier")
    response = admin_client_.get(change_url(current))
    assert response.status_code == 200
    context = parse(response).find(".//ul[@class='comment-thread-context']")
    # The comments' links (each author's commenter page is linked beside them).
    links = [a.get("href") for a in context.iter("a") if a.get("class") != "commenter-link"]
    assert links == [change_url(c) for c in (root, middle, first, second)]
    assert "Current Author" in text(context.find(".//strong"))
    assert "2 direct replies" in text(context)
    assert "Grandchild" not in text(context)


def test_change_page_shows_reason_history_and_revisions(admin_client_, comment_factory, superuser):
    from comments import moderation

    comment = comment_factory(
        status=Status.PENDING, moderation_reason="held: 3 links", body="Edited text"
    )
    CommentRevision.objects.create(comment=comment, body="The original text")
    moderation.approve([comment], by=superuser)
    response = admin_client_.get(change_url(comment))
    page = parse(response)
    reason = page.find(".//div[@class='form-row field-moderation_reason']")
    assert "held: 3 links" in text(reason)
    history = page.find(".//ul[@class='comment-history']")
    assert "root" in text(history) and "Approved" in text(history)
    revisions = page.find(".//ol[@class='comment-revisions']")
    assert "The original text" in text(revisions)


def test_change_page_parent_is_a_raw_id_field(admin_client_, comment_factory):
    root = comment_factory()
    reply = comment_factory(parent=root)
    page = parse(admin_client_.get(change_url(reply)))
    field = page.find(".//input[@name='parent']")
    assert "vForeignKeyRawIdAdminField" in field.get("class")
    assert field.get("value") == str(root.pk)
    assert page.find(".//select[@name='parent']") is None


def test_change_page_query_count_does_not_grow_with_replies(admin_client_, comment_factory):
    def queries(comment):
        with CaptureQueriesContext(connection) as context:
            assert admin_client_.get(change_url(comment)).status_code == 200
        return len(context.captured_queries)

    few = comment_factory()
    for _ in range(2):
        comment_factory(parent=few)
    many = comment_factory()
    for _ in range(25):
        comment_factory(parent=many)
    queries(few)  # warm the content type cache
    assert queries(few) == queries(many)


def test_status_is_not_editable_on_the_change_page(admin_client_, comment_factory):
    comment = comment_factory(status=Status.PENDING)
    page = parse(admin_client_.get(change_url(comment)))
    assert page.find(".//select[@name='status']") is None


def test_editing_the_text_in_the_admin_keeps_the_status(admin_client_, comment_factory):
    comment = comment_factory(status=Status.PENDING)
    response = admin_client_.post(
        change_url(comment),
        {
            "author_name": comment.author_name,
            "author_email": comment.author_email,
            "author_url": "",
            "body": "Redacted by a moderator.",
            "parent": "",
            "notify_replies": "",
        },
    )
    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.body == "Redacted by a moderator."
    assert comment.status == Status.PENDING


def test_correcting_the_email_in_the_admin_moves_the_comment_to_that_commenter(
    admin_client_, comment_factory
):
    first = comment_factory(status=Status.APPROVED, author_email="typo@exmaple.com")
    comment_factory(status=Status.APPROVED, author_email="ann@example.com")
    old = first.commenter
    response = admin_client_.post(
        change_url(first),
        {
            "author_name": first.author_name,
            "author_email": "Ann@Example.com",
            "author_url": "",
            "body": first.body,
            "parent": "",
            "notify_replies": "",
        },
    )
    assert response.status_code == 302
    first.refresh_from_db()
    old.refresh_from_db()
    assert first.commenter.email == "ann@example.com"
    assert first.commenter.approved_count == 2
    assert old.approved_count == 0


def test_a_superuser_deleting_a_comment_recounts_its_commenter(client, superuser, comment_factory):
    comment = comment_factory(status=Status.SPAM)
    commenter = comment.commenter
    commenter.refresh_from_db()
    assert commenter.spam_count == 1
    client.force_login(superuser)
    response = client.post(
        reverse("admin:comments_comment_delete", args=[comment.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    commenter.refresh_from_db()
    assert commenter.spam_count == 0


# --- bulk actions ----------------------------------------------------------------------------
ACTIONS = [
    ("approve_selected", Status.PENDING, Status.APPROVED, "approved", "Approved"),
    ("spam_selected", Status.PENDING, Status.SPAM, "marked as spam", "Marked as spam"),
    ("remove_selected", Status.APPROVED, Status.REMOVED, "removed", "Removed"),
    ("restore_selected", Status.SPAM, Status.PENDING, "restored to the queue", "Restored"),
]


@pytest.mark.parametrize(("action", "start", "end", "message", "log"), ACTIONS)
def test_bulk_action_changes_status_records_moderator_and_log_entry(
    admin_client_, comment_factory, superuser, action, start, end, message, log
):
    comments = [comment_factory(status=start) for _ in range(3)]
    already = comment_factory(status=end)
    response = admin_client_.post(
        reverse(CHANGELIST) + "?status=all",
        {
            "action": action,
            "_selected_action": [c.pk for c in [*comments, already]],
            # Removing states its reason (tests/test_removal_reasons.py); others ignore it.
            "removal_reason": "off_topic",
            "apply_removal": "1",
        },
        follow=True,
    )
    assert f"3 comments were {message}." in messages_of(response)
    for comment in comments:
        comment.refresh_from_db()
        assert comment.status == end
        assert comment.moderated_by == superuser
        assert comment.moderated_at is not None
        entry = LogEntry.objects.get(
            object_id=str(comment.pk), content_type=ContentType.objects.get_for_model(Comment)
        )
        assert entry.user == superuser
        assert entry.change_message.startswith(log)
    assert not LogEntry.objects.filter(object_id=str(already.pk)).exists()


def test_bulk_action_message_uses_singular_for_one(admin_client_, comment_factory):
    comment = comment_factory(status=Status.PENDING)
    response = admin_client_.post(
        reverse(CHANGELIST),
        {"action": "approve_selected", "_selected_action": [comment.pk]},
        follow=True,
    )
    assert "1 comment was approved." in messages_of(response)


def test_bulk_delete_action_is_not_offered(admin_client_, comment_factory):
    comment = comment_factory(status=Status.PENDING)
    page = parse(admin_client_.get(reverse(CHANGELIST)))
    actions = [option.get("value") for option in page.iter("option")]
    assert "delete_selected" not in actions
    assert "approve_selected" in actions
    response = admin_client_.post(
        reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [comment.pk]}
    )
    assert response.status_code in (200, 302)
    assert Comment.objects.filter(pk=comment.pk).exists()


def test_history_page_says_who_did_what(admin_client_, comment_factory):
    comment = comment_factory(status=Status.PENDING)
    admin_client_.post(
        reverse(CHANGELIST), {"action": "spam_selected", "_selected_action": [comment.pk]}
    )
    response = admin_client_.get(reverse("admin:comments_comment_history", args=[comment.pk]))
    row = text(parse(response).find(".//div[@id='change-history']//tbody"))
    assert "root" in row
    assert "Marked as spam" in row


# --- buttons on the change page -------------------------------------------------------------
def moderate_url(comment, action):
    return reverse("admin:comments_comment_moderate", args=[comment.pk, action])


def test_change_page_shows_a_button_for_each_possible_action(admin_client_, comment_factory):
    comment = comment_factory(status=Status.PENDING)
    page = parse(admin_client_.get(change_url(comment)))
    forms = page.findall(".//form[@class='comment-moderation-form']")
    assert [form.get("action") for form in forms] == [
        moderate_url(comment, "approve"),
        moderate_url(comment, "spam"),
        moderate_url(comment, "remove"),
    ]
    for form in forms:
        assert form.get("method") == "post"
        assert form.find(".//input[@name='csrfmiddlewaretoken']") is not None


@pytest.mark.parametrize(
    ("action", "start", "end"),
    [
        ("approve", Status.PENDING, Status.APPROVED),
        ("spam", Status.PENDING, Status.SPAM),
        ("remove", Status.APPROVED, Status.REMOVED),
        ("restore", Status.REMOVED, Status.PENDING),
    ],
)
def test_change_page_button_moderates_with_a_log_entry(
    admin_client_, comment_factory, superuser, action, start, end
):
    comment = comment_factory(status=start)
    response = admin_client_.post(
        moderate_url(comment, action), {"action": action, "removal_reason": "spam"}
    )
    assert response.status_code == 302
    assert response["Location"] == change_url(comment)
    comment.refresh_from_db()
    assert comment.status == end
    assert comment.moderated_by == superuser
    assert LogEntry.objects.filter(object_id=str(comment.pk), user=superuser).count() == 1


def test_approve_and_next_opens_the_next_pending_comment(admin_client_, comment_factory):
    older = comment_factory(status=Status.PENDING, created_at=ago(hours=1))
    newer = comment_factory(status=Status.PENDING, created_at=ago(minutes=1))
    response = admin_client_.post(moderate_url(newer, "approve"), {"_next": "1"})
    assert response["Location"] == change_url(older)
    response = admin_client_.post(moderate_url(older, "approve"), {"_next": "1"})
    assert response["Location"] == reverse(CHANGELIST)


def test_moderation_button_refuses_get(admin_client_, comment_factory):
    comment = comment_factory(status=Status.PENDING)
    assert admin_client_.get(moderate_url(comment, "approve")).status_code == 405
    comment.refresh_from_db()
    assert comment.status == Status.PENDING


def test_moderation_button_requires_csrf_token(superuser, comment_factory):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    comment = comment_factory(status=Status.PENDING)
    assert client.post(moderate_url(comment, "approve")).status_code == 403
    comment.refresh_from_db()
    assert comment.status == Status.PENDING


def test_unknown_moderation_action_is_refused(admin_client_, comment_factory):
    comment = comment_factory(status=Status.PENDING)
    assert admin_client_.post(moderate_url(comment, "delete")).status_code == 403
    assert Comment.objects.filter(pk=comment.pk, status=Status.PENDING).exists()


# --- deleting ----------------------------------------------------------------------------
def test_superuser_can_delete_a_comment_without_replies(admin_client_, comment_factory):
    root = comment_factory()
    leaf = comment_factory(parent=root)
    response = admin_client_.post(
        reverse("admin:comments_comment_delete", args=[leaf.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Comment.objects.filter(pk=leaf.pk).exists()
    root.refresh_from_db()
    assert (root.lft, root.rght) == (1, 2)


def test_comment_with_replies_is_not_deleted_and_the_admin_says_why(admin_client_, comment_factory):
    root = comment_factory()
    comment_factory(parent=root)
    response = admin_client_.post(
        reverse("admin:comments_comment_delete", args=[root.pk]), {"post": "yes"}, follow=True
    )
    assert Comment.objects.filter(pk=root.pk).exists()
    assert any("has replies, so it cannot be deleted" in m for m in messages_of(response))


def test_staff_with_delete_permission_still_cannot_delete(staff_user, comment_factory):
    from django.contrib.auth.models import Permission

    staff_user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_comment", "change_comment", "delete_comment"]
        )
    )
    client = Client()
    client.force_login(staff_user)
    comment = comment_factory()
    response = client.post(
        reverse("admin:comments_comment_delete", args=[comment.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Comment.objects.filter(pk=comment.pk).exists()


def test_comments_cannot_be_added_in_the_admin(admin_client_):
    assert admin_client_.get(reverse("admin:comments_comment_add")).status_code == 403


# --- pending counts elsewhere ---------------------------------------------------------------
def test_admin_index_shows_how_many_comments_wait(admin_client_, comment_factory):
    for _ in range(3):
        comment_factory(status=Status.PENDING)
    comment_factory(status=Status.APPROVED)
    page = parse(admin_client_.get(reverse("admin:index")))
    notice = page.find(".//p[@id='moderation-queue']")
    assert text(notice) == "3 comments wait in the moderation queue."
    assert notice.find(".//a").get("href") == reverse(CHANGELIST)


def test_admin_index_says_when_the_queue_is_empty(admin_client_):
    page = parse(admin_client_.get(reverse("admin:index")))
    assert text(page.find(".//p[@id='moderation-queue']")) == "The moderation queue is empty."


def test_article_admin_pending_count_links_to_the_filtered_queue(
    admin_client_, comment_factory, article
):
    mine = comment_factory(article=article, status=Status.PENDING)
    comment_factory(article=article, status=Status.APPROVED)
    comment_factory(status=Status.PENDING)
    page = parse(admin_client_.get(reverse("admin:articles_article_changelist")))
    row = next(tr for tr in page.iter("tr") if article.title in text(tr))
    link = next(a for a in row.iter("a") if text(a) == "1 pending")
    response = admin_client_.get(link.get("href"))
    assert row_ids(response) == [mine.pk]
