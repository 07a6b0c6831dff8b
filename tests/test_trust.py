"""Trust, earned and lost (comments.rules.trusted_commenter), and what checking trust and
sanctions costs a post."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comments import commenters, moderation, rules
from comments.models import Comment, Commenter

pytestmark = pytest.mark.django_db

Status = Comment.Status
EMAIL = "ada@example.org"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


_addresses = iter(range(1, 250))


def posted(article, data):
    """Post ``data`` from a fresh address (no flood wait); the comment stored."""
    before = set(Comment.objects.values_list("pk", flat=True))
    response = Client().post(
        reverse("comments:post", args=[article.slug]),
        data,
        REMOTE_ADDR=f"198.51.100.{next(_addresses)}",
    )
    assert response.status_code == 303
    return Comment.objects.exclude(pk__in=before).get()


def decide(comment, status, *, by, days_ago=0):
    """A moderator's decision on ``comment``, ``days_ago`` days ago."""
    moderation.set_status([comment], status, by=by)
    if days_ago:
        Comment.objects.filter(pk=comment.pk).update(
            moderated_at=timezone.now() - timedelta(days=days_ago)
        )
        commenters.refresh_stats([comment.commenter_id])


def approve_some(comment_factory, moderator, count):
    """``count`` comments approved by a moderator long ago: a rate of 0% rejected."""
    for _ in range(count):
        comment = comment_factory(author_email=EMAIL, status=Status.PENDING)
        decide(comment, Status.APPROVED, by=moderator, days_ago=90)


# --- earning trust ------------------------------------------------------------------------------
def test_a_first_comment_is_held_and_says_so(article, comment_data):
    comment = posted(article, comment_data())
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: first comment from this email"


def test_trust_is_earned_after_the_set_number_of_approved_comments(
    settings, article, comment_data, staff_user
):
    settings.COMMENTS_TRUSTED_AFTER = 2
    first = posted(article, comment_data(body="One."))
    moderation.approve([first], by=staff_user)
    second = posted(article, comment_data(body="Two."))
    assert second.status == Status.PENDING
    assert second.moderation_reason == "held: 1 of 2 approved comments needed"
    moderation.approve([second], by=staff_user)
    third = posted(article, comment_data(body="Three."))
    assert third.status == Status.APPROVED
    assert third.moderation_reason == ""


def test_pending_comments_do_not_earn_trust(article, comment_data, comment_factory):
    comment_factory(author_email=EMAIL, status=Status.PENDING)
    comment = posted(article, comment_data())
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: 0 of 1 approved comment needed"


def test_trust_counts_the_commenter_whatever_the_case_of_their_email(
    article, comment_data, comment_factory
):
    comment_factory(author_email="Ada@Example.ORG", status=Status.APPROVED)
    assert posted(article, comment_data(email="ada@example.org")).status == Status.APPROVED


def test_trusted_after_zero_approves_newcomers(settings, article, comment_data):
    settings.COMMENTS_TRUSTED_AFTER = 0
    assert posted(article, comment_data()).status == Status.APPROVED


# --- losing it ----------------------------------------------------------------------------------
def test_trust_is_lost_after_a_rejection_within_30_days(
    article, comment_data, comment_factory, staff_user
):
    approve_some(comment_factory, staff_user, 3)
    rejected = comment_factory(author_email=EMAIL, status=Status.PENDING)
    decide(rejected, Status.REMOVED, by=staff_user, days_ago=29)
    comment = posted(article, comment_data())
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: a comment was rejected in the last 30 days"


def test_trust_comes_back_30_days_after_the_last_rejection(
    article, comment_data, comment_factory, staff_user
):
    approve_some(comment_factory, staff_user, 3)
    rejected = comment_factory(author_email=EMAIL, status=Status.PENDING)
    decide(rejected, Status.SPAM, by=staff_user, days_ago=31)
    assert posted(article, comment_data()).status == Status.APPROVED


