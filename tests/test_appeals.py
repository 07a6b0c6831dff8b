"""Appeals: the commenter appeals a removal once from the signed link in the email; the
appeal waits beside the comment in the queue; a moderator answers it once (uphold or
reinstate) and the answer is emailed back."""

import time

import html5lib
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from comments import appeals, moderation
from comments.models import Appeal, Comment
from tests.factories import CommentFactory, StaffFactory
from tests.html import NS, parse, text_of

pytestmark = pytest.mark.django_db

Status = Comment.Status
Outcome = Appeal.Outcome
CHANGELIST = "admin:comments_comment_changelist"


def admin_parse(response):
    return html5lib.parse(response.content, treebuilder="etree", namespaceHTMLElements=False)


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def moderator():
    user = StaffFactory(username="mod", email="mod@example.com")
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def moderator_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def removed(moderator):
    comment = CommentFactory(
        author_name="Rita", author_email="rita@example.org", body="My removed words."
    )
    moderation.remove([comment], by=moderator, removal_reason="off_topic")
    comment.refresh_from_db()
    return comment


def appeal_url(comment):
    return reverse("comments:appeal", args=[appeals.appeal_token(comment)])


def answer_url(appeal):
    return reverse("admin:comments_appeal_change", args=[appeal.pk])


def change_url(comment):
    return reverse("admin:comments_comment_change", args=[comment.pk])


class _SignedAt(signing.TimestampSigner):
    def __init__(self, *, at, **kwargs):
        super().__init__(**kwargs)
        self.at = at

    def timestamp(self):
        return signing.b62_encode(int(self.at))


# --- the commenter's appeal page -------------------------------------------------------
def test_appeal_page_shows_the_comment_the_reason_and_a_form(client, removed):
    response = client.get(appeal_url(removed))
    assert response.status_code == 200
    page = parse(response)
    assert "My removed words." in text_of(page.find(".//h:figure", NS))
    assert text_of(page.find(".//h:dd[@class='appeal-reason']", NS)) == "off-topic"
    form = page.find(".//h:form[@class='comment-form appeal-form']", NS)
    assert form.find(".//h:textarea[@name='body']", NS) is not None
    assert page.find(".//h:meta[@name='robots']", NS).get("content") == "noindex"


