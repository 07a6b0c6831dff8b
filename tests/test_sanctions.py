"""Sanctions: what they target, when they apply, the refusals readers get, and the
moderation functions that set and lift them (comments.sanctions, comments.moderation)."""

from datetime import timedelta

import html5lib
import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from comments import moderation, sanctions
from comments.models import Comment, Commenter, Sanction

pytestmark = pytest.mark.django_db

Status = Comment.Status
Kind = Sanction.Kind
Target = Sanction.Target


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (flood keys, cached sanctions)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def moderator(staff_user):
    return staff_user


def post(article, data, *, ip="198.51.100.10", client=None):
    return (client or Client()).post(
        reverse("comments:post", args=[article.slug]), data, REMOTE_ADDR=ip
    )


def form_errors(response):
    page = html5lib.parse(response.content, treebuilder="etree", namespaceHTMLElements=False)
    return " ".join(
        " ".join("".join(element.itertext()).split())
        for element in page.iter()
        if {"form-errors", "field-error"} & set((element.get("class") or "").split())
    )


def kept_body(response):
    page = html5lib.parse(response.content, treebuilder="etree", namespaceHTMLElements=False)
    return (page.find(".//textarea[@name='body']").text or "").strip()


def later(monkeypatch, **delta):
    """Move the site's clock forward by ``delta`` (timedelta keywords)."""
    moved = timezone.now() + timedelta(**delta)
    monkeypatch.setattr(timezone, "now", lambda: moved)
    return moved


# --- targets ------------------------------------------------------------------------------
def test_an_email_target_is_normalised():
    parsed = sanctions.parse_target(Target.EMAIL, "  Troll@Example.COM ")
    assert parsed == (Target.EMAIL, "troll@example.com", "", "")


def test_an_ipv4_address_is_one_address_mapped_into_ipv6():
    parsed = sanctions.parse_target(Target.NETWORK, "203.0.113.7")
    assert parsed.target == "203.0.113.7"
    assert parsed.network_start == parsed.network_end == "00000000000000000000ffffcb007107"


def test_an_ipv4_network_covers_its_range_and_host_bits_mean_the_network():
    parsed = sanctions.parse_target(Target.NETWORK, "203.0.113.77/24")
    assert parsed.target == "203.0.113.0/24"
    assert parsed.network_start == "00000000000000000000ffffcb007100"
    assert parsed.network_end == "00000000000000000000ffffcb0071ff"


def test_an_ipv6_network_covers_its_range():
    parsed = sanctions.parse_target(Target.NETWORK, "2001:DB8:1::/48")
    assert parsed.target == "2001:db8:1::/48"
    assert parsed.network_start == "20010db8000100000000000000000000"
    assert parsed.network_end == "20010db80001ffffffffffffffffffff"


@pytest.mark.parametrize("text", ["999.1.1.1", "203.0.113.0/33", "not an ip", ""])
def test_an_invalid_network_is_refused_with_a_message(text):
    with pytest.raises(ValidationError) as refused:
        sanctions.parse_target(Target.NETWORK, text)
    assert refused.value.code == "invalid_network"
    assert "is not an IP address or network" in refused.value.messages[0]


@pytest.mark.parametrize("text", ["0.0.0.0/0", "10.0.0.0/7", "2001::/15"])
def test_a_network_too_wide_is_refused(text):
    with pytest.raises(ValidationError) as refused:
        sanctions.parse_target(Target.NETWORK, text)
    assert refused.value.code == "network_too_wide"


def test_a_domain_is_lower_case_without_at_sign_or_trailing_dot():
    assert sanctions.parse_target(Target.DOMAIN, " @Spam.Example. ").target == "spam.example"


def test_a_punycode_domain_is_stored_in_unicode():
    assert sanctions.parse_target(Target.DOMAIN, "XN--BCHER-KVA.example").target == "bücher.example"


@pytest.mark.parametrize("text", ["localhost", "not a domain", "exa mple.com", "-x.com", ""])
def test_an_invalid_domain_is_refused(text):
    with pytest.raises(ValidationError) as refused:
        sanctions.parse_target(Target.DOMAIN, text)
    assert refused.value.code == "invalid_domain"


def test_an_invalid_email_is_refused():
    with pytest.raises(ValidationError) as refused:
        sanctions.parse_target(Target.EMAIL, "troll at example")
    assert refused.value.code == "invalid_email"


