"""Readers' public profiles (comments:profile) and their settings (comments:account): the
profile lists a reader's approved comments, 25 a page; a hidden profile is a 404 and
their name links nowhere; the thread links a reader's name without a query per comment;
a new name or a hidden profile reaches every cached page that shows their comments."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from comments import threads
from comments.models import Comment
from tests.factories import ArticleFactory, CommentFactory, StaffFactory
from tests.html import comments_section, parse, text_of
from tests.test_accounts import make_reader, signed_in

pytestmark = pytest.mark.django_db


def reader_comment(user, article, **kwargs):
    return CommentFactory(
        article=article,
        user=user,
        author_name=user.reader_profile.display_name,
        author_email=user.email,
        **kwargs,
    )


def author_link(doc, comment):
    """The link on ``comment``'s author name in the thread, or None."""
    author = doc.find(f".//*[@id='comment-author-{comment.pk}']")
    assert author is not None
    return author.find("{*}a")


def profile_url(user):
    return reverse("comments:profile", args=[user.reader_profile.pk])


# --- the profile page ---------------------------------------------------------------------
def test_profile_shows_the_name_the_join_date_and_approved_comments_with_links(client):
    user = make_reader()
    article = ArticleFactory(title="River park")
    shown = reader_comment(user, article, body="The park is a good idea.")
    reader_comment(user, article, status=Comment.Status.PENDING, body="Still held.")
    reader_comment(user, article, status=Comment.Status.REMOVED, body="Taken down.")
    draft = ArticleFactory(status=Article.Status.DRAFT)
    reader_comment(user, draft, body="On a draft.")
    CommentFactory(article=article, body="Someone else's.")
    response = client.get(profile_url(user))
    assert response.status_code == 200
    doc = parse(response)
    assert doc.find(".//{*}h1").text == "Ada Reader"
    meta = text_of(doc.find(".//*[@class='profile-meta']"))
    assert meta.startswith("Joined ") and "1 comment" in meta
    items = doc.findall(".//*[@class='profile-comment']")
    assert [text_of(item.find(".//*[@class='profile-comment-excerpt']")) for item in items] == [
        "The park is a good idea."
    ]
    link = items[0].find(".//{*}a")
    assert (link.text, link.get("href")) == (
        "River park",
        reverse("comments:permalink", args=[shown.pk]),
    )
    # The permalink leads to the comment in its place in the thread.
    assert client.get(link.get("href"))["Location"] == threads.comment_url(shown)


def test_profile_lists_25_comments_a_page_newest_first(client, django_assert_max_num_queries):
    user = make_reader()
    article = ArticleFactory()
    now = timezone.now()
    made = [
        reader_comment(user, article, created_at=now - timezone.timedelta(minutes=n))
        for n in range(30)
    ]
    with django_assert_max_num_queries(4):  # profile, count, page of comments (+ session)
        first = parse(client.get(profile_url(user)))
    second = parse(client.get(profile_url(user) + "?page=2"))

    def listed(doc):
        return [item.get("id") for item in doc.findall(".//*[@class='profile-comment']")]

    assert listed(first) == [f"profile-comment-{c.pk}" for c in made[:25]]
    assert listed(second) == [f"profile-comment-{c.pk}" for c in made[25:]]
    assert first.find(".//{*}a[@rel='next']").get("href") == "?page=2"
    assert "30 comments" in text_of(first.find(".//*[@class='profile-meta']"))


def test_a_hidden_profile_is_not_found_and_the_name_links_nowhere(client):
    user = make_reader(hidden=True)
    article = ArticleFactory()
    comment = reader_comment(user, article)
    assert client.get(profile_url(user)).status_code == 404
    doc = parse(client.get(article.get_absolute_url()))
    assert author_link(doc, comment) is None
    assert text_of(doc.find(f".//*[@id='comment-author-{comment.pk}']")) == "Ada Reader"


def test_a_deactivated_readers_profile_is_not_found(client):
    user = make_reader()
    user.is_active = False
    user.save()
    assert client.get(profile_url(user)).status_code == 404


