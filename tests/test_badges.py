"""Badges beside a commenter's name: "Author" for the article's author, "Staff" for an
account with staff status; known without a query per comment, and kept right in the
cached page when someone's staff status changes."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from comments import moderation, rendering, threads
from comments.models import Comment
from comments.tree import Node, build_thread
from tests.factories import ArticleFactory, CommentFactory, StaffFactory, UserFactory
from tests.html import NS, classes, parse, text_of

pytestmark = pytest.mark.django_db

Status = Comment.Status


def badges(doc, comment):
    """``[(text, classes)]`` of the badges in ``comment``'s header."""
    header = doc.find(f".//h:li[@id='comment-{comment.pk}']/h:article/h:header", NS)
    return [
        (text_of(span), classes(span))
        for span in header.findall("h:span", NS)
        if "comment-badge" in classes(span)
    ]


def page(client, article):
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    return parse(response)


def test_a_comment_by_the_articles_author_carries_the_author_badge(client, article):
    comment = CommentFactory(article=article, user=article.author)
    assert badges(page(client, article), comment) == [
        ("Author", {"comment-badge", "comment-badge-author"})
    ]


def test_a_comment_by_staff_carries_the_staff_badge(client, article):
    comment = CommentFactory(article=article, user=StaffFactory())
    assert badges(page(client, article), comment) == [
        ("Staff", {"comment-badge", "comment-badge-staff"})
    ]


def test_an_author_with_staff_status_carries_the_author_badge_only(client):
    author = StaffFactory()
    article = ArticleFactory(author=author)
    comment = CommentFactory(article=article, user=author)
    assert [text for text, _classes in badges(page(client, article), comment)] == ["Author"]


def test_the_authors_badge_is_for_their_own_article_only(client, article):
    """On someone else's article, the author of another one is a reader (or staff)."""
    other_author = ArticleFactory().author
    comment = CommentFactory(article=article, user=other_author)
    own = CommentFactory(article=article, user=article.author)
    doc = page(client, article)
    assert badges(doc, comment) == []
    assert [text for text, _classes in badges(doc, own)] == ["Author"]


def test_readers_and_anonymous_comments_carry_no_badge(client, article):
    reader = CommentFactory(article=article, user=UserFactory())
    anonymous = CommentFactory(article=article)
    # The author's email typed into the form is no proof: only their account counts.
    impostor = CommentFactory(article=article, author_email=article.author.email)
    staff = CommentFactory(article=article, user=StaffFactory())
    doc = page(client, article)
    assert [badges(doc, c) for c in (reader, anonymous, impostor)] == [[], [], []]
    assert [text for text, _classes in badges(doc, staff)] == ["Staff"]


def test_badges_come_after_the_name_in_the_header_in_order(client, article):
    comment = CommentFactory(article=article, user=article.author, author_name="Jo")
    moderation.feature([comment], by=StaffFactory())
    doc = page(client, article)
    header = doc.find(f".//h:li[@id='comment-{comment.pk}']/h:article/h:header", NS)
    spans = header.findall("h:span", NS)
    assert [text_of(span) for span in spans[:3]] == ["Jo", "Author", "Editors' pick"]
    # Text a screen reader reads with the name, not colour alone or an icon.
    assert text_of(header).startswith("Jo Author Editors' pick")


def test_the_placeholder_of_a_removed_staff_comment_has_no_badge(client, article):
    staff = StaffFactory()
    removed = CommentFactory(article=article, user=staff, status=Status.REMOVED)
    reply = CommentFactory(article=article, parent=removed, user=staff)
    doc = page(client, article)
    assert [text for text, _classes in badges(doc, reply)] == ["Staff"]
    li = doc.find(f".//h:li[@id='comment-{removed.pk}']", NS)
    assert "placeholder" in classes(li)
    body = li.find("h:div", NS)  # the placeholder's own body, not its replies
    assert "comment-body" in classes(body)
    assert not [s for s in body.iter(f"{{{NS['h']}}}span") if "comment-badge" in classes(s)]


def test_a_placeholder_node_keeps_nothing_of_its_poster():
    removed = Node(1, None, 0, "removed", "Ed", "", "<p>x</p>", None, None, 7, True, object())
    reply = Node(2, 1, 1, "approved", "Ann")
    shown = build_thread([removed, reply], max_depth=6)
    assert shown[0] is removed
    assert (removed.user_id, removed.by_staff, removed.featured_at) == (None, None, None)


def test_person_badges_rule():
    assert rendering.person_badges(None, None, 5) == (False, False)
    assert rendering.person_badges(5, False, 5) == (True, False)
    assert rendering.person_badges(5, True, 5) == (True, False)
    assert rendering.person_badges(6, True, 5) == (False, True)
    assert rendering.person_badges(6, False, 5) == (False, False)


def test_badges_are_translated_with_the_templates(article):
    CommentFactory(article=article, user=StaffFactory())
    with translation.override("de"):
        html = threads.render_page(article, use_cache=False).html
    # The German catalogue may not have the word yet; the badge is there either way,
    # rendered by the German copy of the templates.
    assert "comment-badge-staff" in html


# --- one query per page, not per comment ------------------------------------------------
def test_staff_status_costs_no_query_per_comment(article):
    def render_queries():
        with CaptureQueriesContext(connection) as captured:
            html = threads.render_page(article, use_cache=False).html
        return len(captured.captured_queries), html

    CommentFactory(article=article)
    few, _html = render_queries()
    for _ in range(15):
        CommentFactory(article=article, user=StaffFactory())
        CommentFactory(article=article, user=UserFactory())
    many, html = render_queries()
    assert many == few
    assert html.count("comment-badge-staff") == 15


# --- the cached page follows staff status ----------------------------------------------
def test_becoming_staff_adds_the_badge_to_the_cached_page(client, article):
    user = UserFactory()
    comment = CommentFactory(article=article, user=user)
    assert badges(page(client, article), comment) == []  # and cached
    user.is_staff = True
    user.save()
    assert [text for text, _c in badges(page(client, article), comment)] == ["Staff"]


def test_losing_staff_status_removes_the_badge_from_the_cached_page(client, article):
    user = StaffFactory()
    comment = CommentFactory(article=article, user=user)
    assert [text for text, _c in badges(page(client, article), comment)] == ["Staff"]
    user = get_user_model().objects.get(pk=user.pk)  # as the admin loads it
    user.is_staff = False
    user.save()
    assert badges(page(client, article), comment) == []


def test_a_login_does_not_invalidate_the_pages_of_a_staff_commenter(article):
    user = StaffFactory()
    CommentFactory(article=article, user=user)
    article.refresh_from_db()
    version = article.comments_version
    user = get_user_model().objects.get(pk=user.pk)
    update_last_login(None, user)  # saves last_login only
    user.first_name = user.first_name  # and a save that changes nothing a reader sees
    user.save()
    article.refresh_from_db()
    assert article.comments_version == version
    user.is_staff = False  # but a change of staff status does
    user.save()
    article.refresh_from_db()
    assert article.comments_version > version


def test_deleting_a_staff_account_removes_the_badge_from_the_cached_page(client, article):
    user = StaffFactory()
    comment = CommentFactory(article=article, user=user)
    assert [text for text, _c in badges(page(client, article), comment)] == ["Staff"]
    user.delete()
    assert badges(page(client, article), comment) == []


def test_a_new_article_author_moves_the_author_badge(client, article):
    comment = CommentFactory(article=article, user=article.author)
    assert [text for text, _c in badges(page(client, article), comment)] == ["Author"]
    article.author = UserFactory()
    article.save()
    assert badges(page(client, article), comment) == []
