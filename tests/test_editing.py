"""A poster's edit goes through the same content rules as a new comment, and the poster
is told the outcome at the comment itself."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from comments import posting, rules
from comments.models import Comment, CommentRevision
from tests.factories import StaffFactory
from tests.html import NS, classes, comments_section, parse, text_of

pytestmark = pytest.mark.django_db

Status = Comment.Status
FORM = "application/x-www-form-urlencoded"
FOUR_LINKS = (
    "Better deals: https://a.example/ https://b.example/ https://c.example/ https://d.example/"
)


def spam_service_says_spam(candidate):
    return "buy now" in candidate.body


@pytest.fixture(autouse=True)
def _no_flood(settings):
    settings.COMMENTS_FLOOD_SECONDS = 0


@pytest.fixture
def trusted(comment_factory):
    """ada@example.org has an approved comment elsewhere: her new comments are approved."""
    return comment_factory(author_email="ada@example.org", status=Status.APPROVED)


@pytest.fixture
def moderators():
    group = Group.objects.get(name="Moderators")
    users = [
        StaffFactory(username="mod1", email="mod1@example.com"),
        StaffFactory(username="mod2", email="mod2@example.com"),
    ]
    for user in users:
        user.groups.add(group)
    return users


def form_post(client, url, data, **kwargs):
    """POST as a browser sends the site's forms (urlencoded, never multipart)."""
    return client.post(url, urlencode(data), content_type=FORM, **kwargs)


def post_comment(client, article, comment_data, **overrides):
    """Post through the form (the session then owns the comment) and return it."""
    data = comment_data(**overrides)
    response = form_post(client, reverse("comments:post", args=[article.slug]), data)
    assert response.status_code == 303
    return Comment.objects.latest("pk")


def edit(client, comment, body, **kwargs):
    return form_post(client, reverse("comments:edit", args=[comment.pk]), {"body": body}, **kwargs)


@pytest.fixture
def approved_own(client, article, comment_data, trusted):
    """The poster's own approved comment (auto-approved: she posted before)."""
    comment = post_comment(client, article, comment_data, body="Nice park plan.")
    assert comment.status == Status.APPROVED
    return comment


def own_item(doc, comment):
    return doc.find(f".//h:li[@id='comment-{comment.pk}']", NS)


def notice_at(item):
    """The notice in the comment's own article (not in a reply's)."""
    return item.find("h:article/h:p[@role='status']", NS)


def page_messages(doc):
    messages = doc.find(".//h:ul[@class='messages']", NS)
    return text_of(messages) if messages is not None else ""


# --- the content rules judge edits ----------------------------------------------------------
def test_trusted_commenter_editing_in_too_many_links_is_held_for_moderation(client, approved_own):
    edit(client, approved_own, FOUR_LINKS)
    approved_own.refresh_from_db()
    assert approved_own.status == Status.PENDING
    assert approved_own.moderation_reason == "held: edited, 4 links"
    assert approved_own.body == FOUR_LINKS


def test_held_edit_leaves_the_public_page_and_the_heading_count(client, article, approved_own):
    edit(client, approved_own, FOUR_LINKS)
    doc = parse(Client().get(article.get_absolute_url()))
    assert own_item(doc, approved_own) is None
    heading = comments_section(doc).find("h:h2", NS)
    assert text_of(heading) == f"No Responses to “{article.title}”"


def test_held_edit_keeps_the_previous_text_as_a_revision(client, approved_own):
    edit(client, approved_own, FOUR_LINKS)
    assert list(CommentRevision.objects.values_list("body", flat=True)) == ["Nice park plan."]