def test_an_unknown_profile_is_not_found(client):
    assert client.get(reverse("comments:profile", args=[999])).status_code == 404


def test_the_owner_sees_the_way_to_their_settings():
    user = make_reader()
    own = parse(signed_in(user).get(profile_url(user)))
    assert own.find(f".//{{*}}a[@href='{reverse('comments:account')}']") is not None
    public = parse(Client().get(profile_url(user)))
    assert public.find(f".//{{*}}main//{{*}}a[@href='{reverse('comments:account')}']") is None


# --- the thread ------------------------------------------------------------------------------
def test_a_readers_comment_links_their_profile_and_others_do_not(client):
    user = make_reader()
    staff = StaffFactory(username="editor")
    article = ArticleFactory()
    by_reader = reader_comment(user, article)
    by_guest = CommentFactory(article=article, author_url="https://guest.example")
    by_staff = CommentFactory(article=article, user=staff, author_name="Editor")
    doc = parse(client.get(article.get_absolute_url()))
    link = author_link(doc, by_reader)
    assert link.get("href") == profile_url(user)
    assert link.get("class") == "comment-author-profile"
    assert author_link(doc, by_guest).get("href") == "https://guest.example"
    assert author_link(doc, by_staff) is None


def test_profile_links_cost_no_query_per_comment(django_assert_num_queries):
    """The profile is joined into the thread's rows: a page of many readers' comments
    makes the same queries as a page of one."""
    article = ArticleFactory()
    reader_comment(make_reader("one@example.org", name="One"), article)

    def queries_for(article):
        with django_assert_num_queries(3) as captured:
            threads.render_page(article, use_cache=False)
        return captured

    queries_for(article)
    for n in range(20):
        reader_comment(make_reader(f"r{n}@example.org", name=f"R{n}"), article)
    queries_for(article)


def test_a_placeholder_never_links_its_posters_profile(client):
    user = make_reader()
    article = ArticleFactory()
    removed = reader_comment(user, article, status=Comment.Status.REMOVED)
    CommentFactory(article=article, parent=removed)
    doc = parse(client.get(article.get_absolute_url()))
    section = comments_section(doc)
    assert profile_url(user) not in "".join(a.get("href") or "" for a in section.findall(".//{*}a"))


# --- the reader's settings -------------------------------------------------------------------
def test_settings_need_a_signed_in_reader(client):
    response = client.get(reverse("comments:account"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    staff = Client()
    staff.force_login(StaffFactory(username="editor"))
    assert staff.get(reverse("comments:account")).status_code == 404


def test_a_new_display_name_reaches_every_comment_and_the_cached_page(client):
    user = make_reader()
    article = ArticleFactory()
    comment = reader_comment(user, article)
    client.get(article.get_absolute_url())  # cached for anonymous readers
    response = signed_in(user).post(
        reverse("comments:account"), {"display_name": "  Ada  Lovelace "}
    )
    assert response.status_code == 303
    comment.refresh_from_db()
    assert comment.author_name == "Ada Lovelace"
    doc = parse(Client().get(article.get_absolute_url()))
    assert author_link(doc, comment).text == "Ada Lovelace"


def test_hiding_the_profile_unlinks_the_name_on_the_cached_page(client):
    user = make_reader()
    article = ArticleFactory()
    comment = reader_comment(user, article)
    assert author_link(parse(client.get(article.get_absolute_url())), comment) is not None
    signed_in(user).post(
        reverse("comments:account"), {"display_name": "Ada Reader", "profile_hidden": "on"}
    )
    assert author_link(parse(Client().get(article.get_absolute_url())), comment) is None
    assert Client().get(profile_url(user)).status_code == 404


def test_an_empty_display_name_is_refused(client):
    user = make_reader()
    response = signed_in(user).post(reverse("comments:account"), {"display_name": "   "})
    assert response.status_code == 400
    assert parse(response).find(".//*[@id='id_display_name_error']") is not None
    user.reader_profile.refresh_from_db()
    assert user.reader_profile.display_name == "Ada Reader"
