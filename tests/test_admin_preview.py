""" "View on site" for comments readers can't see: the staff preview of the thread."""

import html5lib
import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from articles.models import Article
from comments.models import Comment
from tests.factories import ArticleFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = Comment.Status
HIDDEN = [Status.PENDING, Status.SPAM, Status.REMOVED]


def parse(response):
    return html5lib.parse(response.content, treebuilder="etree", namespaceHTMLElements=False)


def text(element):
    return " ".join("".join(element.itertext()).split())


def classes(element):
    return set((element.get("class") or "").split())


def preview_path(comment):
    return reverse("admin:comments_comment_preview", args=[comment.pk])


def change_path(comment):
    return reverse("admin:comments_comment_change", args=[comment.pk])


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_(superuser):
    return client_for(superuser)


@pytest.fixture
def moderator_client():
    moderator = StaffFactory(username="mod")
    moderator.groups.add(Group.objects.get(name="Moderators"))
    return client_for(moderator)


@pytest.fixture
def thread(article, comment_factory):
    """One thread with every status: root (approved) > pending > spam; root > removed."""
    root = comment_factory(article=article, author_name="Root Poster", body="The root.")
    pending = comment_factory(parent=root, status=Status.PENDING, author_name="Pat Pending")
    spam = comment_factory(parent=pending, status=Status.SPAM, author_name="Sam Spam")
    removed = comment_factory(parent=root, status=Status.REMOVED, author_name="Rae Removed")
    return {
        Status.APPROVED: root,
        Status.PENDING: pending,
        Status.SPAM: spam,
        Status.REMOVED: removed,
    }


def view_on_site_href(client, comment):
    response = client.get(change_path(comment))
    assert response.status_code == 200
    link = parse(response).find(".//a[@class='viewsitelink']")
    assert link is not None, "no View on site link"
    return link.get("href")


def preview_item(page, comment):
    return page.find(f".//li[@id='comment-{comment.pk}']")


# --- View on site -------------------------------------------------------------------------
@pytest.mark.parametrize("status", HIDDEN)
def test_view_on_site_of_a_hidden_comment_opens_the_preview_marked_by_its_status(
    admin_client_, thread, status
):
    comment = thread[status]
    href = view_on_site_href(admin_client_, comment)
    assert href.endswith(f"#comment-{comment.pk}")
    response = admin_client_.get(href, follow=True)
    assert response.status_code == 200
    page = parse(response)
    item = preview_item(page, comment)
    assert item is not None
    assert {"comment-preview--target", f"comment-preview--{status}"} <= classes(item)
    badge = item.find(".//span[@class='comment-status comment-status--" + status + "']")
    assert text(badge) == Status(status).label
    assert item.find(".//*[@aria-current='true']") is not None


def test_view_on_site_of_an_approved_comment_is_the_readers_permalink(admin_client_, thread):
    comment = thread[Status.APPROVED]
    href = view_on_site_href(admin_client_, comment)
    assert href == comment.get_absolute_url()
    response = admin_client_.get(href)
    assert response.status_code == 302
    assert response["Location"].startswith(comment.article.get_absolute_url())


def test_view_on_site_of_an_approved_comment_on_a_draft_opens_the_preview(
    admin_client_, comment_factory
):
    comment = comment_factory(article=ArticleFactory(status=Article.Status.DRAFT))
    href = view_on_site_href(admin_client_, comment)
    assert href == preview_path(comment) + f"#comment-{comment.pk}"


# --- the preview page -----------------------------------------------------------------------
def test_preview_shows_the_whole_thread_nested_with_every_status(
    admin_client_, thread, comment_factory, article
):
    other_thread = comment_factory(article=article, author_name="Other Thread")
    response = admin_client_.get(preview_path(thread[Status.SPAM]))
    page = parse(response)
    items = page.findall(".//ol[@class='comment-preview-thread']//li")
    assert [item.get("id") for item in items] == [
        f"comment-{thread[status].pk}"
        for status in (Status.APPROVED, Status.PENDING, Status.SPAM, Status.REMOVED)
    ]
    for status, comment in thread.items():
        badge = preview_item(page, comment).find(".//header/span")
        assert text(badge) == Status(status).label
        assert classes(badge) == {"comment-status", f"comment-status--{status}"}
    root = preview_item(page, thread[Status.APPROVED])
    pending = root.find(f"./ol/li[@id='comment-{thread[Status.PENDING].pk}']")
    assert pending.find(f"./ol/li[@id='comment-{thread[Status.SPAM].pk}']") is not None
    assert root.find(f"./ol/li[@id='comment-{thread[Status.REMOVED].pk}']") is not None
    assert preview_item(page, other_thread) is None
    targets = [li for li in items if "comment-preview--target" in classes(li)]
    assert [li.get("id") for li in targets] == [f"comment-{thread[Status.SPAM].pk}"]


