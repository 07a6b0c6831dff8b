"""Reader reports: a Report link per public comment opens a confirmation page asking for a
reason; each report is kept, but only one per reader (session, IP network, account or
email) counts towards the threshold that sends a comment back to the queue."""

import importlib
import threading

import html5lib
import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from comments import moderation, reports
from comments.models import Comment, CommentReport
from tests.conftest import FormClient
from tests.factories import CommentFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = Comment.Status
Reason = CommentReport.Reason
THANKS = "Thank you. A moderator will look at this comment."


def parse(response):
    return html5lib.parse(
        response.content.decode(), treebuilder="etree", namespaceHTMLElements=False
    )


def text(element):
    return " ".join("".join(element.itertext()).split())


def classes(element):
    return set((element.get("class") or "").split())


def report_url(comment):
    return reverse("comments:report", args=[comment.pk])


def report_control(page, comment):
    """The comment's own report control (link or disabled button), or None."""
    article = page.find(f".//li[@id='comment-{comment.pk}']/article")
    if article is None:
        return None
    for element in article.iter():
        if element.tag in ("a", "button") and "comment-report-button" in classes(element):
            return element
    return None


def report_button(page, comment):
    """The comment's report control as (text, enabled) or None."""
    control = report_control(page, comment)
    if control is None:
        return None
    label = (control.text or "").strip()
    return label, control.get("disabled") is None


def csrf_client(**defaults):
    return FormClient(enforce_csrf_checks=True, **defaults)


def open_report_page(client, comment):
    """Open the article page and follow the comment's Report link, as a reader would."""
    page = parse(client.get(comment.article.get_absolute_url()))
    link = report_control(page, comment)
    assert link.tag == "a"
    response = client.get(link.get("href"))
    assert response.status_code == 200
    return parse(response)


def report_form(page):
    return page.find(".//form[@class='comment-form report-comment-form']")


def report_as_reader(client, comment, *, reason=Reason.SPAM, explanation="", email=None):
    """Follow the Report link, choose a reason on the page and press "Send report"."""
    form = report_form(open_report_page(client, comment))
    data = {
        "csrfmiddlewaretoken": form.find(".//input[@name='csrfmiddlewaretoken']").get("value"),
        "reason": reason,
        "explanation": explanation,
    }
    if email is not None:
        data["email"] = email
    return client.post(form.get("action") or report_url(comment), data)


def report_from(comment, ip, *, reason=Reason.SPAM, email=None, user=None):
    """A report from a new browser session at ``ip`` (logged in as ``user`` if given)."""
    client = csrf_client(REMOTE_ADDR=ip)
    if user is not None:
        client.force_login(user)
    response = report_as_reader(client, comment, reason=reason, email=email)
    assert response.status_code == 303
    return response


def heading_count(client, article):
    section = parse(client.get(article.get_absolute_url())).find(".//section[@id='comments']")
    return int(section.get("data-comment-count"))


@pytest.fixture
def approved(comment_factory, article):
    return comment_factory(article=article, status=Status.APPROVED)


# --- the Report link and the confirmation page ------------------------------------------
def test_public_comment_has_a_report_link_to_the_report_page(client, approved):
    page = parse(client.get(approved.article.get_absolute_url()))
    link = report_control(page, approved)
    assert link.tag == "a"
    assert link.get("href") == report_url(approved)
    assert text(link) == f"Report comment by {approved.author_name}"
    assert page.find(".//form[@id='comment-report-form']") is None


def test_report_page_is_a_confirmation_page_that_stores_nothing(client, approved):
    approved.body = "A comment someone finds objectionable, quoted on the report page."
    approved.save()
    response = client.get(report_url(approved))
    assert response.status_code == 200
    page = parse(response)
    assert page.find(".//meta[@name='robots']").get("content") == "noindex"
    assert page.find(".//header[@class='site-header']") is not None  # the site's look
    quoted = text(page.find(".//figure[@class='reported-comment']"))
    assert approved.author_name in quoted
    assert approved.excerpt in quoted
    form = report_form(page)
    assert form.get("method") == "post"
    assert form.find(".//input[@name='csrfmiddlewaretoken']").get("value")
    radios = form.findall(".//input[@name='reason']")
    assert [radio.get("type") for radio in radios] == ["radio"] * 5
    assert [radio.get("value") for radio in radios] == Reason.values
    labels = [text(form.find(f".//label[@for='{radio.get('id')}']")) for radio in radios]
    assert labels == [
        "Spam",
        "Abuse or harassment",
        "Off-topic",
        "Personal data",
        "Illegal content",
    ]
    assert form.find(".//textarea[@name='explanation']") is not None
    assert form.find(".//input[@name='email']").get("type") == "email"
    assert text(form.find(".//button[@type='submit']")) == "Send report"
    cancel = next(a for a in form.iter("a") if text(a) == "Cancel")
    assert cancel.get("href") == approved.get_absolute_url()
    assert not CommentReport.objects.exists()
    approved.refresh_from_db()
    assert approved.report_count == 0