# --- in force -------------------------------------------------------------------------------
def test_in_force_matches_the_email_in_any_spelling(moderator):
    ban = moderation.ban_commenter("troll@example.com", by=moderator, reason="insults")
    assert sanctions.in_force_for(" TROLL@Example.com", None) == (ban,)
    assert sanctions.in_force_for("other@example.com", None) == ()


def test_in_force_matches_a_domain_and_its_subdomains(moderator):
    ban = moderation.add_sanction(
        Kind.BAN, target_type=Target.DOMAIN, target="spam.example", by=moderator, reason="bots"
    )
    assert sanctions.in_force_for("a@spam.example", None) == (ban,)
    assert sanctions.in_force_for("a@MAIL.Spam.Example", None) == (ban,)
    assert sanctions.in_force_for("a@notspam.example", None) == ()
    assert sanctions.in_force_for("a@example", None) == ()


def test_in_force_matches_an_idn_domain_in_either_spelling(moderator):
    ban = moderation.add_sanction(
        Kind.BAN, target_type=Target.DOMAIN, target="bücher.example", by=moderator, reason="x"
    )
    assert sanctions.in_force_for("a@xn--bcher-kva.example", None) == (ban,)
    assert sanctions.in_force_for("a@Bücher.example", None) == (ban,)


@pytest.mark.parametrize(
    ("network", "inside", "outside"),
    [
        ("203.0.113.0/24", "203.0.113.250", "203.0.114.1"),
        ("203.0.113.0/24", "::ffff:203.0.113.9", "::ffff:203.0.112.9"),
        ("2001:db8:1::/48", "2001:db8:1:ffff::1", "2001:db8:2::1"),
    ],
)
def test_in_force_matches_every_address_inside_a_network(moderator, network, inside, outside):
    ban = moderation.add_sanction(
        Kind.BAN, target_type=Target.NETWORK, target=network, by=moderator, reason="x"
    )
    assert sanctions.in_force_for("anyone@example.org", inside) == (ban,)
    assert sanctions.in_force_for("anyone@example.org", outside) == ()


def test_warnings_lifted_and_ended_sanctions_are_not_in_force(moderator):
    email = "troll@example.com"
    moderation.warn_commenter(email, by=moderator, message="Mind your words.")
    lifted = moderation.ban_commenter(email, by=moderator, reason="x")
    moderation.lift_sanction(lifted, by=moderator)
    Sanction.objects.create(
        kind=Kind.SUSPENSION,
        target_type=Target.EMAIL,
        target=email,
        reason="old",
        ends_at=timezone.now() - timedelta(minutes=1),
    )
    assert sanctions.in_force_for(email, None) == ()


def test_strictest_sanction_comes_first(moderator):
    email = "troll@example.com"
    premoderation = moderation.premoderate_commenter(email, by=moderator, reason="x")
    soon = timezone.now() + timedelta(days=1)
    short = moderation.suspend_commenter(email, by=moderator, reason="x", until=soon)
    long = moderation.suspend_commenter(
        email, by=moderator, reason="x", until=soon + timedelta(days=6)
    )
    ban = moderation.ban_commenter(email, by=moderator, reason="x")
    assert sanctions.in_force_for(email, None) == (ban, long, short, premoderation)


def test_in_force_is_one_query_then_none_from_the_cache(moderator, django_assert_num_queries):
    moderation.ban_commenter("troll@example.com", by=moderator, reason="x")
    moderation.add_sanction(
        Kind.BAN, target_type=Target.NETWORK, target="203.0.113.0/24", by=moderator, reason="x"
    )
    with django_assert_num_queries(1):
        first = sanctions.in_force_for("troll@example.com", "203.0.113.5")
    with django_assert_num_queries(0):
        again = sanctions.in_force_for("troll@example.com", "203.0.113.5")
    assert len(first) == 2
    assert again == first


def test_a_new_sanction_applies_at_once_despite_the_cache(moderator):
    assert sanctions.in_force_for("troll@example.com", None) == ()  # cached: none
    ban = moderation.ban_commenter("troll@example.com", by=moderator, reason="x")
    assert sanctions.in_force_for("troll@example.com", None) == (ban,)


