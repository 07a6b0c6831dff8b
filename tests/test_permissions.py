"""Who may do what in the admin: the Moderators group works the queue and nothing beyond it."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from comments.models import Comment
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = Comment.Status


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


def test_moderators_group_has_exactly_the_desk_permissions():
    group = Group.objects.get(name="Moderators")
    permissions = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }
    assert permissions == {
        "comments.view_comment",
        "comments.change_comment",
        "comments.view_commentreport",
        "comments.view_commentrevision",
        "articles.view_article",
        # The desk: people, sanctions, appeals, word lists, discussion settings.
        "comments.view_commenter",
        "comments.change_commenter",
        "comments.view_commenternote",
        "comments.add_commenternote",
        "comments.view_sanction",
        "comments.add_sanction",
        "comments.change_sanction",
        "comments.view_appeal",
        "comments.change_appeal",
        "comments.view_moderationword",
        "comments.add_moderationword",
        "comments.change_moderationword",
        "comments.delete_moderationword",
        "articles.change_discussion",
        # That a reader's erasure happened (comments.privacy), never what it erased.
        "comments.view_erasurerequest",
    }


def test_moderator_can_open_the_queue_and_a_comment(moderator_client, comment_factory):
    comment = comment_factory(status=Status.PENDING)
    assert moderator_client.get(reverse("admin:comments_comment_changelist")).status_code == 200
    response = moderator_client.get(reverse("admin:comments_comment_change", args=[comment.pk]))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is True


@pytest.mark.parametrize(
    ("action", "end"),
    [
        ("approve_selected", Status.APPROVED),
        ("spam_selected", Status.SPAM),
        ("remove_selected", Status.REMOVED),
    ],
)
def test_moderator_can_run_each_bulk_action(
    moderator_client, moderator, comment_factory, action, end
):
    comment = comment_factory(status=Status.PENDING)
    moderator_client.post(
        reverse("admin:comments_comment_changelist"),
        {
            "action": action,
            "_selected_action": [comment.pk],
            "removal_reason": "abuse",  # removing states its reason; others ignore it
            "apply_removal": "1",
        },
    )
    comment.refresh_from_db()
    assert comment.status == end
    assert comment.moderated_by == moderator


def test_moderator_can_restore_with_a_button(moderator_client, comment_factory):
    comment = comment_factory(status=Status.SPAM)
    url = reverse("admin:comments_comment_moderate", args=[comment.pk, "restore"])
    assert moderator_client.post(url).status_code == 302
    comment.refresh_from_db()
    assert comment.status == Status.PENDING


def test_moderator_cannot_delete_comments(moderator_client, comment_factory):
    comment = comment_factory()
    url = reverse("admin:comments_comment_delete", args=[comment.pk])
    assert moderator_client.post(url, {"post": "yes"}).status_code == 403
    assert Comment.objects.filter(pk=comment.pk).exists()


def test_moderator_can_change_an_articles_discussion_but_not_the_article(moderator_client, article):
    url = reverse("admin:articles_article_change", args=[article.pk])
    response = moderator_client.get(url)
    assert response.status_code == 200
    title, slug = article.title, article.slug
    moderator_client.post(
        url, {"title": "Defaced", "slug": "defaced", "comments_premoderated": "true"}
    )
    article.refresh_from_db()
    assert (article.title, article.slug) == (title, slug)
    assert moderator_client.get(reverse("admin:articles_article_add")).status_code == 403


@pytest.mark.parametrize("url_name", ["admin:auth_user_changelist", "admin:auth_group_changelist"])
def test_moderator_cannot_open_users_or_groups(moderator_client, url_name):
    assert moderator_client.get(reverse(url_name)).status_code == 403


def test_moderator_cannot_edit_their_own_account(moderator_client, moderator):
    url = reverse("admin:auth_user_change", args=[moderator.pk])
    assert moderator_client.get(url).status_code == 403


def test_non_staff_user_is_sent_to_the_login_page(comment_factory):
    client = Client()
    client.force_login(UserFactory(username="reader"))
    response = client.get(reverse("admin:comments_comment_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_permissions_cannot_see_the_queue():
    client = Client()
    client.force_login(StaffFactory(username="intern"))
    assert client.get(reverse("admin:comments_comment_changelist")).status_code == 403


def test_anonymous_bulk_action_does_nothing(comment_factory):
    comment = comment_factory(status=Status.PENDING)
    response = Client().post(
        reverse("admin:comments_comment_changelist"),
        {"action": "approve_selected", "_selected_action": [comment.pk]},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    comment.refresh_from_db()
    assert comment.status == Status.PENDING


def test_anonymous_moderation_button_does_nothing(comment_factory):
    comment = comment_factory(status=Status.PENDING)
    url = reverse("admin:comments_comment_moderate", args=[comment.pk, "approve"])
    response = Client().post(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    comment.refresh_from_db()
    assert comment.status == Status.PENDING


def test_staff_with_view_only_cannot_moderate(comment_factory):
    from django.contrib.auth.models import Permission

    viewer = StaffFactory(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_comment"))
    client = Client()
    client.force_login(viewer)
    comment = comment_factory(status=Status.PENDING)
    url = reverse("admin:comments_comment_moderate", args=[comment.pk, "approve"])
    assert client.post(url).status_code == 403
    response = client.post(
        reverse("admin:comments_comment_changelist"),
        {"action": "approve_selected", "_selected_action": [comment.pk]},
    )
    assert response.status_code in (200, 302)
    comment.refresh_from_db()
    assert comment.status == Status.PENDING
