"""Automatic moderation on posting: each rule, its setting, and the order of the rules."""

import html5lib
import pytest
from django.test import Client
from django.urls import reverse

from comments import rules
from comments.models import Comment
from tests.conftest import aged_timestamp

pytestmark = pytest.mark.django_db

Status = Comment.Status

SPAM_SERVICE_CALLS = []


def spam_service_says_spam(candidate):
    SPAM_SERVICE_CALLS.append(candidate.email)
    return True


def spam_service_says_ham(candidate):
    SPAM_SERVICE_CALLS.append(candidate.email)
    return False


def spam_service_is_down(candidate):
    SPAM_SERVICE_CALLS.append(candidate.email)
    raise ConnectionError("spam service timed out")


@pytest.fixture(autouse=True)
def _reset_spam_service_calls():
    SPAM_SERVICE_CALLS.clear()


def parse(response):
    return html5lib.parse(response.content, treebuilder="etree", namespaceHTMLElements=False)


def text(element):
    return " ".join("".join(element.itertext()).split())


def post(article, data, *, client=None, **extra):
    extra.setdefault("REMOTE_ADDR", "198.51.100.10")
    return (client or Client()).post(reverse("comments:post", args=[article.slug]), data, **extra)


def stored(article):
    """The one comment posted on ``article``."""
    return Comment.objects.filter(article=article).get()


def form_errors(response):
    """The form's messages: the summary box and each field's error."""
    page = parse(response)
    return " ".join(
        text(element)
        for element in page.iter()
        if {"form-errors", "field-error"} & set((element.get("class") or "").split())
    )


def kept_body(response):
    textarea = parse(response).find(".//textarea[@name='body']")
    return (textarea.text or "").strip()


@pytest.fixture
def regular(comment_factory):
    """Make ada@example.org a poster with an approved comment (the rules' last word)."""
    return comment_factory(author_email="ada@example.org", status=Status.APPROVED)


# --- honeypot ---------------------------------------------------------------------------------
def test_filled_honeypot_is_stored_as_spam_with_the_normal_response(article, comment_data):
    response = post(article, comment_data(homepage="http://bot.example"))
    assert response.status_code == 303
    comment = stored(article)
    assert comment.status == Status.SPAM
    assert comment.moderation_reason == "spam: honeypot"


def test_honeypot_beats_previously_approved(article, comment_data, regular):
    post(article, comment_data(homepage="x"))
    assert stored(article).status == Status.SPAM


# --- the signed timestamp ---------------------------------------------------------------------
def test_submitted_too_fast_is_spam(article, comment_data, regular):
    post(article, comment_data(timestamp=aged_timestamp(0.5)))
    comment = stored(article)
    assert comment.status == Status.SPAM
    assert comment.moderation_reason.startswith("spam: submitted 0.")


def test_min_submit_seconds_setting(settings, article, comment_data, regular):
    settings.COMMENTS_MIN_SUBMIT_SECONDS = 10
    post(article, comment_data(timestamp=aged_timestamp(5)))
    assert stored(article).status == Status.SPAM


def test_min_submit_seconds_zero_lets_fast_posters_through(
    settings, article, comment_data, regular
):
    settings.COMMENTS_MIN_SUBMIT_SECONDS = 0
    post(article, comment_data(timestamp=aged_timestamp(0.1)))
    assert stored(article).status == Status.APPROVED


@pytest.mark.parametrize("timestamp", ["", "1700000000", "forged:signature"])
def test_missing_or_forged_timestamp_is_spam(article, comment_data, regular, timestamp):
    post(article, comment_data(timestamp=timestamp))
    comment = stored(article)
    assert comment.status == Status.SPAM
    assert comment.moderation_reason == "spam: missing or forged form timestamp"


