"""Reader reports: a Report button per public comment, once per session, and a threshold."""

import html5lib
import pytest
from django.test import Client
from django.urls import reverse

from comments import moderation, reports
from comments.models import Comment, CommentReport

pytestmark = pytest.mark.django_db

Status = Comment.Status


def parse(response):
    return html5lib.parse(response.content, treebuilder="etree", namespaceHTMLElements=False)


def report_url(comment):
    return reverse("comments:report", args=[comment.pk])


def report_button(page, comment):
    """The comment's report control: (text, enabled) or None."""
    article = page.find(f".//li[@id='comment-{comment.pk}']/article")
    if article is None:
        return None
    for button in article.iter("button"):
        if "comment-report-button" in (button.get("class") or ""):
            label = (button.text or "").strip()
            return label, button.get("disabled") is None
    return None


def csrf_client():
    return Client(enforce_csrf_checks=True)


def csrf_token_from(page):
    form = page.find(".//form[@id='comment-report-form']")
    return form.find(".//input[@name='csrfmiddlewaretoken']").get("value")


def report_as_reader(client, comment):
    """Open the article page, then press the comment's Report button."""
    page = parse(client.get(comment.article.get_absolute_url()))
    article = page.find(f".//li[@id='comment-{comment.pk}']/article")
    button = next(b for b in article.iter("button") if "comment-report-button" in b.get("class"))
    assert button.get("form") == "comment-report-form"
    return client.post(button.get("formaction"), {"csrfmiddlewaretoken": csrf_token_from(page)})


@pytest.fixture
def approved(comment_factory, article):
    return comment_factory(article=article, status=Status.APPROVED)


def test_public_comment_has_a_report_button_posting_with_csrf(client, approved):
    page = parse(client.get(approved.article.get_absolute_url()))
    assert report_button(page, approved) == ("Report", True)
    form = page.find(".//form[@id='comment-report-form']")
    assert form.get("method") == "post"
    assert csrf_token_from(page)


def test_report_counts_and_then_reads_reported(approved):
    client = csrf_client()
    response = report_as_reader(client, approved)
    assert response.status_code == 303
    approved.refresh_from_db()
    assert approved.report_count == 1
    page = parse(client.get(approved.article.get_absolute_url()))
    assert report_button(page, approved) == ("Reported", False)


def test_report_without_csrf_token_is_refused(approved):
    response = csrf_client().post(report_url(approved))
    assert response.status_code == 403
    approved.refresh_from_db()
    assert approved.report_count == 0


def test_report_requires_post(client, approved):
    assert client.get(report_url(approved)).status_code == 405


def test_second_report_from_the_same_session_does_not_count(client, approved):
    client.post(report_url(approved))
    client.post(report_url(approved))
    approved.refresh_from_db()
    assert approved.report_count == 1
    assert CommentReport.objects.filter(comment=approved).count() == 1


@pytest.mark.parametrize("status", [Status.PENDING, Status.SPAM, Status.REMOVED])
def test_non_public_comment_cannot_be_reported(client, comment_factory, status):
    comment = comment_factory(status=status)
    assert client.post(report_url(comment)).status_code == 404
    assert not CommentReport.objects.exists()


def test_threshold_returns_an_approved_comment_to_pending(approved):
    for _ in range(2):
        Client().post(report_url(approved))
    approved.refresh_from_db()
    assert approved.status == Status.APPROVED
    Client().post(report_url(approved))
    approved.refresh_from_db()
    assert approved.status == Status.PENDING
    assert approved.moderation_reason == "reported by readers"
    assert approved.report_count == 3
    assert approved.moderated_by is None


def test_report_threshold_setting(settings, approved):
    settings.COMMENTS_REPORT_THRESHOLD = 1
    Client().post(report_url(approved))
    approved.refresh_from_db()
    assert approved.status == Status.PENDING


def test_comment_sent_back_by_readers_leaves_the_public_page(client, approved):
    for _ in range(3):
        Client().post(report_url(approved))
    page = parse(client.get(approved.article.get_absolute_url()))
    assert page.find(f".//li[@id='comment-{approved.pk}']") is None


def test_after_a_moderator_approves_it_takes_a_full_threshold_again(approved, superuser):
    for n in range(3):
        reports.report_comment(approved, session_key=f"s{n}")
    moderation.approve([approved], by=superuser)
    approved.refresh_from_db()
    reports.report_comment(approved, session_key="s-late")
    approved.refresh_from_db()
    assert approved.status == Status.APPROVED
    for n in range(2):
        reports.report_comment(approved, session_key=f"s-new{n}")
    approved.refresh_from_db()
    assert approved.status == Status.PENDING


def test_reported_comment_appears_in_the_admin_reported_filter(approved, superuser):
    for _ in range(3):
        Client().post(report_url(approved))
    admin = Client()
    admin.force_login(superuser)
    response = admin.get(reverse("admin:comments_comment_changelist"), {"reported": "yes"})
    rows = parse(response).findall(".//table[@id='result_list']/tbody/tr")
    ids = [int(tr.find(".//input[@name='_selected_action']").get("value")) for tr in rows]
    assert ids == [approved.pk]
    row_text = " ".join("".join(rows[0].itertext()).split())
    assert "reported by readers" in row_text
    assert "Pending" in row_text


def test_report_records_the_trusted_client_ip(settings, approved):
    settings.COMMENTS_TRUSTED_PROXY_COUNT = 1
    Client().post(
        report_url(approved),
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    assert CommentReport.objects.get().ip_address == "203.0.113.9"