def test_a_sanction_saved_another_way_applies_at_once_too(moderator):
    """The post_save receiver drops the cached answers (an admin form, a shell)."""
    assert sanctions.in_force_for("troll@example.com", None) == ()
    parsed = sanctions.parse_target(Target.EMAIL, "troll@example.com")
    ban = Sanction.objects.create(kind=Kind.BAN, **parsed._asdict(), reason="x")
    assert sanctions.in_force_for("troll@example.com", None) == (ban,)


def test_a_cached_suspension_stops_applying_when_it_ends(moderator):
    until = timezone.now() + timedelta(hours=1)
    suspension = moderation.suspend_commenter(
        "troll@example.com", by=moderator, reason="x", until=until
    )
    assert sanctions.in_force_for("troll@example.com", None) == (suspension,)
    after = until + timedelta(seconds=1)
    assert sanctions.in_force_for("troll@example.com", None, now=after) == ()


def test_without_a_cache_sanctions_come_from_the_database(moderator, monkeypatch, caplog):
    ban = moderation.ban_commenter("troll@example.com", by=moderator, reason="x")

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(sanctions.cache, "get", broken)
    assert sanctions.in_force_for("troll@example.com", None) == (ban,)


# --- refusals on posting ----------------------------------------------------------------------
def test_a_banned_commenter_changing_the_case_of_their_email_is_refused(
    article, comment_data, moderator
):
    moderation.ban_commenter("troll@example.com", by=moderator, reason="insults")
    response = post(article, comment_data(email="TROLL@Example.COM", body="Let me in."))
    assert response.status_code == 403
    assert "You can no longer comment on this site." in form_errors(response)
    assert kept_body(response) == "Let me in."
    assert not Comment.objects.exists()


def test_a_suspended_commenter_is_told_until_when(article, comment_data, moderator, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    until = timezone.make_aware(timezone.datetime(2036, 12, 8, 14, 0))
    moderation.suspend_commenter("ada@example.org", by=moderator, reason="x", until=until)
    response = post(article, comment_data(body="Still here."))
    assert response.status_code == 403
    assert "You are suspended from commenting until December 8, 2036 at 2:00 p.m." in (
        form_errors(response)
    )
    assert kept_body(response) == "Still here."
    assert not Comment.objects.exists()


def test_the_suspension_end_is_in_the_readers_language(article, comment_data, moderator):
    until = timezone.make_aware(timezone.datetime(2036, 12, 8, 14, 0))
    moderation.suspend_commenter("ada@example.org", by=moderator, reason="x", until=until)
    with translation.override("de"):
        response = post(article, comment_data(), client=Client(HTTP_ACCEPT_LANGUAGE="de"))
    assert response.status_code == 403
    assert "8. Dezember 2036" in form_errors(response)


def test_after_an_expired_suspension_posting_works_again(
    article, comment_data, moderator, monkeypatch
):
    until = timezone.now() + timedelta(hours=1)
    moderation.suspend_commenter("ada@example.org", by=moderator, reason="x", until=until)
    assert post(article, comment_data(body="First try.")).status_code == 403  # cached now
    later(monkeypatch, hours=2)
    response = post(article, comment_data(body="Second try."), ip="198.51.100.11")
    assert response.status_code == 303
    assert Comment.objects.get().body == "Second try."


@pytest.mark.parametrize(
    ("network", "ip"),
    [("203.0.113.0/24", "203.0.113.99"), ("2001:db8:abcd::/48", "2001:db8:abcd:12::7")],
)
def test_a_poster_inside_a_banned_network_is_refused(article, comment_data, moderator, network, ip):
    moderation.add_sanction(
        Kind.BAN, target_type=Target.NETWORK, target=network, by=moderator, reason="bots"
    )
    response = post(article, comment_data(), ip=ip)
    assert response.status_code == 403
    assert "You can no longer comment on this site." in form_errors(response)
    assert not Comment.objects.exists()


def test_a_poster_of_a_banned_domain_is_refused(article, comment_data, moderator):
    moderation.add_sanction(
        Kind.BAN, target_type=Target.DOMAIN, target="example.org", by=moderator, reason="x"
    )
    response = post(article, comment_data(email="someone@mail.example.org"))
    assert response.status_code == 403
    assert not Comment.objects.exists()


def test_lifting_a_sanction_lets_the_commenter_post_again_at_once(article, comment_data, moderator):
    moderation.ban_commenter("ada@example.org", by=moderator, reason="x")
    assert post(article, comment_data(body="Refused.")).status_code == 403  # cached now
    assert moderation.lift_sanctions("Ada@Example.org", by=moderator) == 1
    response = post(article, comment_data(body="Welcome back."), ip="198.51.100.11")
    assert response.status_code == 303
    assert Comment.objects.get().body == "Welcome back."


def test_a_premoderated_commenter_is_held_with_the_reason(
    article, comment_data, moderator, comment_factory
):
    comment_factory(author_email="ada@example.org")  # trusted otherwise
    moderation.premoderate_commenter("ada@example.org", by=moderator, reason="watch")
    assert post(article, comment_data()).status_code == 303
    comment = Comment.objects.get(article=article)
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: commenter is pre-moderated"


def test_spam_stays_spam_for_a_premoderated_commenter(article, comment_data, moderator):
    moderation.premoderate_commenter("ada@example.org", by=moderator, reason="watch")
    post(article, comment_data(homepage="http://bot.example"))
    assert Comment.objects.get().status == Status.SPAM


def test_a_banned_commenter_cannot_edit_their_comment(article, comment_data, moderator):
    client = Client()
    post(article, comment_data(body="Before."), client=client)
    comment = Comment.objects.get()
    moderation.ban_commenter("ada@example.org", by=moderator, reason="x")
    url = reverse("comments:edit", args=[comment.pk])
    response = client.post(url, {"body": "After."}, REMOTE_ADDR="198.51.100.10")
    assert response.status_code == 403
    assert "You can no longer comment on this site." in response.content.decode()
    comment.refresh_from_db()
    assert comment.body == "Before."


# --- the moderation functions -------------------------------------------------------------------
def test_a_ban_is_logged_on_the_sanction_and_the_commenter(moderator, comment_factory):
    commenter = comment_factory(author_email="troll@example.com").commenter
    ban = moderation.ban_commenter("Troll@example.com", by=moderator, reason="insults")
    assert ban.commenter == commenter
    assert ban.created_by == moderator
    on_sanction = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Sanction), object_id=str(ban.pk)
    )
    assert on_sanction.action_flag == ADDITION
    assert on_sanction.get_change_message() == "Banned email troll@example.com: insults"
    on_commenter = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(Commenter), object_id=str(commenter.pk)
    )
    assert on_commenter.action_flag == CHANGE
    assert on_commenter.user == moderator