def test_logged_in_reader_is_not_asked_for_an_email(client, approved):
    client.force_login(UserFactory())
    form = report_form(parse(client.get(report_url(approved))))
    assert form.find(".//input[@name='email']") is None


def test_report_counts_and_then_reads_reported(approved):
    client = csrf_client()
    response = report_as_reader(client, approved, reason=Reason.OFF_TOPIC)
    assert response.status_code == 303
    assert response["Location"] == f"{approved.article.get_absolute_url()}#comment-{approved.pk}"
    approved.refresh_from_db()
    assert approved.report_count == 1
    report = CommentReport.objects.get()
    assert (report.reason, report.counted) == (Reason.OFF_TOPIC, True)
    page = parse(client.get(approved.article.get_absolute_url()))
    assert THANKS in text(page.find(".//ul[@class='messages']"))
    assert report_button(page, approved) == ("Reported", False)


def test_report_without_csrf_token_is_refused(approved):
    response = csrf_client().post(report_url(approved), {"reason": Reason.SPAM})
    assert response.status_code == 403
    approved.refresh_from_db()
    assert approved.report_count == 0


def test_report_page_refuses_other_methods(client, approved):
    assert client.put(report_url(approved)).status_code == 405


def test_report_requires_a_reason_and_keeps_the_text(client, approved):
    response = client.post(report_url(approved), {"explanation": "My own words here."})
    assert response.status_code == 400
    form = report_form(parse(response))
    assert text(form.find(".//*[@id='id_reason_error']")) == "Please choose a reason."
    assert form.find(".//textarea[@name='explanation']").text.strip() == "My own words here."
    assert not CommentReport.objects.exists()
    approved.refresh_from_db()
    assert approved.report_count == 0


def test_an_unknown_reason_is_refused(client, approved):
    response = client.post(report_url(approved), {"reason": "boring"})
    assert response.status_code == 400
    error = report_form(parse(response)).find(".//*[@id='id_reason_error']")
    assert text(error) == "Please choose one of the reasons listed."
    assert not CommentReport.objects.exists()


def test_illegal_content_requires_an_explanation(client, approved):
    response = client.post(
        report_url(approved),
        {"reason": Reason.ILLEGAL, "explanation": "   ", "email": "Me@Example.org"},
    )
    assert response.status_code == 400
    form = report_form(parse(response))
    assert text(form.find(".//*[@id='id_explanation_error']")) == (
        "Please explain what is illegal about this comment."
    )
    checked = [
        r.get("value")
        for r in form.findall(".//input[@name='reason']")
        if r.get("checked") is not None
    ]
    assert checked == [Reason.ILLEGAL]
    assert form.find(".//input[@name='email']").get("value") == "Me@Example.org"
    assert not CommentReport.objects.exists()


def test_illegal_content_report_keeps_its_explanation_and_email(client, approved):
    response = client.post(
        report_url(approved),
        {
            "reason": Reason.ILLEGAL,
            "explanation": "  It publishes a stolen credit card number.  ",
            "email": " Reader@Example.ORG ",
        },
    )
    assert response.status_code == 303
    report = CommentReport.objects.get()
    assert report.reason == Reason.ILLEGAL
    assert report.explanation == "It publishes a stolen credit card number."
    assert report.reporter_email == "reader@example.org"


def test_an_invalid_email_gets_a_field_error(client, approved):
    response = client.post(report_url(approved), {"reason": Reason.SPAM, "email": "not-an-email"})
    assert response.status_code == 400
    error = report_form(parse(response)).find(".//*[@id='id_email_error']")
    assert "valid email address" in text(error)
    assert not CommentReport.objects.exists()


def test_second_report_from_the_same_session_changes_nothing(client, approved):
    client.post(report_url(approved), {"reason": Reason.SPAM})
    response = client.post(report_url(approved), {"reason": Reason.ABUSE})
    assert response.status_code == 303
    approved.refresh_from_db()
    assert approved.report_count == 1
    assert list(CommentReport.objects.values_list("reason", flat=True)) == [Reason.SPAM]


