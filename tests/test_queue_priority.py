"""The moderation queue says what to look at first: pending comments in priority order
(computed by the database from reports, rule hits, the commenter's history, the
article's heat and the time waited), a column with the score and its reasons, filters,
and the way through the queue that the keys and buttons follow."""

from datetime import timedelta

import html5lib
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comments import priority
from comments.models import Comment, Commenter, Sanction
from tests.factories import ArticleFactory, StaffFactory

pytestmark = pytest.mark.django_db

Status = Comment.Status
CHANGELIST = reverse("admin:comments_comment_changelist")


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def parse(response):
    return html5lib.parse(
        response.content.decode(), treebuilder="etree", namespaceHTMLElements=False
    )


def text(element):
    return " ".join("".join(element.itertext()).split())


def rows(response):
    """``[(pk, {column: text})]`` of the changelist, in order."""
    table = parse(response).find(".//table[@id='result_list']")
    found = []
    for tr in table.find("tbody").findall("tr"):
        pk = int(tr.find(".//input[@name='_selected_action']").get("value"))
        cells = {}
        for cell in tr:
            for css in (cell.get("class") or "").split():
                if css.startswith("field-"):
                    cells[css.removeprefix("field-")] = text(cell)
        found.append((pk, cells))
    return found


def row_ids(response):
    return [pk for pk, _cells in rows(response)]


def change_url(pk):
    return reverse("admin:comments_comment_change", args=[pk])


@pytest.fixture
def moderator(db):
    user = StaffFactory(username="moderator")
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def desk(moderator):
    client = Client()
    client.force_login(moderator)
    return client


def pending(comment_factory, *, approved=3, rejection_rate=0.0, **fields):
    """A pending comment, five minutes old, whose commenter (of its email address, as
    posting finds or creates it) has had ``approved`` comments approved and has the
    recent ``rejection_rate`` (set after the factory counted their comments)."""
    fields.setdefault("created_at", ago(minutes=5))
    comment = comment_factory(status=Status.PENDING, **fields)
    Commenter.objects.filter(pk=comment.commenter_id).update(
        approved_count=approved, recent_rejection_rate=rejection_rate
    )
    return comment


def with_priority(comment):
    return Comment.objects.filter(pk=comment.pk).with_priority().get()


# --- the ingredients -----------------------------------------------------------------
def test_a_fresh_comment_from_a_known_commenter_has_no_priority(comment_factory):
    comment = pending(comment_factory)
    annotated = with_priority(comment)
    assert annotated.priority == 0
    assert priority.reasons(annotated, timezone.now()) == []


def test_a_comment_without_a_known_commenter_has_no_history_points(comment_factory):
    comment = pending(comment_factory, report_count=1)
    Comment.objects.filter(pk=comment.pk).update(commenter=None)
    annotated = with_priority(comment)
    assert annotated.priority == priority.REPORT_POINTS
    assert priority.reasons(annotated, timezone.now()) == ["1 report"]


def test_each_reader_report_counts_up_to_a_ceiling(comment_factory):
    two = pending(comment_factory, report_count=2)
    nine = pending(comment_factory, report_count=9)
    assert with_priority(two).priority == 2 * priority.REPORT_POINTS
    assert with_priority(nine).priority == priority.REPORT_POINTS_MAX
    assert priority.reasons(with_priority(two), timezone.now()) == ["2 reports"]


@pytest.mark.parametrize(
    ("reason", "points"),
    [
        ("held: suspect word “casino”", 25),
        ("held: moderation key “viagra”", 25),
        ("held: 3 links", 15),
        ("held: edited, 4 links", 15),
        ("held: spam service unavailable", 10),
        ("held: first comment from this email", 0),
        ("reported by readers", 0),
        ("", 0),
    ],
)
def test_rule_hits_count_by_what_the_rule_found(comment_factory, reason, points):
    comment = pending(comment_factory, moderation_reason=reason)
    annotated = with_priority(comment)
    assert annotated.priority == points
    shown = priority.reasons(annotated, timezone.now())
    assert shown == ([reason] if points else [])