def test_expired_form_is_refused_with_the_text_kept(article, comment_data):
    response = post(article, comment_data(timestamp=aged_timestamp(2 * 3600 + 5), body="Mine."))
    assert response.status_code == 400
    assert "This form has expired, please submit again." in form_errors(response)
    assert kept_body(response) == "Mine."
    assert not Comment.objects.exists()


def test_form_max_age_setting(settings, article, comment_data):
    settings.COMMENTS_FORM_MAX_AGE_SECONDS = 120
    assert post(article, comment_data(timestamp=aged_timestamp(180))).status_code == 400


def test_invalid_input_gets_its_400_before_any_rule(article, comment_data):
    response = post(article, comment_data(email="not-an-email", homepage="bot"))
    assert response.status_code == 400
    assert "Enter a valid email address" in form_errors(response)
    assert not Comment.objects.exists()


# --- key lists --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "overrides", "extra"),
    [
        ("name", {"name": "Cheap VIAGRA dealer"}, {}),
        ("email", {"email": "buy@viagra.example"}, {}),
        ("url", {"url": "https://viagra.example"}, {}),
        ("body", {"body": "Get viagra here"}, {}),
        ("user agent", {}, {"HTTP_USER_AGENT": "ViagraBot/1.0"}),
    ],
)
def test_disallowed_key_in_any_field_is_spam(
    settings, article, comment_data, regular, field, overrides, extra
):
    settings.COMMENTS_DISALLOWED_KEYS = ["viagra"]
    post(article, comment_data(**overrides), **extra)
    comment = stored(article)
    assert comment.status == Status.SPAM, field
    assert comment.moderation_reason == "spam: disallowed key “viagra”"


def test_disallowed_ip_is_spam(settings, article, comment_data, regular):
    settings.COMMENTS_DISALLOWED_KEYS = ["192.0.2.66"]
    post(article, comment_data(), REMOTE_ADDR="192.0.2.66")
    assert stored(article).status == Status.SPAM


def test_moderation_key_holds_the_comment(settings, article, comment_data, regular):
    settings.COMMENTS_MODERATION_KEYS = ["casino"]
    post(article, comment_data(body="About the CASINO down the road"))
    comment = stored(article)
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: moderation key “casino”"


def test_moderation_key_matches_email(settings, article, comment_data, regular):
    settings.COMMENTS_MODERATION_KEYS = ["@example.org"]
    post(article, comment_data())
    assert stored(article).status == Status.PENDING


def test_disallowed_key_beats_moderation_key(settings, article, comment_data, regular):
    settings.COMMENTS_DISALLOWED_KEYS = ["casino"]
    settings.COMMENTS_MODERATION_KEYS = ["casino"]
    post(article, comment_data(body="casino"))
    assert stored(article).status == Status.SPAM


def test_blank_keys_match_nothing(settings, article, comment_data, regular):
    settings.COMMENTS_DISALLOWED_KEYS = ["", "   "]
    post(article, comment_data())
    assert stored(article).status == Status.APPROVED


# --- links ------------------------------------------------------------------------------------
def body_with_links(count):
    return " ".join(f"https://site{n}.example/page" for n in range(count))


def test_more_than_max_links_is_held(article, comment_data, regular):
    post(article, comment_data(body=body_with_links(3)))
    comment = stored(article)
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: 3 links"


def test_max_links_is_allowed(article, comment_data, regular):
    post(article, comment_data(body=body_with_links(2)))
    assert stored(article).status == Status.APPROVED


def test_max_links_setting(settings, article, comment_data, regular):
    settings.COMMENTS_MAX_LINKS = 0
    post(article, comment_data(body=body_with_links(1)))
    assert stored(article).moderation_reason == "held: 1 links"


def test_moderation_key_is_reported_before_links(settings, article, comment_data, regular):
    settings.COMMENTS_MODERATION_KEYS = ["casino"]
    post(article, comment_data(body="casino " + body_with_links(5)))
    assert stored(article).moderation_reason == "held: moderation key “casino”"


