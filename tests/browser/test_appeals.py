"""The statement of reasons and the appeal in a real Chromium, as a moderator of the
Moderators group and the commenter would go through it: remove with a reason on the
comment's page, open the link from the email, appeal, answer on the comment's page."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from comments.models import Appeal, Comment
from tests.browser.conftest import moderators_group
from tests.factories import CommentFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


@pytest.fixture
def moderator_page(new_page):
    user = StaffFactory(username="desk", email="desk@example.com")
    user.groups.add(moderators_group())
    page = new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", "desk")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    return page


def test_remove_appeal_and_reinstate_in_the_browser(moderator_page, new_page, live_server):
    comment = CommentFactory(author_email="rita@example.org", body="A fair point, removed.")
    CommentFactory(parent=comment, body="A reply that stays.")
    page = moderator_page
    page.goto(f"/admin/comments/comment/{comment.pk}/change/")

    # No reason chosen: the browser asks for one, nothing is sent.
    page.click("#comment-remove-form button[name=action]")
    assert page.evaluate("document.querySelector('#id_removal_reason').validity.valueMissing")
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.APPROVED
    page.select_option("#id_removal_reason", "off_topic")
    page.click("#comment-remove-form button[name=action]")
    expect(page.locator(".messagelist")).to_contain_text("1 comment was removed.")

    reader = new_page(viewport={"width": 375, "height": 740})
    reader.goto(comment.article.get_absolute_url())
    expect(reader.locator(f"#comment-{comment.pk} .comment-removed")).to_have_text(
        "Removed by a moderator: off-topic."
    )

    [email] = [m for m in mail.outbox if m.to == ["rita@example.org"]]
    link = re.search(r"/comments/appeal/\S+/", email.body).group(0)
    reader.goto(link)
    expect(reader.locator(".appeal-reason")).to_have_text("off-topic")
    reader.fill("#id_body", "It answered the article's question.")
    reader.get_by_role("button", name="Send my appeal").click()
    expect(reader.locator(".messages")).to_contain_text("Your appeal was sent.")
    assert Appeal.objects.get(comment=comment).body == "It answered the article's question."

    page.goto(f"/admin/comments/comment/{comment.pk}/change/")
    panel = page.locator("#appeal")
    expect(panel).to_contain_text("It answered the article's question.")
    panel.get_by_label("Reinstate the comment").check()
    panel.get_by_label("Answer to the commenter").fill("You are right.")
    panel.get_by_role("button", name="Send the answer").click()
    expect(page.locator(".messagelist")).to_contain_text("The appeal was answered")
    expect(page).to_have_url(re.compile(rf"/admin/comments/comment/{comment.pk}/change/$"))
    assert Comment.objects.get(pk=comment.pk).status == Comment.Status.APPROVED
    reader.goto(comment.article.get_absolute_url())
    expect(reader.locator(f"#comment-{comment.pk} > .comment-body .comment-content")).to_have_text(
        "A fair point, removed."
    )
