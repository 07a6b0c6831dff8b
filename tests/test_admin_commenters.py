"""The commenter list and page, moderators' notes, the page's sanction forms and the
queue's actions against the authors of selected comments: all as a moderator of the
Moderators group (not a superuser) uses them."""

from datetime import timedelta

import html5lib
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comments.models import Comment, Commenter, CommenterNote, Sanction
from tests.factories import ArticleFactory, CommentFactory, StaffFactory

pytestmark = pytest.mark.django_db

Status = Comment.Status
Kind = Sanction.Kind
LIST = reverse("admin:comments_commenter_changelist")
QUEUE = reverse("admin:comments_comment_changelist")


# --- helpers -----------------------------------------------------------------------------
def parse(response):
    return html5lib.parse(
        response.content.decode(), treebuilder="etree", namespaceHTMLElements=False
    )


def text(element):
    return " ".join("".join(element.itertext()).split())


def by_id(page, element_id):
    return page.find(f".//*[@id='{element_id}']")


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def page_url(commenter):
    return reverse("admin:comments_commenter_change", args=[commenter.pk])


def act_url(commenter, action):
    return reverse("admin:comments_commenter_act", args=[commenter.pk, action])


def lift_url(commenter):
    return reverse("admin:comments_commenter_lift", args=[commenter.pk])


def list_rows(response):
    """The commenter list's rows as {column: cell element}, in order."""
    table = parse(response).find(".//table[@id='result_list']")
    if table is None:
        return []
    rows = []
    for tr in table.find("tbody").findall("tr"):
        cells = {}
        for cell in tr:
            for css in (cell.get("class") or "").split():
                if css.startswith("field-"):
                    cells[css.removeprefix("field-")] = cell
        rows.append(cells)
    return rows


def listed_emails(response):
    return [
        text(row["identity"].find(".//span[@class='commenter-email']"))
        for row in list_rows(response)
    ]


def make_commenter(email="troll@example.org", name="Tom Troll", **fields):
    now = timezone.now()
    fields.setdefault("first_seen", now - timedelta(days=30))
    fields.setdefault("last_seen", now)
    return Commenter.objects.create(email=email, name=name, **fields)


def comment_by(commenter, **fields):
    fields.setdefault("author_name", commenter.name)
    fields.setdefault("author_email", commenter.email)
    return CommentFactory(commenter=commenter, **fields)


def legacy_comment(**fields):
    """A comment from before commenters: none is attached to it."""
    comment = CommentFactory(**fields)
    Comment.objects.filter(pk=comment.pk).update(commenter=None)
    comment.commenter = None
    return comment


