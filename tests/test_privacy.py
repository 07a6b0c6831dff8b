"""A reader's own data: the download (signed in, or by a signed link emailed to their
address), and the request form that says the same whether or not the address is known."""

import json
import re
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.management import call_command
from django.db.models import CharField, TextField
from django.urls import reverse
from django.utils import timezone

from comments import privacy
from comments.models import Comment, CommentReport, CommentRevision, ErasureRequest, Reaction
from tests.factories import CommentFactory
from tests.html import NS, parse, text_of
from tests.test_accounts import make_reader, signed_in

pytestmark = pytest.mark.django_db

ADA = "ada@example.org"


def _path(url):
    from django.conf import settings

    return url.removeprefix(settings.SITE_URL)


def _ada_data():
    """Ada's comment with an earlier version, a reply to it by someone else, her report of
    another comment and (when signed in) her reaction."""
    comment = CommentFactory(
        author_name="Ada Lovelace",
        author_email="Ada@Example.org",
        author_url="https://ada.example.org/",
        ip_address="198.51.100.23",
    )
    CommentRevision.objects.create(comment=comment, body="My first draft.")
    other = CommentFactory(author_email="bob@example.net", ip_address="192.0.2.1")
    CommentReport.objects.create(
        comment=other,
        reason=CommentReport.Reason.SPAM,
        session_key="s1",
        reporter_email="ada@example.org",
        ip_address="198.51.100.24",
    )
    return comment, other


def _main_text(response):
    return text_of(parse(response).find(".//h:main", NS))


def _issued_long_ago(make):
    """A token signed a day and a minute ago (the signer reads ``time.time``)."""
    issued = time.time() - privacy.LINK_MAX_AGE.total_seconds() - 60
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signing.time, "time", lambda: issued)
        return make()