def test_the_commenters_history_counts(comment_factory):
    often_rejected = pending(comment_factory, rejection_rate=0.5)
    new = pending(comment_factory, approved=0)
    annotated = with_priority(often_rejected)
    assert annotated.priority == 15
    assert priority.reasons(annotated, timezone.now()) == ["50% recently rejected"]
    annotated = with_priority(new)
    assert annotated.priority == priority.NEW_COMMENTER_POINTS
    assert priority.reasons(annotated, timezone.now()) == ["new commenter"]


@pytest.mark.parametrize(
    ("kind", "ends_at", "lifted", "counts"),
    [
        (Sanction.Kind.PREMODERATION, None, False, True),
        (Sanction.Kind.SUSPENSION, timedelta(days=1), False, True),
        (Sanction.Kind.SUSPENSION, -timedelta(days=1), False, False),  # expired
        (Sanction.Kind.BAN, None, True, False),  # lifted
        (Sanction.Kind.WARNING, None, False, False),  # restricts nothing
    ],
)
def test_a_sanction_in_force_on_the_commenters_email_counts(
    comment_factory, kind, ends_at, lifted, counts
):
    Sanction.objects.create(
        kind=kind,
        target_type=Sanction.Target.EMAIL,
        target="troll@example.org",
        reason="Insults.",
        ends_at=timezone.now() + ends_at if ends_at else None,
        lifted_at=timezone.now() if lifted else None,
    )
    comment = pending(comment_factory, author_email="Troll@Example.org")
    annotated = with_priority(comment)
    assert annotated.priority == (priority.SANCTIONED_POINTS if counts else 0)
    assert ("under a sanction" in priority.reasons(annotated, timezone.now())) is counts
    in_filter = Comment.objects.from_sanctioned_commenters().filter(pk=comment.pk).exists()
    assert in_filter is counts


def test_a_sanction_on_someone_else_does_not_count(comment_factory):
    Sanction.objects.create(
        kind=Sanction.Kind.BAN, target_type="email", target="other@example.org", reason="x"
    )
    comment = pending(comment_factory, author_email="innocent@example.org")
    assert with_priority(comment).priority == 0


def test_an_article_busy_in_the_last_hour_is_hot(comment_factory):
    hot, calm = ArticleFactory(), ArticleFactory()
    for _ in range(priority.HOT_ARTICLE_COMMENTS - 1):
        comment_factory(article=hot, created_at=ago(minutes=50))
    for _ in range(priority.HOT_ARTICLE_COMMENTS - 2):
        comment_factory(article=calm, created_at=ago(minutes=50))
    for _ in range(5):  # older than the hour: they don't count
        comment_factory(article=calm, created_at=ago(hours=3))
    on_hot = pending(comment_factory, article=hot)  # the tenth in the hour
    on_calm = pending(comment_factory, article=calm)  # the ninth
    annotated = with_priority(on_hot)
    assert annotated.priority == priority.HOT_ARTICLE_POINTS
    assert priority.reasons(annotated, timezone.now()) == ["hot article"]
    assert with_priority(on_calm).priority == 0


@pytest.mark.parametrize(
    ("waited", "points"),
    [
        (timedelta(minutes=10), 0),
        (timedelta(minutes=45), 2),
        (timedelta(hours=1, minutes=5), 4),
        (timedelta(hours=3), 6),
        (timedelta(hours=7), 10),
        (timedelta(hours=13), 15),
        (timedelta(days=3), 20),
    ],
)
def test_the_longer_a_comment_waits_the_higher_it_goes(comment_factory, waited, points):
    comment = pending(comment_factory, created_at=timezone.now() - waited)
    annotated = with_priority(comment)
    assert annotated.priority == points
    shown = priority.reasons(annotated, timezone.now())
    assert bool(shown) is bool(points)
    if points:
        assert shown[0].startswith("waiting ")