def in_a_week():
    return (timezone.localtime() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def moderator():
    user = StaffFactory(username="mod")
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def moderator_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


def moderator_without(*codenames):
    """A staff user with every permission of the Moderators group but ``codenames``."""
    group = Group.objects.create(name=f"Moderators without {' '.join(codenames)}")
    group.permissions.set(
        Group.objects.get(name="Moderators").permissions.exclude(codename__in=codenames)
    )
    user = StaffFactory(username="limited")
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def troll():
    return make_commenter()


# --- the list ----------------------------------------------------------------------------
def test_list_shows_counts_rate_seen_and_sanction_for_a_moderator(moderator_client, moderator):
    troll = make_commenter(
        approved_count=3, pending_count=1, spam_count=2, recent_rejection_rate=0.4
    )
    make_commenter(email="ann@example.org", name="Ann Reader", approved_count=5)
    Sanction.objects.create(
        kind=Kind.BAN, target_type="email", target=troll.email, reason="insults"
    )
    response = moderator_client.get(LIST)
    assert response.status_code == 200
    rows = {
        email: {column: text(cell) for column, cell in row.items()}
        for email, row in zip(listed_emails(response), list_rows(response), strict=True)
    }
    assert rows["troll@example.org"]["comment_counts"].startswith("6 ")
    assert "2 spam" in rows["troll@example.org"]["comment_counts"]
    assert rows["troll@example.org"]["rejection_rate"].split()[-1] == "40%"
    assert rows["troll@example.org"]["sanctioned_now"].endswith(": Banned")
    assert rows["ann@example.org"]["sanctioned_now"].endswith(": No")
    assert {"first_seen_at", "last_seen_at"} <= set(rows["ann@example.org"])


def test_list_has_no_add_and_no_delete(moderator_client, superuser, troll):
    assert moderator_client.get(reverse("admin:comments_commenter_add")).status_code == 403
    delete = reverse("admin:comments_commenter_delete", args=[troll.pk])
    assert moderator_client.post(delete, {"post": "yes"}).status_code == 403
    root = Client()
    root.force_login(superuser)
    assert root.post(delete, {"post": "yes"}).status_code == 403
    assert Commenter.objects.filter(pk=troll.pk).exists()


def test_search_by_ip_lists_each_commenter_once(moderator_client, troll):
    for _ in range(3):
        comment_by(troll, ip_address="198.51.100.9")
    other = make_commenter(email="other@example.org", name="Other")
    comment_by(other, ip_address="203.0.113.50")
    response = moderator_client.get(LIST, {"q": "198.51.100.9"})
    assert listed_emails(response) == ["troll@example.org"]


def test_search_by_ipv6_address_in_any_spelling(moderator_client, troll):
    comment_by(troll, ip_address="2001:db8::1")
    response = moderator_client.get(LIST, {"q": "2001:DB8:0::1"})
    assert listed_emails(response) == ["troll@example.org"]


def test_search_by_name_and_by_part_of_the_email(moderator_client, troll):
    make_commenter(email="ann@example.org", name="Ann Reader")
    assert listed_emails(moderator_client.get(LIST, {"q": "troll"})) == ["troll@example.org"]
    assert listed_emails(moderator_client.get(LIST, {"q": "ann reader"})) == ["ann@example.org"]
    assert listed_emails(moderator_client.get(LIST, {"q": "nobody"})) == []


def test_list_sorts_by_rejection_rate_and_by_last_seen(moderator_client):
    now = timezone.now()
    make_commenter(email="a@example.org", recent_rejection_rate=0.1, last_seen=now)
    make_commenter(email="b@example.org", recent_rejection_rate=0.9, last_seen=now - timedelta(2))
    make_commenter(email="c@example.org", recent_rejection_rate=0.5, last_seen=now - timedelta(1))
    # Columns: identity 0, comments 1, rejection rate 2, first seen 3, last seen 4.
    by_rate = listed_emails(moderator_client.get(LIST, {"o": "-2"}))
    assert by_rate == ["b@example.org", "c@example.org", "a@example.org"]
    by_last_seen = listed_emails(moderator_client.get(LIST, {"o": "4"}))
    assert by_last_seen == ["b@example.org", "c@example.org", "a@example.org"]
    # The default: last seen, newest first.
    assert listed_emails(moderator_client.get(LIST)) == [
        "a@example.org",
        "c@example.org",
        "b@example.org",
    ]


def test_filters_sanctioned_now_premoderated_and_rejections(moderator_client):
    banned = make_commenter(email="banned@example.org")
    watched = make_commenter(email="watched@fishy.example", last_rejected_at=timezone.now())
    make_commenter(email="clean@example.org")
    lifted = make_commenter(email="lifted@example.org")
    Sanction.objects.create(kind=Kind.BAN, target_type="email", target=banned.email, reason="x")
    # A domain sanction applies to everyone at that domain.
    Sanction.objects.create(
        kind=Kind.PREMODERATION, target_type="domain", target="fishy.example", reason="x"
    )
    Sanction.objects.create(
        kind=Kind.BAN,
        target_type="email",
        target=lifted.email,
        reason="x",
        lifted_at=timezone.now(),
    )

    def emails(**params):
        return sorted(listed_emails(moderator_client.get(LIST, params)))

    assert emails(sanctioned="yes") == [banned.email, watched.email]
    assert emails(sanctioned="ban") == [banned.email]
    assert emails(sanctioned="no") == ["clean@example.org", lifted.email]
    assert emails(premoderated="yes") == [watched.email]
    assert emails(rejected="yes") == [watched.email]
    assert "clean@example.org" in emails(rejected="no")


def test_a_parent_domain_sanction_counts_for_a_subdomain_address(moderator_client):
    make_commenter(email="someone@mail.spam.example")
    Sanction.objects.create(kind=Kind.BAN, target_type="domain", target="spam.example", reason="x")
    assert listed_emails(moderator_client.get(LIST, {"sanctioned": "yes"})) == [
        "someone@mail.spam.example"
    ]


def queries_for(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_list_query_count_does_not_grow_with_commenters(
    moderator_client, django_assert_max_num_queries
):
    def add(count, start):
        for number in range(start, start + count):
            commenter = make_commenter(email=f"person{number}@example.org", name=f"P{number}")
            if number % 3 == 0:
                Sanction.objects.create(
                    kind=Kind.BAN, target_type="email", target=commenter.email, reason="x"
                )

    add(3, 0)
    few = queries_for(moderator_client, LIST)
    add(60, 3)
    many = queries_for(moderator_client, LIST)
    assert many == few
    with django_assert_max_num_queries(few):
        moderator_client.get(LIST, {"q": "person", "sanctioned": "yes", "o": "-2"})


# --- the commenter page ----------------------------------------------------------------
def test_page_shows_identity_counts_addresses_comments_sanctions_and_notes(
    moderator_client, moderator, troll
):
    article = ArticleFactory(title="The court case")
    kept = comment_by(troll, article=article, body="A fair point.", ip_address="198.51.100.9")
    spam = comment_by(troll, status=Status.SPAM, body="Buy now", ip_address="198.51.100.9")
    comment_by(troll, status=Status.SPAM, body="Again", ip_address="2001:db8::7")
    Sanction.objects.create(
        kind=Kind.BAN, target_type="email", target=troll.email, reason="insults",
        created_by=moderator,
    )  # fmt: skip
    Sanction.objects.create(
        kind=Kind.SUSPENSION, target_type="email", target=troll.email, reason="earlier",
        created_by=moderator, lifted_at=timezone.now(), lifted_by=moderator,
    )  # fmt: skip
    CommenterNote.objects.create(commenter=troll, body="Watch this one.", author=moderator)
    Commenter.objects.filter(pk=troll.pk).update(recent_rejection_rate=0.5)

    response = moderator_client.get(page_url(troll))
    assert response.status_code == 200
    page = parse(response)
    who = text(page.find(".//dl[@class='commenter-facts']"))
    assert "troll@example.org" in who and "Tom Troll" in who and "50%" in who
    assert "Banned" in who
    counts = text(page.find(".//ul[@class='commenter-status-counts']"))
    assert "Approved 1" in counts and "Spam 2" in counts

    comments = by_id(page, "comments")
    links = [a.get("href") for a in comments.iter("a")]
    for comment in (kept, spam):
        assert reverse("admin:comments_comment_change", args=[comment.pk]) in links
    assert "The court case" in text(comments)
    assert [text(s) for s in comments.iter("span") if "comment-status" in s.get("class", "")]

    addresses = {
        text(row[0]): text(row[1])
        for row in by_id(page, "addresses").find(".//tbody").findall("tr")
    }
    assert addresses == {"198.51.100.9": "2", "2001:db8::7": "1"}

    sanctions = text(by_id(page, "sanctions"))
    assert "insults" in sanctions and "In force" in sanctions
    assert "Lifted" in sanctions and "by mod" in sanctions

    notes = text(by_id(page, "notes"))
    assert "Watch this one." in notes and "mod" in notes


def test_page_shows_the_account_and_network_sanctions_on_their_addresses(moderator_client, troll):
    comment_by(troll, ip_address="203.0.113.77")
    Sanction.objects.create(
        kind=Kind.BAN, target_type="network", target="203.0.113.0/24", reason="botnet",
        network_start=f"{0xFFFF_CB00_7100:032x}", network_end=f"{0xFFFF_CB00_71FF:032x}",
    )  # fmt: skip
    page = parse(moderator_client.get(page_url(troll)))
    assert "botnet" in text(by_id(page, "sanctions"))
    assert "without an account" in text(page.find(".//dl[@class='commenter-facts']"))


def test_page_pages_comments_and_links_to_all_of_them_in_the_queue(moderator_client, troll):
    for number in range(30):
        comment_by(troll, body=f"Comment {number}", status=Status.PENDING)
    someone_else = CommentFactory(status=Status.APPROVED)
    page = parse(moderator_client.get(page_url(troll)))
    rows = by_id(page, "comments").find(".//tbody").findall("tr")
    assert len(rows) == 25
    second = parse(moderator_client.get(page_url(troll), {"page": 2}))
    assert len(by_id(second, "comments").find(".//tbody").findall("tr")) == 5
    queue_link = next(
        a.get("href") for a in by_id(page, "comments").iter("a") if "in the queue" in text(a)
    )
    assert queue_link.startswith(QUEUE) and "status=all" in queue_link
    queue = moderator_client.get(queue_link)
    assert queue.status_code == 200
    shown = {comment.pk for comment in queue.context["cl"].result_list}
    assert len(shown) == 30 and someone_else.pk not in shown


def test_page_query_count_does_not_grow_with_comments(
    moderator_client, moderator, troll, django_assert_max_num_queries
):
    def add(count):
        for number in range(count):
            comment_by(troll, ip_address=f"198.51.100.{number % 40}")
        Sanction.objects.create(
            kind=Kind.WARNING, target_type="email", target=troll.email, reason="x"
        )
        CommenterNote.objects.create(commenter=troll, body="note", author=moderator)

    add(3)
    few = queries_for(moderator_client, page_url(troll))
    add(120)
    many = queries_for(moderator_client, page_url(troll))
    assert many == few
    with django_assert_max_num_queries(few):
        moderator_client.get(page_url(troll), {"page": 2})


def test_page_does_not_accept_a_post(moderator_client, troll):
    response = moderator_client.post(page_url(troll), {"name": "Renamed"})
    assert response.status_code == 405
    troll.refresh_from_db()
    assert troll.name == "Tom Troll"


# --- notes: append-only ---------------------------------------------------------------
def test_a_moderator_adds_a_note_shown_with_author_and_time(moderator_client, troll):
    response = moderator_client.post(act_url(troll, "note"), {"note-body": "Second warning."})
    assert response.status_code == 302
    note = CommenterNote.objects.get(commenter=troll)
    assert note.author.username == "mod" and note.body == "Second warning."
    page = parse(moderator_client.get(page_url(troll)))
    shown = page.find(".//li[@class='commenter-note']")
    assert "Second warning." in text(shown) and "mod" in text(shown)
    assert shown.find(".//time").get("datetime")
    history = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Commenter), object_id=str(troll.pk)
    )
    assert [entry.change_message for entry in history] == ["Added a moderator note."]