def _export(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith('attachment; filename="')
    return json.loads(
        b"".join(response.streaming_content) if response.streaming else response.content
    )


def test_a_signed_in_reader_downloads_their_comments_reactions_and_reports():
    user = make_reader(ADA)
    comment, other = _ada_data()
    Reaction.objects.create(comment=other, user=user)

    data = _export(signed_in(user).get(reverse("comments:privacy-download")))

    assert [c["id"] for c in data["comments"]] == [comment.pk]
    exported = data["comments"][0]
    assert exported["status"] == "approved"
    assert exported["text"] == comment.body
    assert exported["created_at"]
    assert exported["ip_address"] == "198.51.100.23"
    assert exported["earlier_versions"][0]["body"] == "My first draft."
    assert data["reactions"] == [
        {"comment": other.pk, "reacted_at": data["reactions"][0]["reacted_at"]}
    ]
    assert [r["comment"] for r in data["reports"]] == [other.pk]
    assert data["ip_addresses"] == ["198.51.100.23", "198.51.100.24"]
    assert data["account"]["display_name"] == "Ada Reader"
    assert data["commenter"][0]["email"] == ADA
    # Bob's comment and address are not Ada's.
    assert "192.0.2.1" not in json.dumps(data)
    assert "bob@example.net" not in json.dumps(data)


def test_the_download_includes_follows_when_they_exist():
    model = privacy.follow_model()
    if model is None:
        pytest.skip("no follow model on this branch")
    user = make_reader(ADA)
    comment, _ = _ada_data()
    model.objects.create(article=comment.article, email=ADA, user=user)

    data = _export(signed_in(user).get(reverse("comments:privacy-download")))

    assert [f["article_id"] for f in data["follows"]] == [comment.article_id]


def test_the_download_needs_a_signed_in_reader(client):
    response = client.get(reverse("comments:privacy-download"))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_request_form_emails_a_link_that_downloads_the_data(client, mailoutbox):
    comment, _ = _ada_data()

    response = client.post(reverse("comments:privacy"), {"email": " ADA@example.org "})

    assert response.status_code == 200
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [ADA]
    data = _export(client.get(_path(re.search(r"https?://\S+", mailoutbox[0].body).group(0))))
    assert [c["id"] for c in data["comments"]] == [comment.pk]


def test_the_request_form_answers_the_same_for_an_unknown_address(client, mailoutbox):
    _ada_data()
    known = client.post(reverse("comments:privacy"), {"email": ADA})
    unknown = client.post(reverse("comments:privacy"), {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 200
    assert _main_text(known) == _main_text(unknown)
    assert len(mailoutbox) == 1  # only the address that has data gets an email


def test_the_request_form_refuses_an_invalid_address(client, mailoutbox):
    response = client.post(reverse("comments:privacy"), {"email": "not an address"})
    assert response.status_code == 400
    assert mailoutbox == []


def test_a_forged_download_link_is_refused(client):
    _ada_data()
    forged = signing.dumps({"e": ADA}, salt="another.salt")
    assert client.get(reverse("comments:privacy-export", args=[forged])).status_code == 404
    mangled = privacy.export_token(ADA)[:-2] + "xx"
    assert client.get(reverse("comments:privacy-export", args=[mangled])).status_code == 404


def test_an_expired_download_link_is_refused(client):
    _ada_data()
    token = _issued_long_ago(lambda: privacy.export_token(ADA))

    response = client.get(reverse("comments:privacy-export", args=[token]))

    assert response.status_code == 400
    assert "attachment" not in response.get("Content-Disposition", "")
    assert "expired" in text_of(parse(response).find(".//h:h1", NS))


# --- Erasure ---------------------------------------------------------------------------


def _confirm_erasure(client, mailoutbox, email=ADA):
    """Ask for an erasure from the form, follow the emailed link and confirm: the
    ErasureRequest now waits for its grace period."""
    client.post(reverse("comments:privacy"), {"email": email, "action": "erase"})
    confirm = _path(re.search(r"https?://\S+", mailoutbox[-1].body).group(0))
    assert client.get(confirm).status_code == 200
    assert not ErasureRequest.objects.exists()  # following the link alone erases nothing
    response = client.post(confirm)
    assert response.status_code == 303
    return ErasureRequest.objects.get(), response["Location"]


def _past_the_grace_period(erasure):
    ErasureRequest.objects.filter(pk=erasure.pk).update(
        execute_after=timezone.now() - timedelta(minutes=1)
    )


def _traces(needles):
    """Every (table, column) of the comments app and the admin's log holding a needle."""
    found = []
    models = [*apps.get_app_config("comments").get_models(), LogEntry]
    for model in models:
        for field in model._meta.concrete_fields:
            if not isinstance(field, CharField | TextField):
                continue
            for needle in needles:
                if model.objects.filter(**{f"{field.name}__icontains": needle}).exists():
                    found.append((model._meta.db_table, field.name, needle))
    return found


def test_confirming_an_erasure_schedules_it_after_the_grace_period(client, mailoutbox):
    _ada_data()
    before = timezone.now()

    erasure, status_url = _confirm_erasure(client, mailoutbox)

    assert erasure.email == ADA
    assert erasure.execute_after >= before + privacy.GRACE_PERIOD
    assert "cancel" in mailoutbox[-1].body.lower()
    page = client.get(status_url)
    assert "erased after" in _main_text(page)
    assert privacy.run_erasures() == []  # not yet
    assert Comment.objects.get(author_email="Ada@Example.org").status == "approved"


def test_an_erasure_request_for_an_unknown_address_answers_the_same(client, mailoutbox):
    _ada_data()
    known = client.post(reverse("comments:privacy"), {"email": ADA, "action": "erase"})
    unknown = client.post(
        reverse("comments:privacy"), {"email": "nobody@example.com", "action": "erase"}
    )
    assert _main_text(known) == _main_text(unknown)
    assert [m.to for m in mailoutbox] == [[ADA]]


def test_an_erasure_cancelled_within_the_grace_period_does_nothing(client, mailoutbox):
    comment, _ = _ada_data()
    erasure, status_url = _confirm_erasure(client, mailoutbox)

    assert client.post(status_url).status_code == 303
    _past_the_grace_period(erasure)
    assert privacy.run_erasures() == []

    comment.refresh_from_db()
    assert (comment.status, comment.author_email) == ("approved", "Ada@Example.org")
    assert "cancelled" in _main_text(client.get(status_url))
    assert ErasureRequest.objects.get().completed_at is None


def test_forged_and_expired_erasure_links_are_refused(client):
    _ada_data()
    forged = signing.dumps({"e": ADA, "u": None}, salt=privacy.EXPORT_SALT)
    assert client.post(reverse("comments:privacy-erase", args=[forged])).status_code == 404
    expired = _issued_long_ago(lambda: privacy.erase_token(ADA))
    assert client.post(reverse("comments:privacy-erase", args=[expired])).status_code == 400
    assert not ErasureRequest.objects.exists()
    forged_cancel = signing.dumps({"r": 1}, salt=privacy.ERASE_SALT)
    assert client.post(reverse("comments:privacy-erasure", args=[forged_cancel])).status_code == 404


def test_an_erasure_after_the_grace_period_leaves_placeholders_and_no_trace(
    client, mailoutbox, staff_user
):
    from comments import moderation
    from comments.models import CommenterNote

    user = make_reader(ADA, name="Ada Lovelace")
    comment, other = _ada_data()
    Comment.objects.filter(pk=comment.pk).update(user=user)
    reply = CommentFactory(parent=comment, author_email="carl@example.net", ip_address="192.0.2.2")
    Reaction.objects.create(comment=other, user=user)
    Comment.objects.filter(pk=other.pk).update(reaction_count=1)
    moderation.remove([comment], by=staff_user, reason="checking")  # logs "Ada Lovelace: ..."
    moderation.approve([comment], by=staff_user)
    CommenterNote.objects.create(
        commenter=comment.commenter,
        body="Ada Lovelace wrote from ada@example.org",
        author=staff_user,
    )
    assert _traces([ADA, "Ada Lovelace", "198.51.100.23"])  # the test can fail
    follow_model = privacy.follow_model()
    if follow_model is not None:
        follow_model.objects.create(article=comment.article, email=ADA, user=user)
    article_url = comment.article.get_absolute_url()
    assert "Comment deleted by its author." not in client.get(article_url).content.decode()

    erasure, _ = _confirm_erasure(client, mailoutbox)
    _past_the_grace_period(erasure)
    out = StringIO()
    call_command("run_erasures", stdout=out)

    assert "Carried out 1 erasure request(s)." in out.getvalue()
    comment.refresh_from_db()
    assert comment.status == Comment.Status.REMOVED
    assert comment.removal_reason == privacy.ERASED
    assert (comment.body, comment.author_name, comment.ip_address) == ("", "", None)
    reply.refresh_from_db()
    assert (reply.parent_id, reply.status) == (comment.pk, "approved")
    assert _traces([ADA, "Ada Lovelace", "198.51.100.23", "198.51.100.24"]) == []
    assert not CommentRevision.objects.filter(comment=comment).exists()
    assert Comment.objects.get(pk=other.pk).reaction_count == 0
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    erasure.refresh_from_db()
    assert erasure.completed_at is not None and erasure.email == ""
    assert erasure.comments_erased == 1 and erasure.rows_cleared > 0
    # The page (cached before) shows the placeholder, with the reply under it.
    doc = parse(client.get(article_url))
    placeholder = doc.find(f".//h:li[@id='comment-{comment.pk}']", NS)
    assert "Comment deleted by its author." in text_of(placeholder)
    assert placeholder.find(f".//h:li[@id='comment-{reply.pk}']", NS) is not None

    # Idempotent: nothing is due any more, and erasing again changes nothing.
    assert privacy.run_erasures() == []
    assert privacy.erase(privacy.Reader.for_email(ADA)) == (0, 0)


def test_a_signed_in_reader_asks_for_an_erasure_from_their_data_page(mailoutbox):
    user = make_reader(ADA)
    client = signed_in(user)
    page = client.get(reverse("comments:privacy"))
    assert "Erase my data" in _main_text(page)

    response = client.post(reverse("comments:privacy"), {"action": "erase"})

    assert response.status_code == 200
    assert [m.to for m in mailoutbox] == [[ADA]]
    confirm = _path(re.search(r"https?://\S+", mailoutbox[0].body).group(0))
    client.post(confirm)
    assert ErasureRequest.objects.get().user == user


def test_moderators_see_that_an_erasure_happened_not_whose(client, mailoutbox, admin_client):
    _ada_data()
    erasure, _ = _confirm_erasure(client, mailoutbox)
    _past_the_grace_period(erasure)
    privacy.run_erasures()

    changelist = admin_client.get(reverse("admin:comments_erasurerequest_changelist"))
    change = admin_client.get(reverse("admin:comments_erasurerequest_change", args=[erasure.pk]))

    assert changelist.status_code == change.status_code == 200
    assert "carried out" in changelist.content.decode()
    for response in (changelist, change):
        assert ADA not in response.content.decode()
        assert "Ada Lovelace" not in response.content.decode()
    assert admin_client.get(reverse("admin:comments_erasurerequest_add")).status_code == 403


def test_the_form_sends_one_link_per_address_in_ten_minutes(client, mailoutbox):
    """Asking again at once answers the same and sends nothing: the form cannot flood
    someone's inbox."""
    _ada_data()
    first = client.post(reverse("comments:privacy"), {"email": ADA})
    again = client.post(reverse("comments:privacy"), {"email": ADA.upper()})

    assert _main_text(first) == _main_text(again)
    assert len(mailoutbox) == 1
    client.post(reverse("comments:privacy"), {"email": ADA, "action": "erase"})
    assert len(mailoutbox) == 2  # an erasure link is another kind