# --- previously approved, staff ---------------------------------------------------------------
def test_first_comment_from_an_email_is_held(article, comment_data):
    post(article, comment_data())
    comment = stored(article)
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: first comment from this email"


def test_poster_with_an_approved_comment_is_approved(article, comment_data, regular):
    post(article, comment_data())
    comment = stored(article)
    assert comment.status == Status.APPROVED
    assert comment.moderation_reason == ""


def test_pending_or_spam_history_does_not_count_as_approved(article, comment_data, comment_factory):
    comment_factory(author_email="ada@example.org", status=Status.PENDING)
    comment_factory(author_email="ada@example.org", status=Status.SPAM)
    post(article, comment_data())
    assert stored(article).status == Status.PENDING


def test_require_previously_approved_off_approves_newcomers(settings, article, comment_data):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    post(article, comment_data())
    assert stored(article).status == Status.APPROVED


def test_logged_in_staff_is_approved(article, comment_data, staff_user):
    client = Client()
    client.force_login(staff_user)
    post(article, comment_data(body=body_with_links(5)), client=client)
    comment = stored(article)
    assert comment.status == Status.APPROVED
    assert comment.moderation_reason == "staff"


# --- spam service hook ------------------------------------------------------------------------
def test_spam_service_is_off_by_default(article, comment_data, regular):
    post(article, comment_data())
    assert SPAM_SERVICE_CALLS == []
    assert stored(article).status == Status.APPROVED


def test_spam_service_verdict_spam(settings, article, comment_data, regular):
    settings.COMMENTS_SPAM_CHECKER = f"{__name__}.spam_service_says_spam"
    post(article, comment_data())
    comment = stored(article)
    assert comment.status == Status.SPAM
    assert comment.moderation_reason == "spam: spam service"


def test_spam_service_verdict_ham_falls_through(settings, article, comment_data, regular):
    settings.COMMENTS_SPAM_CHECKER = f"{__name__}.spam_service_says_ham"
    post(article, comment_data())
    assert SPAM_SERVICE_CALLS == ["ada@example.org"]
    assert stored(article).status == Status.APPROVED


def test_spam_service_failure_holds_the_comment(settings, article, comment_data, regular):
    settings.COMMENTS_SPAM_CHECKER = f"{__name__}.spam_service_is_down"
    response = post(article, comment_data())
    assert response.status_code == 303
    comment = stored(article)
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: spam service unavailable"


def test_spam_service_is_consulted_after_the_local_rules(settings, article, comment_data, regular):
    settings.COMMENTS_SPAM_CHECKER = f"{__name__}.spam_service_says_ham"
    settings.COMMENTS_DISALLOWED_KEYS = ["viagra"]
    post(article, comment_data(body="viagra"))
    assert SPAM_SERVICE_CALLS == []
    assert stored(article).status == Status.SPAM


# --- refusals: duplicate and flood ------------------------------------------------------------
def test_duplicate_is_refused_with_409_and_nothing_stored(
    settings, article, comment_data, comment_factory
):
    settings.COMMENTS_FLOOD_SECONDS = 0
    comment_factory(article=article, author_email="ada@example.org", body="Same words.")
    response = post(article, comment_data(body="Same words."))
    assert response.status_code == 409
    assert (
        "Duplicate comment detected; it looks as though you’ve already said that!"
        in form_errors(response)
    )
    assert Comment.objects.filter(article=article).count() == 1


def test_same_words_on_another_article_are_not_a_duplicate(article, comment_data, comment_factory):
    comment_factory(author_email="ada@example.org", body="Same words.")
    assert post(article, comment_data(body="Same words.")).status_code == 303


def test_second_comment_within_flood_seconds_gets_429_with_text_kept(article, comment_data):
    assert post(article, comment_data(body="First.")).status_code == 303
    response = post(article, comment_data(body="Second, too soon."))
    assert response.status_code == 429
    assert "You are posting comments too quickly. Slow down." in form_errors(response)
    assert kept_body(response) == "Second, too soon."
    assert Comment.objects.count() == 1


