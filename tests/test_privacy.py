"""A reader's own data: the download (signed in, or by a signed link emailed to their
address), and the request form that says the same whether or not the address is known."""

import json
import re
import time

import pytest
from django.core import signing
from django.urls import reverse

from comments import privacy
from comments.models import CommentReport, CommentRevision, Reaction
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