def test_report_page_says_when_this_session_already_reported(client, approved):
    client.post(report_url(approved), {"reason": Reason.SPAM})
    page = parse(client.get(report_url(approved)))
    assert "You have already reported this comment." in text(page.find(".//main"))


@pytest.mark.parametrize("status", [Status.PENDING, Status.SPAM, Status.REMOVED])
def test_non_public_comment_cannot_be_reported(client, comment_factory, status):
    comment = comment_factory(status=status)
    assert client.get(report_url(comment)).status_code == 404
    assert client.post(report_url(comment), {"reason": Reason.SPAM}).status_code == 404
    assert not CommentReport.objects.exists()


# --- distinct reporters ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ip_address", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.77", "203.0.113.0/24"),
        (None, ""),
        ("", ""),
        ("not an address", ""),
    ],
)
def test_reporter_network_is_the_ipv4_24_or_ipv6_64(ip_address, network):
    assert reports.reporter_network(ip_address) == network


@pytest.mark.parametrize(
    "addresses",
    [
        ("198.51.100.1", "198.51.100.2", "198.51.100.250"),
        ("2001:db8:7:8::1", "2001:db8:7:8:ffff::9", "2001:db8:7:8:1:2:3:4"),
    ],
    ids=["ipv4-24", "ipv6-64"],
)
def test_three_sessions_on_one_network_count_once(client, approved, comment_factory, addresses):
    """Clearing cookies (a new session each time) from one network is one reader."""
    comment_factory(article=approved.article)
    assert heading_count(client, approved.article) == 2
    for ip in addresses:
        report_from(approved, ip)
    approved.refresh_from_db()
    assert approved.status == Status.APPROVED
    assert approved.report_count == 3
    assert [r.counted for r in CommentReport.objects.order_by("pk")] == [True, False, False]
    assert reports.reports_since_last_decision(approved) == 1
    assert heading_count(client, approved.article) == 2


def test_three_readers_on_three_networks_send_it_back(client, approved, comment_factory):
    comment_factory(article=approved.article)
    for ip in ("198.51.100.1", "198.51.101.1", "2001:db8:7:8::1"):
        report_from(approved, ip)
    approved.refresh_from_db()
    assert approved.status == Status.PENDING
    assert approved.moderation_reason == "reported by readers"
    assert approved.moderated_by is None
    assert heading_count(client, approved.article) == 1


def test_the_same_email_from_three_networks_counts_once(approved):
    for ip, email in [
        ("198.51.100.1", "troll@example.org"),
        ("198.51.101.1", "Troll@Example.org"),
        ("2001:db8:7:8::1", "TROLL@example.org "),
    ]:
        report_from(approved, ip, email=email)
    approved.refresh_from_db()
    assert approved.status == Status.APPROVED
    assert [r.counted for r in CommentReport.objects.order_by("pk")] == [True, False, False]


def test_the_same_logged_in_reader_from_three_networks_counts_once(approved):
    reader = UserFactory()
    for ip in ("198.51.100.1", "198.51.101.1", "2001:db8:7:8::1"):
        report_from(approved, ip, user=reader)
    approved.refresh_from_db()
    assert approved.status == Status.APPROVED
    assert approved.report_count == 3
    assert set(CommentReport.objects.values_list("user", flat=True)) == {reader.pk}
    assert reports.reports_since_last_decision(approved) == 1


def test_different_emails_from_different_networks_count_as_different_readers(approved):
    for n, ip in enumerate(("198.51.100.1", "198.51.101.1", "2001:db8:7:8::1")):
        report_from(approved, ip, email=f"reader{n}@example.org")
    approved.refresh_from_db()
    assert approved.status == Status.PENDING


def test_report_threshold_setting(settings, approved):
    settings.COMMENTS_REPORT_THRESHOLD = 1
    report_from(approved, "198.51.100.1")
    approved.refresh_from_db()
    assert approved.status == Status.PENDING


def test_after_a_moderator_approves_it_takes_a_full_threshold_again(approved, superuser):
    def report(session, ip):
        reports.report_comment(approved, session_key=session, reason=Reason.SPAM, ip_address=ip)

    for n in range(3):
        report(f"s{n}", f"198.51.{100 + n}.1")
    moderation.approve([approved], by=superuser)
    approved.refresh_from_db()
    report("s-late", "198.51.100.9")  # the same network as before the decision: counts again
    approved.refresh_from_db()
    assert approved.status == Status.APPROVED
    report("s-late-2", "198.51.100.10")  # but only once
    approved.refresh_from_db()
    assert approved.status == Status.APPROVED
    for n in range(2):
        report(f"s-new{n}", f"192.0.{2 + n}.1")
    approved.refresh_from_db()
    assert approved.status == Status.PENDING