def test_flood_is_per_ip(article, comment_data):
    assert post(article, comment_data(body="One."), REMOTE_ADDR="192.0.2.1").status_code == 303
    assert post(article, comment_data(body="Two."), REMOTE_ADDR="192.0.2.2").status_code == 303


def test_flood_seconds_zero_disables_flood_control(settings, article, comment_data):
    settings.COMMENTS_FLOOD_SECONDS = 0
    assert post(article, comment_data(body="One.")).status_code == 303
    assert post(article, comment_data(body="Two.")).status_code == 303


def test_duplicate_refusal_comes_before_flood(article, comment_data, comment_factory):
    comment_factory(article=article, author_email="ada@example.org", body="Same.")
    assert post(article, comment_data(body="Same.")).status_code == 409
    # The refused duplicate did not use up the flood allowance.
    assert post(article, comment_data(body="Different.")).status_code == 303


def test_staff_are_not_flood_limited(article, comment_data, staff_user):
    client = Client()
    client.force_login(staff_user)
    assert post(article, comment_data(body="One."), client=client).status_code == 303
    assert post(article, comment_data(body="Two."), client=client).status_code == 303


# --- client IP behind proxies -----------------------------------------------------------------
def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(article, comment_data):
    post(article, comment_data(), REMOTE_ADDR="198.51.100.5", HTTP_X_FORWARDED_FOR="10.9.8.7")
    assert stored(article).ip_address == "198.51.100.5"


def test_trusted_proxy_count_reads_the_proxy_appended_address(settings, article, comment_data):
    settings.TRUSTED_PROXY_COUNT = 1
    post(
        article,
        comment_data(),
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.50",
    )
    assert stored(article).ip_address == "203.0.113.50"


def test_spoofed_forwarded_for_does_not_escape_flood_control(settings, article, comment_data):
    settings.TRUSTED_PROXY_COUNT = 1
    first = post(
        article,
        comment_data(body="One."),
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.50",
    )
    second = post(
        article,
        comment_data(body="Two."),
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="2.2.2.2, 203.0.113.50",
    )
    assert (first.status_code, second.status_code) == (303, 429)


def test_spoofed_forwarded_for_does_not_dodge_a_disallowed_ip(
    settings, article, comment_data, regular
):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.COMMENTS_DISALLOWED_KEYS = ["203.0.113.50"]
    post(
        article,
        comment_data(),
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="192.0.2.200, 203.0.113.50",
    )
    assert stored(article).status == Status.SPAM


def test_spoofed_forwarded_for_cannot_frame_another_ip(settings, article, comment_data, regular):
    settings.COMMENTS_DISALLOWED_KEYS = ["203.0.113.50"]
    post(article, comment_data(), REMOTE_ADDR="198.51.100.5", HTTP_X_FORWARDED_FOR="203.0.113.50")
    assert stored(article).status == Status.APPROVED


# --- the rules as functions -------------------------------------------------------------------
def test_rule_order_is_the_documented_one():
    assert [rule.__name__ for rule in rules.REFUSALS] == [
        "refuse_sanctioned",
        "refuse_duplicate",
        "refuse_flood",
    ]
    assert [rule.__name__ for rule in rules.RULES] == [
        "trust_staff",
        "honeypot",
        "too_fast",
        "disallowed_keys",
        "moderation_keys",
        "too_many_links",
        "spam_service",
        "article_premoderated",
        "premoderated_commenter",
        "trusted_commenter",
    ]


def test_verdict_reason_is_shown_in_the_admin_queue(settings, article, comment_data, superuser):
    post(article, comment_data(body=body_with_links(3)))
    client = Client()
    client.force_login(superuser)
    page = parse(client.get(reverse("admin:comments_comment_changelist")))
    cell = page.find(".//td[@class='field-status_badge']")
    assert "held: 3 links" in text(cell)