def test_held_edit_notifies_moderators_like_a_held_comment(
    client, approved_own, moderators, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        edit(client, approved_own, FOUR_LINKS)
    assert sorted(message.to[0] for message in mail.outbox) == [
        "mod1@example.com",
        "mod2@example.com",
    ]
    assert "https://d.example/" in mail.outbox[0].body


def test_edit_adding_a_disallowed_key_is_spam(settings, client, approved_own):
    settings.COMMENTS_DISALLOWED_KEYS = ["viagra"]
    edit(client, approved_own, "Cheap viagra here.")
    approved_own.refresh_from_db()
    assert approved_own.status == Status.SPAM
    assert approved_own.moderation_reason == "spam: edited, disallowed key “viagra”"


def test_edit_adding_a_moderation_key_is_held_with_the_key_as_reason(
    settings, client, approved_own
):
    settings.COMMENTS_MODERATION_KEYS = ["casino"]
    edit(client, approved_own, "The old casino site would be better.")
    approved_own.refresh_from_db()
    assert approved_own.status == Status.PENDING
    assert approved_own.moderation_reason == "held: edited, moderation key “casino”"


def test_spam_service_judges_edits_too(settings, client, approved_own):
    settings.COMMENTS_SPAM_CHECKER = f"{__name__}.spam_service_says_spam"
    edit(client, approved_own, "Great park, buy now at our shop.")
    approved_own.refresh_from_db()
    assert (approved_own.status, approved_own.moderation_reason) == (
        Status.SPAM,
        "spam: edited, spam service",
    )


def test_clean_edit_of_an_approved_comment_stays_approved_and_public(client, article, approved_own):
    edit(client, approved_own, "Nice park plan, and the bridge too.")
    approved_own.refresh_from_db()
    assert approved_own.status == Status.APPROVED
    item = own_item(parse(Client().get(article.get_absolute_url())), approved_own)
    assert "and the bridge too" in text_of(item)


def test_clean_edit_of_a_pending_comment_stays_pending(client, article, comment_data):
    comment = post_comment(client, article, comment_data, body="My first comment.")
    assert comment.status == Status.PENDING
    edit(client, comment, "My first comment, reworded.")
    comment.refresh_from_db()
    assert (comment.status, comment.moderation_reason) == (
        Status.PENDING,
        "held: first comment from this email",
    )


def test_held_edit_of_a_pending_comment_says_why_it_is_held_now(
    settings, client, article, comment_data
):
    settings.COMMENTS_MODERATION_KEYS = ["casino"]
    comment = post_comment(client, article, comment_data, body="My first comment.")
    edit(client, comment, "My first comment, about the casino.")
    comment.refresh_from_db()
    assert (comment.status, comment.moderation_reason) == (
        Status.PENDING,
        "held: edited, moderation key “casino”",
    )


def test_an_edit_never_makes_spam_less_strict(settings, client, article, comment_data):
    settings.COMMENTS_MODERATION_KEYS = ["casino"]
    comment = post_comment(client, article, comment_data, homepage="bot-filled")
    assert comment.status == Status.SPAM
    edit(client, comment, "A casino? No, a park.")
    comment.refresh_from_db()
    assert comment.status == Status.SPAM
    assert comment.body == "A casino? No, a park."


def test_staff_editing_their_own_comment_stays_approved(
    settings, client, article, comment_data, staff_user
):
    settings.COMMENTS_MODERATION_KEYS = ["casino"]
    client.force_login(staff_user)
    comment = post_comment(client, article, comment_data, email="editor@example.org")
    assert comment.status == Status.APPROVED
    edit(client, comment, f"casino {FOUR_LINKS}")
    comment.refresh_from_db()
    assert comment.status == Status.APPROVED


def test_edits_are_not_refused_as_floods_or_judged_by_the_form_rules(
    settings, client, approved_own
):
    """Flood control and the form's timestamp/honeypot judge a new post, not an edit."""
    settings.COMMENTS_FLOOD_SECONDS = 3600
    settings.COMMENTS_MIN_SUBMIT_SECONDS = 3600
    response = edit(client, approved_own, "Nice park plan, reworded at once.")
    assert response.status_code == 303
    approved_own.refresh_from_db()
    assert approved_own.status == Status.APPROVED


def test_edit_rules_are_the_content_rules_of_a_new_comment():
    """One definition: the rules judging an edit are those judging a new comment's text."""
    assert [rule.__name__ for rule in rules.CONTENT_RULES] == [
        "disallowed_keys",
        "moderation_keys",
        "too_many_links",
        "spam_service",
    ]
    assert [rules.trust_staff, *rules.CONTENT_RULES] == rules.EDIT_RULES
    start = rules.RULES.index(rules.CONTENT_RULES[0])
    assert rules.RULES[start : start + len(rules.CONTENT_RULES)] == rules.CONTENT_RULES


# --- the poster is told at the comment ------------------------------------------------------
def test_after_a_held_edit_the_poster_is_told_at_the_comment(client, approved_own):
    response = edit(client, approved_own, FOUR_LINKS, follow=True)
    doc = parse(response)
    item = own_item(doc, approved_own)
    assert "pending" in classes(item)
    assert text_of(notice_at(item)) == "Your edit is awaiting moderation."
    assert "awaiting moderation" not in page_messages(doc)


def test_spam_edit_is_announced_like_a_held_one(settings, client, approved_own):
    """Spam is never revealed as such to the poster."""
    settings.COMMENTS_DISALLOWED_KEYS = ["viagra"]
    item = own_item(parse(edit(client, approved_own, "viagra", follow=True)), approved_own)
    assert text_of(notice_at(item)) == "Your edit is awaiting moderation."
    assert "spam" not in text_of(item).lower()


def test_confirmation_of_a_clean_edit_is_at_the_comment_not_at_the_top(client, approved_own):
    doc = parse(edit(client, approved_own, "Nice park plan, reworded.", follow=True))
    item = own_item(doc, approved_own)
    assert text_of(notice_at(item)) == "Your comment was updated."
    assert "updated" not in page_messages(doc)
    assert "updated" not in text_of(doc.find(".//h:main", NS)).replace(text_of(item), "")


def test_clean_edit_of_a_pending_comment_still_says_it_awaits_moderation(
    client, article, comment_data
):
    comment = post_comment(client, article, comment_data, body="My first comment.")
    item = own_item(parse(edit(client, comment, "Reworded.", follow=True)), comment)
    assert "Your comment was updated." in text_of(item)
    assert "Your comment is awaiting moderation." in text_of(item)


def test_the_notice_is_shown_once(client, article, approved_own):
    edit(client, approved_own, "Nice park plan, reworded.")
    client.get(article.get_absolute_url())
    item = own_item(parse(client.get(article.get_absolute_url())), approved_own)
    assert notice_at(item) is None


def test_edit_redirects_to_the_comments_page_that_shows_the_comment(
    settings, client, article, comment_data, approved_own
):
    settings.COMMENTS_THREADS_PER_PAGE = 1
    newer = post_comment(client, article, comment_data, body="Second thread.")
    response = edit(client, newer, "Second thread, reworded.")
    assert response["Location"] == f"{article.get_absolute_url()}?cpage=2#comment-{newer.pk}"


# --- refusals -------------------------------------------------------------------------------
def test_editing_after_the_window_is_refused_with_the_text_kept(client, approved_own):
    Comment.objects.filter(pk=approved_own.pk).update(
        created_at=timezone.now() - timedelta(minutes=16)
    )
    response = edit(client, approved_own, "Too late, but I typed this.")
    assert response.status_code == 403
    doc = parse(response)
    assert "The time to edit this comment has passed." in text_of(
        doc.find(".//h:div[@id='edit-refused']", NS)
    )
    assert "".join(doc.find(".//h:textarea", NS).itertext()) == "Too late, but I typed this."
    approved_own.refresh_from_db()
    assert approved_own.body == "Nice park plan."


def test_editing_on_an_article_closed_to_comments_is_refused(client, article, approved_own):
    article.comments_open = False
    article.save()
    response = edit(client, approved_own, "Edited after closing.")
    assert response.status_code == 403
    assert "Comments on this article are closed" in text_of(
        parse(response).find(".//h:div[@id='edit-refused']", NS)
    )
    approved_own.refresh_from_db()
    assert approved_own.body == "Nice park plan."


def test_no_edit_link_on_an_article_closed_to_comments(client, article, approved_own):
    article.comments_open = False
    article.save()
    item = own_item(parse(client.get(article.get_absolute_url())), approved_own)
    assert item.find(".//h:a[@class='comment-edit-link']", NS) is None


def test_edit_refused_meanwhile_is_not_saved(approved_own):
    """The window is checked again under the row lock, not only by the view."""
    Comment.objects.filter(pk=approved_own.pk).update(status=Status.REMOVED)
    with pytest.raises(posting.EditRefused):
        posting.edit_comment(approved_own, body="Sneaked in.")
    approved_own.refresh_from_db()
    assert approved_own.body == "Nice park plan."


# --- the pages' actions ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["comments:edit", "comments:withdraw"])
def test_edit_and_withdraw_pages_offer_the_action_and_a_way_back(
    client, article, approved_own, name
):
    doc = parse(client.get(reverse(name, args=[approved_own.pk])))
    actions = next(p for p in doc.iter(f"{{{NS['h']}}}p") if "form-actions" in classes(p))
    assert actions.find("h:button", NS) is not None
    back = actions.find("h:a", NS)
    assert "button" in classes(back)
    assert back.get("href") == f"{article.get_absolute_url()}#comment-{approved_own.pk}"