def test_the_ingredients_add_up_and_the_reasons_say_which(comment_factory):
    comment = pending(
        comment_factory,
        approved=0,
        rejection_rate=0.2,
        report_count=3,
        moderation_reason="held: suspect word “casino”",
        created_at=ago(hours=2, minutes=5),
    )
    now = timezone.now()
    annotated = Comment.objects.filter(pk=comment.pk).with_priority(now).get()
    assert annotated.priority == 30 + 25 + 6 + 10 + 6
    assert priority.reasons(annotated, now) == [
        "3 reports",
        "held: suspect word “casino”",
        "20% recently rejected",
        "new commenter",
        "waiting 2\xa0hours",
    ]


# --- the queue -------------------------------------------------------------------------
def test_the_pending_queue_is_in_priority_order(desk, comment_factory):
    waiting = pending(comment_factory, created_at=ago(hours=3))  # 6
    reported = pending(comment_factory, report_count=2)  # 20
    links = pending(comment_factory, moderation_reason="held: 3 links")  # 15
    fresh = pending(comment_factory)  # 0
    comment_factory(status=Status.APPROVED, report_count=3)
    response = desk.get(CHANGELIST)
    assert row_ids(response) == [reported.pk, links.pk, waiting.pk, fresh.pk]


def test_equal_priorities_wait_their_turn_oldest_first(desk, comment_factory):
    second = pending(comment_factory, created_at=ago(minutes=3))
    third = pending(comment_factory, created_at=ago(minutes=2))
    first = pending(comment_factory, created_at=ago(minutes=4))
    assert row_ids(desk.get(CHANGELIST)) == [first.pk, second.pk, third.pk]


def test_the_priority_column_shows_the_score_and_its_reasons(desk, comment_factory):
    comment = pending(
        comment_factory,
        approved=0,
        report_count=3,
        moderation_reason="held: 3 links",
    )
    response = desk.get(CHANGELIST)
    cells = dict(rows(response))[comment.pk]
    assert cells["priority_summary"] == "55 — 3 reports · held: 3 links · new commenter"
    header = parse(response).find(".//table[@id='result_list']/thead")
    sorted_by = [th for th in header.iter("th") if "sorted" in (th.get("class") or "")]
    assert [text(th) for th in sorted_by] == ["Priority"]


def test_the_other_views_stay_newest_first_without_a_priority(desk, comment_factory):
    older = pending(comment_factory, report_count=3, created_at=ago(hours=5))
    newer = comment_factory(status=Status.APPROVED, created_at=ago(minutes=1))
    response = desk.get(CHANGELIST, {"status": "all"})
    assert row_ids(response) == [newer.pk, older.pk]
    assert "priority_summary" not in rows(response)[0][1]
    assert row_ids(desk.get(CHANGELIST, {"status": "approved"})) == [newer.pk]


def test_a_column_header_still_sorts_the_pending_queue(desk, comment_factory):
    reported = pending(comment_factory, report_count=2, author_name="Zed")
    plain = pending(comment_factory, author_name="Abe")
    response = desk.get(CHANGELIST)
    author_column = response.context["cl"].list_display.index("author")
    sorted_by_name = desk.get(CHANGELIST, {"o": str(author_column)})
    assert row_ids(response) == [reported.pk, plain.pk]
    assert row_ids(sorted_by_name) == [plain.pk, reported.pk]


def test_the_queue_counts_the_same_queries_whatever_the_ingredients(desk, comment_factory):
    """Priorities and their reasons come with the rows: no query per row, whatever
    mixture of reports, rules, commenters, sanctions and ages the page holds."""
    Sanction.objects.create(
        kind=Sanction.Kind.PREMODERATION, target_type="email", target="t@example.org", reason="x"
    )

    def add(start, count):
        for number in range(start, start + count):
            pending(
                comment_factory,
                author_email="t@example.org" if number % 2 else f"reader{number}@example.org",
                approved=number % 3,
                rejection_rate=0.4,
                report_count=number % 4,
                moderation_reason="held: 3 links" if number % 3 else "",
                created_at=ago(hours=number % 30),
            )

    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = desk.get(CHANGELIST)
        return len(captured.captured_queries), len(row_ids(response))

    add(0, 3)
    desk.get(CHANGELIST)  # caches warm (the word lists)
    few = queries()
    add(3, 40)
    assert queries() == (few[0], 43)