def test_report_records_the_trusted_client_ip_and_its_network(settings, approved):
    settings.TRUSTED_PROXY_COUNT = 1
    FormClient().post(
        report_url(approved),
        {"reason": Reason.SPAM},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    report = CommentReport.objects.get()
    assert (report.ip_address, report.network) == ("203.0.113.9", "203.0.113.0/24")


@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="concurrent writers need PostgreSQL (DATABASE_URL)",
)
@pytest.mark.django_db(transaction=True)
def test_simultaneous_reports_from_one_network_count_once():
    """Reports of one comment queue behind its row: two arriving together from one
    network cannot both find no earlier report and both count."""
    comment = CommentFactory(status=Status.APPROVED)
    workers = 6
    barrier = threading.Barrier(workers)
    errors = []

    def work(n):
        try:
            barrier.wait()
            reports.report_comment(
                comment, session_key=f"race-{n}", reason=Reason.SPAM, ip_address=f"198.51.100.{n}"
            )
        except Exception as exc:  # collected and asserted on in the main thread
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert CommentReport.objects.filter(comment=comment).count() == workers
    assert CommentReport.objects.filter(comment=comment, counted=True).count() == 1
    comment.refresh_from_db()
    assert (comment.status, comment.report_count) == (Status.APPROVED, workers)


def test_existing_reports_get_their_network_and_counted_from_the_migration(approved):
    """Reports stored before reasons existed: the migration works out network and counted."""
    migration = importlib.import_module(
        "comments.migrations.0004_report_reasons_and_distinct_reporters"
    )
    for session, ip in [("a", "198.51.100.1"), ("b", "198.51.100.2"), ("c", "192.0.2.1")]:
        CommentReport.objects.create(comment=approved, session_key=session, ip_address=ip)
    migration.fill_existing_reports(apps, None)
    rows = CommentReport.objects.order_by("pk").values_list("network", "counted")
    assert list(rows) == [
        ("198.51.100.0/24", True),
        ("198.51.100.0/24", False),
        ("192.0.2.0/24", True),
    ]


# --- what the public sees of a comment sent back ------------------------------------------
def test_comment_sent_back_by_readers_leaves_the_public_page(client, approved):
    for ip in ("198.51.100.1", "198.51.101.1", "192.0.2.1"):
        report_from(approved, ip)
    page = parse(client.get(approved.article.get_absolute_url()))
    assert page.find(f".//li[@id='comment-{approved.pk}']") is None


def test_comment_sent_back_with_replies_is_awaiting_review_not_removed(client, approved):
    reply = CommentFactory(parent=approved, status=Status.APPROVED)
    for ip in ("198.51.100.1", "198.51.101.1", "192.0.2.1"):
        report_from(approved, ip)
    approved.refresh_from_db()
    assert approved.status == Status.PENDING
    page = parse(client.get(approved.article.get_absolute_url()))
    placeholder = page.find(f".//li[@id='comment-{approved.pk}']")
    assert "placeholder" in classes(placeholder)
    content = text(placeholder.find("div[@class='comment-body']"))
    assert content == "This comment is awaiting review."
    assert approved.body not in text(placeholder)
    assert placeholder.find(f".//li[@id='comment-{reply.pk}']") is not None


@pytest.mark.parametrize("status", [Status.SPAM, Status.REMOVED])
def test_spam_or_removed_comment_with_replies_still_reads_removed(
    client, approved, status, superuser
):
    CommentFactory(parent=approved, status=Status.APPROVED)
    moderation.set_status([approved], status, by=superuser)
    page = parse(client.get(approved.article.get_absolute_url()))
    placeholder = page.find(f".//li[@id='comment-{approved.pk}']")
    assert text(placeholder.find("div[@class='comment-body']")) == "This comment was removed."


# --- what moderators see -----------------------------------------------------------------
@pytest.fixture
def admin_client_(superuser):
    client = FormClient()
    client.force_login(superuser)
    return client


def add_reports(comment, *reasons, counted=True):
    for reason in reasons:
        n = CommentReport.objects.count()
        CommentReport.objects.create(
            comment=comment,
            session_key=f"session-{n}",
            reason=reason,
            explanation="It is against the law." if reason == Reason.ILLEGAL else "",
            ip_address=f"192.0.2.{n % 250}",
            network=f"192.0.2.{n % 250}/32",
            counted=counted,
        )
    Comment.objects.filter(pk=comment.pk).update(report_count=comment.reports.count())