def test_a_suspension_needs_an_end_in_the_future(moderator):
    with pytest.raises(ValidationError):
        moderation.add_sanction(
            Kind.SUSPENSION, target_type=Target.EMAIL, target="a@example.com",
            by=moderator, reason="x",
        )  # fmt: skip
    with pytest.raises(ValidationError):
        moderation.suspend_commenter(
            "a@example.com", by=moderator, reason="x", until=timezone.now() - timedelta(1)
        )
    assert not Sanction.objects.exists()


def test_a_sanction_needs_a_reason(moderator):
    with pytest.raises(ValidationError):
        moderation.ban_commenter("a@example.com", by=moderator, reason="  ")
    assert not Sanction.objects.exists()


def test_an_invalid_target_stores_nothing(moderator):
    with pytest.raises(ValidationError):
        moderation.add_sanction(
            Kind.BAN, target_type=Target.NETWORK, target="300.1.1.1", by=moderator, reason="x"
        )
    assert not Sanction.objects.exists()
    assert not LogEntry.objects.exists()


def test_a_warning_emails_the_moderators_message_after_commit(
    moderator, comment_factory, django_capture_on_commit_callbacks
):
    comment_factory(author_email="ada@example.org", author_name="Ada")
    with django_capture_on_commit_callbacks(execute=True):
        warning = moderation.warn_commenter(
            "ADA@example.org", by=moderator, message="Please stay on topic."
        )
    assert warning.kind == Kind.WARNING
    assert sanctions.in_force_for("ada@example.org", None) == ()  # restricts nothing
    (sent,) = mail.outbox
    assert sent.to == ["ada@example.org"]
    assert "Please stay on topic." in sent.body
    assert "Hello Ada," in sent.body
    assert LogEntry.objects.filter(change_message__startswith="Warned email").count() == 2


def test_lifting_keeps_the_sanction_and_says_who(moderator):
    ban = moderation.ban_commenter("troll@example.com", by=moderator, reason="x")
    assert moderation.lift_sanction(ban, by=moderator) is True
    assert moderation.lift_sanction(ban, by=moderator) is False  # lifted already
    ban.refresh_from_db()
    assert ban.lifted_by == moderator
    assert ban.lifted_at is not None
    assert LogEntry.objects.filter(change_message__startswith="Lifted: Banned").exists()