def test_preview_links_back_to_the_change_page_the_other_comments_and_the_article(
    admin_client_, thread
):
    comment = thread[Status.PENDING]
    page = parse(admin_client_.get(preview_path(comment)))
    main = page.find(".//div[@id='content-main']")
    assert main.find(".//a[@class='comment-preview-change']").get("href") == change_path(comment)
    article_link = main.find(".//a[@class='comment-preview-article']")
    assert article_link.get("href") == comment.article.get_absolute_url()
    root_links = [a.get("href") for a in preview_item(page, thread[Status.APPROVED]).iter("a")]
    assert change_path(thread[Status.APPROVED]) in root_links


def test_preview_shows_the_text_escaped_and_the_moderation_reason(admin_client_, comment_factory):
    comment = comment_factory(
        status=Status.PENDING,
        body='<script>alert("x")</script> & friends',
        moderation_reason="held: 3 links",
    )
    response = admin_client_.get(preview_path(comment))
    item = preview_item(parse(response), comment)
    assert item.find(".//script") is None
    assert '<script>alert("x")</script> & friends' in text(item)
    assert text(item.find(".//p[@class='comment-reason']")) == "held: 3 links"


def test_preview_of_an_unknown_comment_is_404(admin_client_):
    assert (
        admin_client_.get(reverse("admin:comments_comment_preview", args=[999999])).status_code
        == 404
    )


def test_preview_query_count_does_not_grow_with_the_thread(
    admin_client_, comment_factory, django_assert_max_num_queries
):
    def queries(comment):
        with CaptureQueriesContext(connection) as context:
            assert admin_client_.get(preview_path(comment)).status_code == 200
        return len(context.captured_queries)

    small = comment_factory(status=Status.PENDING)
    big = comment_factory(status=Status.PENDING)
    parent = big
    for index in range(30):
        parent = comment_factory(parent=parent if index % 2 else big, status=Status.APPROVED)
    queries(small)  # warm the content type and permission caches
    assert queries(small) == queries(big)
    # session, user, the comment with its article, its thread.
    with django_assert_max_num_queries(4):
        admin_client_.get(preview_path(big))


# --- who may see it ---------------------------------------------------------------------------
def test_moderators_may_open_the_preview(moderator_client, thread):
    response = moderator_client.get(preview_path(thread[Status.SPAM]))
    assert response.status_code == 200


def test_staff_without_permission_to_view_comments_are_refused(thread):
    staff = StaffFactory(username="writer")
    staff.user_permissions.add(Permission.objects.get(codename="view_article"))
    response = client_for(staff).get(preview_path(thread[Status.PENDING]))
    assert response.status_code == 403


@pytest.mark.parametrize("who", ["anonymous", "reader"])
def test_non_staff_are_sent_to_the_admin_login(client, thread, who):
    if who == "reader":
        client.force_login(UserFactory(username="reader"))
    response = client.get(preview_path(thread[Status.PENDING]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- the readers' permalink ---------------------------------------------------------------------
@pytest.mark.parametrize("status", HIDDEN)
def test_permalink_of_a_hidden_comment_sends_staff_to_the_preview(moderator_client, thread, status):
    comment = thread[status]
    response = moderator_client.get(comment.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"] == preview_path(comment) + f"#comment-{comment.pk}"


@pytest.mark.parametrize("status", HIDDEN)
@pytest.mark.parametrize("who", ["anonymous", "reader", "staff without comment permissions"])
def test_permalink_of_a_hidden_comment_is_404_for_everyone_else(client, thread, status, who):
    if who == "reader":
        client.force_login(UserFactory(username="reader"))
    elif who != "anonymous":
        client.force_login(StaffFactory(username="writer"))
    assert client.get(thread[status].get_absolute_url()).status_code == 404


def test_permalink_of_an_approved_comment_still_opens_the_article_for_staff(
    moderator_client, thread
):
    comment = thread[Status.APPROVED]
    response = moderator_client.get(comment.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"] == f"{comment.article.get_absolute_url()}#comment-{comment.pk}"