def queue_cells(response):
    """``{comment id: text of its "reports" cell}`` from the changelist HTML."""
    cells = {}
    for tr in parse(response).findall(".//table[@id='result_list']/tbody/tr"):
        pk = int(tr.find(".//input[@name='_selected_action']").get("value"))
        cell = next(td for td in tr if "field-report_summary" in classes(td))
        cells[pk] = text(cell)
    return cells


def test_queue_shows_the_reasons_of_reported_comments(admin_client_, comment_factory):
    reported = comment_factory(status=Status.PENDING)
    add_reports(reported, Reason.SPAM, Reason.ILLEGAL, Reason.SPAM)
    one = comment_factory(status=Status.PENDING)
    add_reports(one, Reason.PERSONAL_DATA)
    add_reports(one, Reason.PERSONAL_DATA, counted=False)
    quiet = comment_factory(status=Status.PENDING)
    response = admin_client_.get(reverse("admin:comments_comment_changelist"))
    cells = queue_cells(response)
    assert cells[reported.pk] == "3 reports: Spam ×2, Illegal content"
    assert cells[one.pk] == "2 reports, 1 counted: Personal data ×2"
    assert cells[quiet.pk] == "-"  # the admin's empty mark: reported rows stand out


def test_queue_reasons_cost_one_query_whatever_the_number_of_rows(
    admin_client_, comment_factory, django_assert_max_num_queries
):
    def queue():
        with CaptureQueriesContext(connection) as context:
            response = admin_client_.get(
                reverse("admin:comments_comment_changelist"), {"status": "reported"}
            )
        assert response.status_code == 200
        return len(context.captured_queries), len(queue_cells(response))

    def add(count):
        for _ in range(count):
            add_reports(comment_factory(status=Status.PENDING), Reason.SPAM, Reason.ABUSE)

    queue()  # the word lists (highlighted in the rows) reach the cache
    add(2)
    few, rows_few = queue()
    add(20)
    many, rows_many = queue()
    assert (rows_few, rows_many) == (2, 22)
    assert few == many
    with django_assert_max_num_queries(7):
        admin_client_.get(reverse("admin:comments_comment_changelist"), {"status": "reported"})


def test_comment_page_lists_each_report(admin_client_, approved):
    reader = UserFactory(username="watchful")
    reports.report_comment(
        approved,
        session_key="one",
        reason=Reason.ILLEGAL,
        explanation="It publishes a home address.",
        email="Witness@Example.org",
        ip_address="198.51.100.7",
    )
    reports.report_comment(
        approved, session_key="two", reason=Reason.SPAM, ip_address="198.51.100.8", user=reader
    )
    response = admin_client_.get(reverse("admin:comments_comment_change", args=[approved.pk]))
    items = parse(response).findall(".//ul[@class='comment-reports']/li")
    spam, illegal = (text(item) for item in items)
    assert "Illegal content" in illegal
    assert "It publishes a home address." in illegal
    assert "(counted; 198.51.100.0/24; witness@example.org)" in illegal
    assert "Spam" in spam
    assert "not counted: same reader as an earlier one; 198.51.100.0/24; watchful" in spam


def test_report_admin_lists_reason_explanation_and_counted(admin_client_, approved):
    add_reports(approved, Reason.ILLEGAL)
    response = admin_client_.get(reverse("admin:comments_commentreport_changelist"))
    row = parse(response).find(".//table[@id='result_list']/tbody/tr")
    cells = {
        css.removeprefix("field-"): cell
        for cell in row
        for css in classes(cell)
        if css.startswith("field-")
    }
    assert text(cells["reason"]) == "Illegal content"
    assert text(cells["explanation_excerpt"]) == "It is against the law."
    assert cells["counted"].find(".//img").get("alt") == "True"


def test_reported_comment_appears_in_the_admin_reported_filter(admin_client_, approved):
    for ip in ("198.51.100.1", "198.51.101.1", "192.0.2.1"):
        report_from(approved, ip)
    response = admin_client_.get(reverse("admin:comments_comment_changelist"), {"reported": "yes"})
    rows = parse(response).findall(".//table[@id='result_list']/tbody/tr")
    ids = [int(tr.find(".//input[@name='_selected_action']").get("value")) for tr in rows]
    assert ids == [approved.pk]
    row_text = text(rows[0])
    assert "reported by readers" in row_text
    assert "Pending" in row_text
    assert "3 reports: Spam ×3" in row_text