def test_lift_sanctions_lifts_those_on_the_email_and_set_from_their_record(
    moderator, comment_factory
):
    commenter = comment_factory(author_email="troll@example.com").commenter
    moderation.ban_commenter("troll@example.com", by=moderator, reason="x")
    moderation.add_sanction(
        Kind.BAN, target_type=Target.NETWORK, target="203.0.113.7", by=moderator,
        reason="x", commenter=commenter,
    )  # fmt: skip
    other = moderation.ban_commenter("other@example.com", by=moderator, reason="x")
    assert moderation.lift_sanctions("troll@example.com", by=moderator) == 2
    assert list(Sanction.objects.in_force()) == [other]
    assert Sanction.objects.count() == 3  # nothing deleted


def test_sanction_authors_sets_one_per_distinct_author(moderator, comment_factory):
    comments = [
        comment_factory(author_email="troll@example.com"),
        comment_factory(author_email="TROLL@example.com"),
        comment_factory(author_email="bot@example.net"),
    ]
    count = moderation.sanction_authors(
        Comment.objects.filter(pk__in=[c.pk for c in comments]), Kind.BAN,
        by=moderator, reason="raid",
    )  # fmt: skip
    assert count == 2
    assert sorted(Sanction.objects.values_list("target", flat=True)) == [
        "bot@example.net",
        "troll@example.com",
    ]
    assert all(s.commenter is not None for s in Sanction.objects.all())
    # Again: both are banned already.
    assert moderation.sanction_authors(comments, Kind.BAN, by=moderator, reason="raid") == 0


def test_sanction_authors_can_mark_their_pending_comments_spam(moderator, comment_factory):
    selected = comment_factory(author_email="troll@example.com", status=Status.APPROVED)
    elsewhere = comment_factory(author_email="Troll@example.com", status=Status.PENDING)
    bystander = comment_factory(author_email="kind@example.com", status=Status.PENDING)
    until = timezone.now() + timedelta(days=7)
    count = moderation.sanction_authors(
        [selected], Kind.SUSPENSION, by=moderator, reason="raid", until=until, spam_pending=True
    )
    assert count == 1
    elsewhere.refresh_from_db()
    bystander.refresh_from_db()
    assert elsewhere.status == Status.SPAM
    assert elsewhere.moderation_reason == "spam: author suspended"
    assert bystander.status == Status.PENDING
    selected.refresh_from_db()
    assert selected.status == Status.APPROVED
    assert Sanction.objects.get().ends_at == until


def test_a_longer_suspension_replaces_a_shorter_one_in_a_bulk_action(moderator, comment_factory):
    comment = comment_factory(author_email="troll@example.com")
    day = timezone.now() + timedelta(days=1)
    week = timezone.now() + timedelta(days=7)
    moderation.sanction_authors([comment], Kind.SUSPENSION, by=moderator, reason="x", until=week)
    assert (
        moderation.sanction_authors([comment], Kind.SUSPENSION, by=moderator, reason="x", until=day)
        == 0
    )
    assert (
        moderation.sanction_authors(
            [comment], Kind.SUSPENSION, by=moderator, reason="x", until=week + timedelta(days=1)
        )
        == 1
    )


def test_a_permanent_ban_is_set_on_an_author_banned_for_a_while(moderator, comment_factory):
    comment = comment_factory(author_email="troll@example.com")
    week = timezone.now() + timedelta(days=7)
    moderation.sanction_authors([comment], Kind.BAN, by=moderator, reason="x", until=week)
    assert moderation.sanction_authors([comment], Kind.BAN, by=moderator, reason="x") == 1


def test_warning_the_authors_emails_each_of_them(
    moderator, comment_factory, django_capture_on_commit_callbacks
):
    comments = [
        comment_factory(author_email="ada@example.org", author_name="Ada"),
        comment_factory(author_email="bob@example.org", author_name="Bob"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        count = moderation.sanction_authors(
            comments, Kind.WARNING, by=moderator, reason="Keep it civil."
        )
    assert count == 2
    assert sorted(message.to[0] for message in mail.outbox) == [
        "ada@example.org",
        "bob@example.org",
    ]
    assert all("Keep it civil." in message.body for message in mail.outbox)