# --- filters -------------------------------------------------------------------------
def test_filter_held_by_a_rule(desk, comment_factory):
    held = pending(comment_factory, moderation_reason="held: 3 links")
    also_held = pending(comment_factory, moderation_reason="held: first comment from this email")
    pending(comment_factory, moderation_reason="reported by readers")
    pending(comment_factory, moderation_reason="")
    response = desk.get(CHANGELIST, {"held": "yes"})
    assert sorted(row_ids(response)) == sorted([held.pk, also_held.pk])


def test_filter_new_commenters(desk, comment_factory):
    new = pending(comment_factory, approved=0)
    pending(comment_factory, approved=4)
    unknown = pending(comment_factory, approved=0)
    Comment.objects.filter(pk=unknown.pk).update(commenter=None)
    assert row_ids(desk.get(CHANGELIST, {"commenter_is": "new"})) == [new.pk]


def test_filter_sanctioned_commenters(desk, comment_factory):
    Sanction.objects.create(
        kind=Sanction.Kind.BAN, target_type="email", target="banned@example.org", reason="Spam."
    )
    theirs = pending(comment_factory, author_email="banned@example.org")
    pending(comment_factory, author_email="fine@example.org")
    response = desk.get(CHANGELIST, {"commenter_is": "sanctioned"})
    assert row_ids(response) == [theirs.pk]
    # The filter combines with the other views.
    approved = comment_factory(status=Status.APPROVED, author_email="banned@example.org")
    response = desk.get(CHANGELIST, {"commenter_is": "sanctioned", "status": "all"})
    assert sorted(row_ids(response)) == sorted([theirs.pk, approved.pk])


def test_the_filters_are_offered(desk):
    filters = parse(desk.get(CHANGELIST)).find(".//nav[@id='changelist-filter']")
    labels = [text(a) for a in filters.iter("a")]
    for label in ["Held by a rule", "New commenters", "Under a sanction"]:
        assert label in labels


def test_an_unknown_filter_value_changes_nothing(desk, comment_factory):
    comment = pending(comment_factory)
    assert row_ids(desk.get(CHANGELIST, {"commenter_is": "martian"})) == [comment.pk]


# --- the way through the queue ---------------------------------------------------------
@pytest.fixture
def queue(comment_factory):
    """Three pending comments in queue order, and an approved one."""
    top = pending(comment_factory, report_count=3)
    middle = pending(comment_factory, moderation_reason="held: 3 links")
    last = pending(comment_factory)
    approved = comment_factory(status=Status.APPROVED, created_at=ago(minutes=10))
    return top, middle, last, approved


def step(client, comment, name):
    return client.get(reverse("admin:comments_comment_queue_step", args=[comment.pk, name]))


def test_next_and_previous_follow_the_queue_order(desk, queue):
    top, middle, last, _approved = queue
    assert step(desk, top, "next")["Location"] == change_url(middle.pk)
    assert step(desk, middle, "next")["Location"] == change_url(last.pk)
    assert step(desk, last, "previous")["Location"] == change_url(middle.pk)
    assert step(desk, middle, "previous")["Location"] == change_url(top.pk)


def test_no_step_past_either_end_of_the_queue(desk, queue):
    top, _middle, last, _approved = queue
    response = step(desk, last, "next")
    assert response["Location"] == change_url(last.pk)
    response = desk.get(response["Location"])
    assert "This is the last comment in the queue." in [
        str(m) for m in response.context["messages"]
    ]
    assert step(desk, top, "previous")["Location"] == change_url(top.pk)


def test_next_pending_starts_again_from_the_top(desk, queue):
    top, middle, last, approved = queue
    assert step(desk, middle, "next-pending")["Location"] == change_url(last.pk)
    assert step(desk, last, "next-pending")["Location"] == change_url(top.pk)
    # From a comment that is not in the queue, where it would stand if it were.
    assert step(desk, approved, "next-pending")["Location"] == change_url(last.pk)


def test_the_queue_top_opens_the_first_pending_comment(desk, queue):
    top = queue[0]
    response = desk.get(reverse("admin:comments_comment_queue_top"))
    assert response["Location"] == change_url(top.pk)