def test_a_withdrawal_by_its_author_is_no_rejection(article, comment_data, comment_factory):
    comment_factory(author_email=EMAIL, status=Status.APPROVED)
    withdrawn = comment_factory(author_email=EMAIL, status=Status.APPROVED)
    moderation.remove([withdrawn], reason="withdrawn by its author")  # by nobody
    assert posted(article, comment_data()).status == Status.APPROVED


def test_a_high_rejection_rate_premoderates_and_says_so(
    settings, article, comment_data, comment_factory, staff_user
):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False  # even with the old switch off
    comments = [comment_factory(author_email=EMAIL, status=Status.PENDING) for _ in range(5)]
    for comment, status in zip(
        comments, [Status.SPAM, Status.REMOVED, Status.SPAM, Status.APPROVED, Status.APPROVED],
        strict=True,
    ):  # fmt: skip
        decide(comment, status, by=staff_user, days_ago=60)
    assert Commenter.objects.get().recent_rejection_rate == pytest.approx(0.6)
    comment = posted(article, comment_data())
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: 60% of recent comments rejected"


def test_a_rejection_rate_at_the_threshold_does_not_premoderate(
    article, comment_data, comment_factory, staff_user
):
    comments = [comment_factory(author_email=EMAIL, status=Status.PENDING) for _ in range(2)]
    decide(comments[0], Status.SPAM, by=staff_user, days_ago=60)
    decide(comments[1], Status.APPROVED, by=staff_user, days_ago=60)
    assert posted(article, comment_data()).status == Status.APPROVED  # 50% is not above


def test_the_rejection_threshold_is_a_setting(
    settings, article, comment_data, comment_factory, staff_user
):
    settings.COMMENTS_PREMODERATE_ABOVE_REJECTION = 0.2
    comments = [comment_factory(author_email=EMAIL, status=Status.PENDING) for _ in range(4)]
    for comment in comments[:3]:
        decide(comment, Status.APPROVED, by=staff_user, days_ago=60)
    decide(comments[3], Status.SPAM, by=staff_user, days_ago=60)
    assert posted(article, comment_data()).moderation_reason == (
        "held: 25% of recent comments rejected"
    )


def test_the_old_switch_off_still_approves_newcomers(settings, article, comment_data):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    assert posted(article, comment_data()).status == Status.APPROVED


# --- what the checks cost -----------------------------------------------------------------------
def post_queries(article, data):
    with CaptureQueriesContext(connection) as captured:
        response = Client().post(
            reverse("comments:post", args=[article.slug]), data, REMOTE_ADDR="198.51.100.1"
        )
    assert response.status_code == 303
    return len(captured.captured_queries)


def unchecked_approval(candidate):
    return rules.Verdict(Status.APPROVED, "")


def test_sanction_and_trust_checks_add_at_most_one_query_to_a_post(
    settings, article, comment_data, comment_factory, monkeypatch
):
    """Against a post with neither check (the commenter's record still read and counted
    by posting): the trust rule reads the record posting reads anyway, and the sanction
    lookup is one query the first time, none from the cache after."""
    settings.COMMENTS_FLOOD_SECONDS = 0  # one address posts three times
    comment_factory(author_email=EMAIL, status=Status.APPROVED)
    # What any post warms (word lists, sessions…) warmed by someone else's.
    post_queries(article, comment_data(email="someone@example.net", body="Warming up."))
    unchecked_rules = [
        unchecked_approval if rule is rules.trusted_commenter else rule
        for rule in rules.RULES
        if rule is not rules.premoderated_commenter
    ]
    with monkeypatch.context() as patch:
        patch.setattr(rules, "REFUSALS", [rules.refuse_duplicate, rules.refuse_flood])
        patch.setattr(rules, "RULES", unchecked_rules)
        unchecked = post_queries(article, comment_data(body="Unchecked."))
    cold = post_queries(article, comment_data(body="Checked, cache cold."))
    warm = post_queries(article, comment_data(body="Checked, cache warm."))
    assert cold == unchecked + 1
    assert warm == unchecked
    checked = Comment.objects.filter(article=article, author_email=EMAIL)
    assert set(checked.values_list("status", flat=True)) == {Status.APPROVED}