def test_an_empty_note_is_refused_with_a_field_message(moderator_client, troll):
    response = moderator_client.post(act_url(troll, "note"), {"note-body": "  "})
    assert response.status_code == 400
    form = parse(response).find(".//form[@class='commenter-note-form']")
    assert "This field is required." in text(form)
    assert not CommenterNote.objects.exists()


def test_notes_cannot_be_changed_or_deleted_by_anyone(moderator_client, superuser, troll):
    note = CommenterNote.objects.create(commenter=troll, body="Original", author=superuser)
    change = reverse("admin:comments_commenternote_change", args=[note.pk])
    delete = reverse("admin:comments_commenternote_delete", args=[note.pk])
    root = Client()
    root.force_login(superuser)
    for client in (moderator_client, root):
        assert client.get(change).status_code == 403
        assert client.post(change, {"body": "Edited"}).status_code == 403
        assert client.get(delete).status_code == 403
        assert client.post(delete, {"post": "yes"}).status_code == 403
        assert client.get(reverse("admin:comments_commenternote_add")).status_code == 403
    note.refresh_from_db()
    assert note.body == "Original"
    notes_list = moderator_client.get(reverse("admin:comments_commenternote_changelist"))
    assert notes_list.status_code == 200
    assert "Original" in text(parse(notes_list).find(".//table[@id='result_list']"))