def test_an_empty_queue_says_so(desk, comment_factory):
    comment = comment_factory(status=Status.APPROVED)
    response = desk.get(reverse("admin:comments_comment_queue_top"), follow=True)
    assert response.redirect_chain[-1][0] == CHANGELIST
    assert "No comments are waiting." in [str(m) for m in response.context["messages"]]
    assert step(desk, comment, "next-pending")["Location"] == CHANGELIST


def test_an_unknown_step_or_comment_is_not_found(desk, queue):
    assert step(desk, queue[0], "sideways").status_code == 404
    missing = reverse("admin:comments_comment_queue_step", args=[999999, "next"])
    assert desk.get(missing).status_code == 404


def test_the_queue_is_for_staff_who_may_view_comments(client, queue):
    outsider = StaffFactory(username="outsider")  # staff, but no permission on comments
    client.force_login(outsider)
    assert step(client, queue[0], "next").status_code == 403
    assert client.get(reverse("admin:comments_comment_queue_top")).status_code == 403


def test_approve_and_next_follows_the_priority_order(desk, queue):
    """The "… and open next pending" buttons go on in the queue's order, from where the
    comment stood before the action took it out; after the last, back to the top."""
    top, middle, last, _approved = queue
    moderate = reverse("admin:comments_comment_moderate", args=[middle.pk, "approve"])
    response = desk.post(moderate, {"_next": "1"})
    assert response["Location"] == change_url(last.pk)
    middle.refresh_from_db()
    assert middle.status == Status.APPROVED
    moderate = reverse("admin:comments_comment_moderate", args=[last.pk, "spam"])
    assert desk.post(moderate, {"_next": "1"})["Location"] == change_url(top.pk)
    moderate = reverse("admin:comments_comment_moderate", args=[top.pk, "approve"])
    assert desk.post(moderate, {"_next": "1"})["Location"] == CHANGELIST


# --- what the keyboard finds on the pages ---------------------------------------------------
def test_the_queue_offers_the_keys_help_and_the_first_pending_comment(desk, queue):
    page = parse(desk.get(CHANGELIST))
    dialog = page.find(".//dialog[@id='comments-keys-help']")
    assert dialog.get("data-page") == "queue"
    assert dialog.get("aria-labelledby") == "comments-keys-title"
    keys = [text(dt) for dt in dialog.iter("dt")]
    assert keys == ["j k", "o", "a", "s", "r", "f", "n", "?", "Esc"]
    first = page.find(".//a[@data-comments-key='n']")
    assert first.get("href") == reverse("admin:comments_comment_queue_top")
    # Without JavaScript the help's button stays hidden (nothing it could open).
    assert page.find(".//button[@data-comments-keys-open]").get("hidden") is not None
    assert "comments/admin-keys.js" in desk.get(CHANGELIST).content.decode()


def test_a_comments_page_links_its_neighbours_and_marks_the_keys(desk, queue):
    _top, middle, _last, _approved = queue
    page = parse(desk.get(change_url(middle.pk)))
    links = {a.get("data-comments-key"): a.get("href") for a in page.iter("a")}
    assert links["j"] == reverse("admin:comments_comment_queue_step", args=[middle.pk, "next"])
    assert links["k"] == reverse("admin:comments_comment_queue_step", args=[middle.pk, "previous"])
    assert links["n"] == reverse(
        "admin:comments_comment_queue_step", args=[middle.pk, "next-pending"]
    )
    buttons = {b.get("data-comments-key"): b for b in page.iter("button")}
    for key, action in [("a", "approve"), ("s", "spam")]:
        button = buttons[key]
        assert button.get("name") == "_next"
        form = next(f for f in page.iter("form") if button in list(f.iter("button")))
        assert form.get("method") == "post"
        assert form.get("action").endswith(f"/moderate/{action}/")
        assert form.find(".//input[@name='csrfmiddlewaretoken']") is not None
    assert page.find(".//dialog[@id='comments-keys-help']").get("data-page") == "comment"