def test_appeal_is_stored_and_the_moderators_told(
    client, removed, moderator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(appeal_url(removed), {"body": "It was on topic: see para 3."})
    assert response.status_code == 303
    appeal = Appeal.objects.get(comment=removed)
    assert appeal.body == "It was on topic: see para 3."
    assert appeal.answered_at is None
    assert [m.to for m in mail.outbox] == [["mod@example.com"]]
    assert "It was on topic: see para 3." in mail.outbox[0].body
    assert change_url(removed) in mail.outbox[0].body
    page = client.get(response["Location"])
    assert "Your appeal was sent. A moderator will answer you by email." in messages_of(page)
    assert "It was on topic" in text_of(parse(page).find(".//h:section", NS))


def test_second_appeal_is_refused_with_409(client, removed):
    assert client.post(appeal_url(removed), {"body": "First."}).status_code == 303
    response = client.post(appeal_url(removed), {"body": "Second."})
    assert response.status_code == 409
    alert = parse(response).find(".//h:p[@class='appeal-refusal']", NS)
    assert text_of(alert) == (
        "You have already appealed this removal; a comment can be appealed once."
    )
    assert Appeal.objects.get(comment=removed).body == "First."


def test_file_appeal_twice_raises(removed):
    appeals.file_appeal(removed, body="Once.")
    with pytest.raises(appeals.AppealRefused) as refused:
        appeals.file_appeal(removed, body="Twice.")
    assert refused.value.code == "already_appealed"
    assert Appeal.objects.count() == 1


def test_empty_appeal_is_refused_with_the_form_again(client, removed):
    response = client.post(appeal_url(removed), {"body": "   "})
    assert response.status_code == 400
    assert "Please say why the removal was wrong." in response.content.decode()
    assert not Appeal.objects.exists()


def test_forged_appeal_link_is_a_404(client, removed):
    token = appeals.appeal_token(removed)
    assert client.get(reverse("comments:appeal", args=[token[:-2] + "xx"])).status_code == 404
    other = signing.dumps({"c": removed.pk}, salt="comments.unsubscribe")
    assert client.post(reverse("comments:appeal", args=[other]), {"body": "x"}).status_code == 404
    assert not Appeal.objects.exists()


def test_expired_appeal_link_says_so(client, removed, settings):
    settings.COMMENTS_APPEAL_DAYS = 30
    then = time.time() - 31 * 86400
    token = _SignedAt(at=then, salt=appeals.APPEAL_SALT).sign_object({"c": removed.pk})
    response = client.post(reverse("comments:appeal", args=[token]), {"body": "Late."})
    assert response.status_code == 400
    assert "This appeal link has expired" in response.content.decode()
    assert not Appeal.objects.exists()


def test_appeal_of_a_comment_no_longer_removed_is_refused_kindly(client, removed, moderator):
    moderation.approve([removed], by=moderator)
    response = client.get(appeal_url(removed))
    assert response.status_code == 200
    notice = parse(response).find(".//h:p[@class='appeal-refusal']", NS)
    assert text_of(notice) == "This comment is no longer removed, so there is nothing to appeal."
    assert parse(response).find(".//h:textarea", NS) is None
    assert client.post(appeal_url(removed), {"body": "Please."}).status_code == 409
    assert not Appeal.objects.exists()


# --- beside the comment in the queue ---------------------------------------------------
def test_appealed_comment_is_in_the_queue_filter_with_a_mark(moderator_client, removed):
    appeals.file_appeal(removed, body="Please look again.")
    other_removed = CommentFactory(status=Status.REMOVED)
    queue = moderator_client.get(reverse(CHANGELIST))
    filter_links = {
        text_of(a): a.get("href")
        for a in admin_parse(queue).iterfind(".//nav[@id='changelist-filter']//a")
    }
    link = filter_links["Appealed, awaiting an answer (1)"]
    assert "appeal=open" in link and "status=all" in link
    response = moderator_client.get(reverse(CHANGELIST) + link)
    rows = admin_parse(response).findall(".//table[@id='result_list']/tbody/tr")
    pks = [int(r.find(".//input[@name='_selected_action']").get("value")) for r in rows]
    assert pks == [removed.pk]
    assert other_removed.pk not in pks
    mark = rows[0].find(".//td[@class='field-appeal_mark']/a")
    assert text_of(mark) == "Appealed"
    assert mark.get("href") == change_url(removed) + "#appeal"


def test_change_page_shows_the_appeal_with_the_answer_form(moderator_client, removed):
    appeal = appeals.file_appeal(removed, body="It was on topic.")
    page = admin_parse(moderator_client.get(change_url(removed)))
    panel = page.find(".//section[@id='appeal']")
    assert "It was on topic." in text_of(panel)
    assert "off-topic" in text_of(panel)
    form = panel.find(".//form")
    assert form.get("action") == answer_url(appeal)
    assert {i.get("value") for i in form.iterfind(".//input[@name='outcome']")} == {
        "upheld",
        "reinstated",
    }
    assert form.find(".//input[@name='_return_to']").get("value") == change_url(removed)


# --- answering ---------------------------------------------------------------------------
def answer(client, appeal, outcome, text="We looked again.", **extra):
    return client.post(
        answer_url(appeal), {"outcome": outcome, "answer": text, "_save": "1", **extra}
    )


def test_reinstating_approves_the_comment_and_emails_the_answer(
    moderator_client, moderator, removed, client, django_capture_on_commit_callbacks
):
    appeal = appeals.file_appeal(removed, body="Please.")
    url = removed.article.get_absolute_url()
    assert "My removed words" not in client.get(url).content.decode()  # cached
    with django_capture_on_commit_callbacks(execute=True):
        response = answer(
            moderator_client,
            appeal,
            "reinstated",
            "You are right.",
            _return_to=change_url(removed),
        )
    assert response.status_code == 302
    assert response["Location"] == change_url(removed)
    removed.refresh_from_db()
    assert (removed.status, removed.removal_reason, removed.moderated_by) == (
        Status.APPROVED,
        "",
        moderator,
    )
    appeal.refresh_from_db()
    assert (appeal.outcome, appeal.answer, appeal.answered_by) == (
        Outcome.REINSTATED,
        "You are right.",
        moderator,
    )
    to_rita = [m for m in mail.outbox if m.to == ["rita@example.org"]]
    assert len(to_rita) == 1
    assert "your comment is reinstated" in to_rita[0].body
    assert "You are right." in to_rita[0].body
    assert removed.get_absolute_url() in to_rita[0].body
    assert "My removed words" in client.get(url).content.decode()  # the cache followed


def test_upholding_keeps_the_comment_removed_and_emails_the_answer(
    moderator_client, moderator, removed, django_capture_on_commit_callbacks
):
    appeal = appeals.file_appeal(removed, body="Please.")
    with django_capture_on_commit_callbacks(execute=True):
        response = answer(moderator_client, appeal, "upheld", "It stays off-topic.")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:comments_appeal_changelist")
    removed.refresh_from_db()
    assert (removed.status, removed.removal_reason) == (Status.REMOVED, "off_topic")
    appeal.refresh_from_db()
    assert appeal.outcome == Outcome.UPHELD and appeal.answered_at is not None
    [message] = [m for m in mail.outbox if m.to == ["rita@example.org"]]
    assert "the removal is upheld" in message.body
    assert "It stays off-topic." in message.body
    entries = LogEntry.objects.filter(user=moderator).values_list("object_id", "change_message")
    assert (str(removed.pk), "Appeal answered: removal upheld.") in set(entries)
    assert (str(appeal.pk), "Answered the appeal: removal upheld.") in set(entries)


def test_answer_without_text_shows_the_form_again(moderator_client, removed):
    appeal = appeals.file_appeal(removed, body="Please.")
    response = answer(moderator_client, appeal, "upheld", "  ")
    assert response.status_code == 200
    assert "Write the answer the commenter will receive." in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.answered_at is None


def test_an_appeal_is_answered_once(moderator_client, moderator, removed):
    appeal = appeals.file_appeal(removed, body="Please.")
    assert answer(moderator_client, appeal, "upheld").status_code == 302
    assert answer(moderator_client, appeal, "reinstated").status_code == 403
    removed.refresh_from_db()
    assert removed.status == Status.REMOVED
    with pytest.raises(appeals.AppealRefused) as refused:
        appeals.answer(appeal, outcome="reinstated", answer="Again.", by=moderator)
    assert refused.value.code == "already_answered"
    page = admin_parse(moderator_client.get(answer_url(appeal)))
    assert page.find(".//textarea[@name='answer']") is None  # viewed, not changed


def test_upholding_a_comment_approved_meanwhile_is_refused(moderator_client, moderator, removed):
    appeal = appeals.file_appeal(removed, body="Please.")
    moderation.approve([removed], by=moderator)
    response = answer(moderator_client, appeal, "upheld")
    assert response.status_code == 302
    assert response["Location"] == answer_url(appeal)
    appeal.refresh_from_db()
    assert appeal.answered_at is None


def test_moderator_without_change_appeal_cannot_answer(removed):
    viewer = StaffFactory(username="viewer")
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_appeal", "view_comment", "change_comment"])
    )
    client = Client()
    client.force_login(viewer)
    appeal = appeals.file_appeal(removed, body="Please.")
    assert client.get(answer_url(appeal)).status_code == 200  # may view it
    assert answer(client, appeal, "reinstated").status_code == 403
    appeal.refresh_from_db()
    assert appeal.answered_at is None
    panel = admin_parse(client.get(change_url(removed))).find(".//section[@id='appeal']")
    assert panel.find(".//form") is None


def test_appeal_admin_lists_open_appeals_first_and_adds_or_deletes_nothing(
    moderator_client, moderator
):
    comments = [CommentFactory() for _ in range(3)]
    moderation.remove(comments, by=moderator, removal_reason="spam")
    first, second, third = (
        appeals.file_appeal(c, body=f"Appeal {n}") for n, c in enumerate(comments)
    )
    appeals.answer(second, outcome="upheld", answer="No.", by=moderator)
    response = moderator_client.get(reverse("admin:comments_appeal_changelist"))
    assert response.status_code == 200
    rows = admin_parse(response).findall(".//table[@id='result_list']/tbody/tr")
    states = [text_of(r.find(".//td[@class='field-state']")) for r in rows]
    assert states == ["Awaiting an answer", "Awaiting an answer", "Removal upheld"]
    assert moderator_client.get(reverse("admin:comments_appeal_add")).status_code == 403
    delete = reverse("admin:comments_appeal_delete", args=[first.pk])
    assert moderator_client.post(delete, {"post": "yes"}).status_code == 403
    assert Appeal.objects.count() == 3