def test_a_moderator_without_add_commenternote_cannot_add_a_note(troll):
    client = moderator_without("add_commenternote")
    assert client.post(act_url(troll, "note"), {"note-body": "x"}).status_code == 403
    page = parse(client.get(page_url(troll)))
    assert page.find(".//form[@class='commenter-note-form']") is None


# --- sanctions from the page ------------------------------------------------------------
def log_messages(sanction):
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Sanction), object_id=str(sanction.pk)
        ).values_list("change_message", flat=True)
    )


def test_warn_emails_the_message_and_keeps_it(
    moderator_client, troll, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = moderator_client.post(
            act_url(troll, "warn"), {"warn-message": "Please keep it civil."}
        )
    assert response.status_code == 302
    sanction = Sanction.objects.get()
    assert sanction.kind == Kind.WARNING and sanction.reason == "Please keep it civil."
    assert [mail.to for mail in mailoutbox] == [["troll@example.org"]]
    assert "Please keep it civil." in mailoutbox[0].body
    assert log_messages(sanction)
    assert "warned" in messages_of(moderator_client.get(page_url(troll)))[0]


def test_suspend_until_a_date_and_time(moderator_client, troll):
    until = in_a_week()
    response = moderator_client.post(
        act_url(troll, "suspend"), {"suspend-until": until, "suspend-reason": "Flooding"}
    )
    assert response.status_code == 302
    sanction = Sanction.objects.get()
    assert sanction.kind == Kind.SUSPENSION and sanction.reason == "Flooding"
    assert timezone.localtime(sanction.ends_at).strftime("%Y-%m-%dT%H:%M") == until
    assert sanction.commenter == troll and log_messages(sanction)


def test_suspend_in_the_past_or_without_reason_shows_the_form_again(moderator_client, troll):
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = moderator_client.post(
        act_url(troll, "suspend"), {"suspend-until": past, "suspend-reason": ""}
    )
    assert response.status_code == 400
    form = parse(response).find(".//details[@class='commenter-action commenter-action--suspend']")
    assert form.get("open") is not None
    assert "Choose a time in the future." in text(form)
    assert "This field is required." in text(form)
    assert not Sanction.objects.exists()


def test_ban_until_lifted_and_ban_with_an_end(moderator_client, troll):
    moderator_client.post(act_url(troll, "ban"), {"ban-reason": "Threats", "ban-until": ""})
    ban = Sanction.objects.get()
    assert (ban.kind, ban.ends_at, ban.target) == (Kind.BAN, None, troll.email)
    until = in_a_week()
    moderator_client.post(act_url(troll, "ban"), {"ban-reason": "Again", "ban-until": until})
    assert Sanction.objects.filter(kind=Kind.BAN, ends_at__isnull=False).count() == 1


def test_always_premoderate(moderator_client, troll):
    response = moderator_client.post(
        act_url(troll, "premoderate"), {"premoderate-reason": "New account, many links"}
    )
    assert response.status_code == 302
    sanction = Sanction.objects.get()
    assert sanction.kind == Kind.PREMODERATION and sanction.ends_at is None
    page = parse(moderator_client.get(page_url(troll)))
    assert "Pre-moderated" in text(page.find(".//dl[@class='commenter-facts']"))


def test_lift_one_sanction_and_then_all(moderator_client, moderator, troll):
    moderator_client.post(act_url(troll, "ban"), {"ban-reason": "Threats", "ban-until": ""})
    moderator_client.post(act_url(troll, "premoderate"), {"premoderate-reason": "Watch"})
    ban = Sanction.objects.get(kind=Kind.BAN)
    response = moderator_client.post(lift_url(troll), {"sanction": ban.pk})
    assert response.status_code == 302
    ban.refresh_from_db()
    assert ban.lifted_by == moderator and ban.lifted_at is not None
    assert Sanction.objects.in_force().count() == 1
    moderator_client.post(lift_url(troll), {"all": "1"})
    assert Sanction.objects.in_force().count() == 0
    assert Sanction.objects.count() == 2  # lifted, never deleted
    assert any("Lifted" in message for message in log_messages(ban))


def test_what_moderation_refuses_is_said_on_the_form_not_a_500(moderator_client):
    """An address imported long ago that is no email address can't be sanctioned by
    email: the form says why (comments.moderation's message) and nothing is stored."""
    odd = make_commenter(email="not an address")
    response = moderator_client.post(act_url(odd, "ban"), {"ban-reason": "x", "ban-until": ""})
    assert response.status_code == 400
    form = parse(response).find(".//details[@class='commenter-action commenter-action--ban']")
    assert "is not an email address" in text(form)
    assert not Sanction.objects.exists()


def test_a_moderator_without_add_sanction_gets_403_on_every_sanction_form(troll):
    client = moderator_without("add_sanction")
    data = {
        "warn": {"warn-message": "x"},
        "suspend": {"suspend-until": in_a_week(), "suspend-reason": "x"},
        "ban": {"ban-reason": "x"},
        "premoderate": {"premoderate-reason": "x"},
    }
    for action, fields in data.items():
        assert client.post(act_url(troll, action), fields).status_code == 403
    assert not Sanction.objects.exists()
    page = parse(client.get(page_url(troll)))
    assert page.find(".//div[@class='commenter-actions']") is None
    assert "permission to set sanctions" in text(by_id(page, "sanctions"))


def test_a_moderator_without_change_sanction_cannot_lift(moderator, troll):
    ban = Sanction.objects.create(
        kind=Kind.BAN, target_type="email", target=troll.email, reason="x"
    )
    client = moderator_without("change_sanction")
    assert client.post(lift_url(troll), {"sanction": ban.pk}).status_code == 403
    assert client.post(lift_url(troll), {"all": "1"}).status_code == 403
    ban.refresh_from_db()
    assert ban.lifted_at is None


def test_page_forms_only_accept_post_and_known_actions(moderator_client, troll):
    assert moderator_client.get(act_url(troll, "ban")).status_code == 405
    assert moderator_client.post(act_url(troll, "delete"), {}).status_code == 403


# --- one click to the commenter page ---------------------------------------------------
def test_queue_row_links_the_author_to_their_page_and_legacy_comments_to_nothing(
    moderator_client, troll
):
    mine = comment_by(troll, status=Status.PENDING)
    legacy = legacy_comment(status=Status.PENDING, author_name="Old Timer")
    response = moderator_client.get(QUEUE)
    cells = {}
    for tr in parse(response).find(".//table[@id='result_list']/tbody").findall("tr"):
        pk = int(tr.find(".//input[@name='_selected_action']").get("value"))
        cells[pk] = tr.find(".//td[@class='field-author']")
    assert cells[mine.pk].find(".//a[@class='commenter-link']").get("href") == page_url(troll)
    assert cells[legacy.pk].find(".//a[@class='commenter-link']") is None
    assert "Old Timer" in text(cells[legacy.pk])


def test_comment_page_links_to_the_commenter_near_the_author_and_in_the_thread(
    moderator_client, troll
):
    other = make_commenter(email="ann@example.org", name="Ann")
    root = comment_by(other)
    current = comment_by(troll, parent=root)
    reply = legacy_comment(parent=current, author_name="Legacy Replier")
    response = moderator_client.get(reverse("admin:comments_comment_change", args=[current.pk]))
    page = parse(response)
    near_author = page.find(".//div[@class='form-row field-commenter_page']")
    assert near_author.find(".//a").get("href") == page_url(troll)
    thread = page.find(".//ul[@class='comment-thread-context']")
    links = [a.get("href") for a in thread.iter("a") if a.get("class") == "commenter-link"]
    assert links == [page_url(other), page_url(troll)]
    assert "Legacy Replier" in text(thread)
    legacy = parse(moderator_client.get(reverse("admin:comments_comment_change", args=[reply.pk])))
    row = legacy.find(".//div[@class='form-row field-commenter_page']")
    assert row.find(".//a") is None
    assert text(row.find(".//div[@class='readonly']")) == "—"


# --- the queue's actions on authors -----------------------------------------------------
def run_action(client, action, comments, **data):
    return client.post(
        QUEUE,
        {"action": action, "_selected_action": [c.pk for c in comments], **data},
    )


@pytest.fixture
def two_trolls(troll):
    other = make_commenter(email="second@example.org", name="Second Troll")
    selected = [
        comment_by(troll, status=Status.PENDING),
        comment_by(troll, status=Status.PENDING),
        comment_by(other, status=Status.PENDING, author_email="Second@Example.org"),
    ]
    waiting = comment_by(other, status=Status.PENDING)  # not selected
    return troll, other, selected, waiting


@pytest.mark.parametrize(
    ("action", "kind", "days"),
    [
        ("ban_authors", Kind.BAN, None),
        ("suspend_authors_1_day", Kind.SUSPENSION, 1),
        ("suspend_authors_7_days", Kind.SUSPENSION, 7),
    ],
)
def test_queue_action_confirms_authors_then_sanctions_each_once(
    moderator_client, moderator, two_trolls, action, kind, days
):
    troll, other, selected, waiting = two_trolls
    confirm = run_action(moderator_client, action, selected)
    assert confirm.status_code == 200
    page = parse(confirm)
    authors = text(page.find(".//ul[@class='sanction-authors-list']"))
    assert "troll@example.org" in authors and "second@example.org" in authors
    assert "2 selected comments" in authors
    assert "2 authors" in text(page.find(".//div[@id='content-main']"))
    assert not Sanction.objects.exists()

    done = run_action(moderator_client, action, selected, post="yes", reason="Coordinated spam")
    assert done.status_code == 302
    made = Sanction.objects.order_by("target")
    assert [(s.target, s.kind, s.created_by) for s in made] == [
        ("second@example.org", kind, moderator),
        ("troll@example.org", kind, moderator),
    ]
    for sanction in made:
        if days is None:
            assert sanction.ends_at is None
        else:
            expected = timezone.now() + timedelta(days=days)
            assert abs(sanction.ends_at - expected) < timedelta(minutes=1)
    waiting.refresh_from_db()
    assert waiting.status == Status.PENDING  # not asked to mark pending comments as spam
    message = messages_of(moderator_client.get(QUEUE))[0]
    assert message.startswith("2 authors were")


def test_queue_action_can_also_mark_their_pending_comments_as_spam(moderator_client, two_trolls):
    troll, other, selected, waiting = two_trolls
    bystander = CommentFactory(status=Status.PENDING)
    run_action(
        moderator_client,
        "ban_authors",
        selected[:1] + selected[2:],
        post="yes",
        reason="Spam run",
        spam_pending="on",
    )
    for comment in [*selected, waiting]:
        comment.refresh_from_db()
        assert comment.status == Status.SPAM
    bystander.refresh_from_db()
    assert bystander.status == Status.PENDING
    assert "marked as spam" in " ".join(messages_of(moderator_client.get(QUEUE)))


def test_queue_action_without_a_reason_asks_again(moderator_client, two_trolls):
    _troll, _other, selected, _waiting = two_trolls
    response = run_action(moderator_client, "ban_authors", selected, post="yes", reason=" ")
    assert response.status_code == 200
    assert "This field is required." in text(parse(response).find(".//div[@id='content-main']"))
    assert not Sanction.objects.exists()


def test_queue_actions_are_not_offered_without_add_sanction(two_trolls):
    _troll, _other, selected, _waiting = two_trolls
    client = moderator_without("add_sanction")
    response = client.get(QUEUE)
    offered = [o.get("value") for o in parse(response).findall(".//select[@name='action']/option")]
    assert "approve_selected" in offered and "ban_authors" not in offered
    run_action(client, "ban_authors", selected, post="yes", reason="x")
    assert not Sanction.objects.exists()


def test_queue_action_on_every_comment_of_a_filtered_queue(moderator_client, two_trolls):
    """“Select all N” keeps the queue's filters through the confirmation page: the
    authors of every matching comment are sanctioned, not only those on the page."""
    troll, _other, selected, _waiting = two_trolls
    bystander = CommentFactory(status=Status.PENDING)
    url = f"{QUEUE}?status=all&q=troll%40example.org"
    first = {"action": "ban_authors", "_selected_action": [selected[0].pk], "select_across": "1"}
    confirm = moderator_client.post(url, first)
    page = parse(confirm)
    form = page.find(".//div[@id='content-main']//form")
    assert form.get("action") == url
    assert "1 author" in text(page.find(".//div[@id='content-main']"))
    done = moderator_client.post(url, {**first, "post": "yes", "reason": "Raid"})
    assert done.status_code == 302
    assert list(Sanction.objects.values_list("target", flat=True)) == [troll.email]
    assert bystander.author_email not in Sanction.objects.values_list("target", flat=True)
