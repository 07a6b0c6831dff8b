"""Sorting threads: oldest (default), newest, most reactions, most replies; whole threads
move; the choice is kept in the URL and remembered in a cookie that sends a bare article
URL to it (302) before any cache is asked; the editors' picks stay on top."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from comments import moderation, threads
from comments.models import Comment
from tests.factories import CommentFactory, StaffFactory
from tests.html import NS, comment_ids, comments_section, parse, text_of

pytestmark = pytest.mark.django_db

Status = Comment.Status


@pytest.fixture
def discussion(article):
    """Four threads, oldest first: A (1 reaction, 1 reply), B (5 reactions, 2 replies),
    C (no reaction, 3 approved replies and a held one), D (3 reactions, no reply)."""
    start = timezone.now() - timedelta(hours=5)
    made = {}
    for n, (name, reactions, replies) in enumerate(
        [("A", 1, 1), ("B", 5, 2), ("C", 0, 3), ("D", 3, 0)]
    ):
        root = CommentFactory(article=article, created_at=start + timedelta(hours=n))
        Comment.objects.filter(pk=root.pk).update(reaction_count=reactions)
        made[name] = [root.pk]
        for r in range(replies):
            reply = CommentFactory(
                article=article, parent=root, created_at=start + timedelta(hours=n, minutes=r + 1)
            )
            made[name].append(reply.pk)
            # A reply's reactions never lift its thread: only the first comment's count.
            Comment.objects.filter(pk=reply.pk).update(reaction_count=9)
    CommentFactory(article=article, parent_id=made["C"][0], status=Status.PENDING)
    return made


def ids(client, article, query=""):
    return [
        int(i.removeprefix("comment-"))
        for i in comment_ids(parse(client.get(article.get_absolute_url() + query)))
    ]


def threads_in(discussion, *names):
    return [pk for name in names for pk in discussion[name]]


@pytest.mark.parametrize(
    ("query", "order"),
    [
        ("", "ABCD"),
        ("?csort=newest", "DCBA"),
        ("?csort=reactions", "BDAC"),
        ("?csort=replies", "CBAD"),
    ],
)
def test_each_sort_orders_whole_threads(client, article, discussion, query, order):
    assert ids(client, article, query) == threads_in(discussion, *order)


def test_most_replies_counts_replies_not_a_removed_first_comment(client, article, discussion):
    """A thread whose first comment was removed (shown as a placeholder) with 2 replies
    ranks with B (2 replies), after it (older first), not with C's 3."""
    late = timezone.now()
    root = CommentFactory(article=article, created_at=late)
    replies = [CommentFactory(article=article, parent=root, created_at=late) for _ in range(2)]
    moderation.remove([root], by=StaffFactory())
    assert ids(client, article, "?csort=replies") == [
        *threads_in(discussion, "C", "B"),
        root.pk,
        *(reply.pk for reply in replies),
        *threads_in(discussion, "A", "D"),
    ]


@pytest.mark.parametrize(
    ("sort", "pages"), [("reactions", ["BD", "AC"]), ("replies", ["CB", "AD"])]
)
def test_sorted_threads_are_paginated_whole(client, article, discussion, settings, sort, pages):
    settings.COMMENTS_THREADS_PER_PAGE = 2
    assert ids(client, article, f"?csort={sort}") == threads_in(discussion, *pages[0])
    assert ids(client, article, f"?cpage=2&csort={sort}") == threads_in(discussion, *pages[1])
    # The page links keep the order.
    doc = parse(client.get(article.get_absolute_url() + f"?csort={sort}"))
    nav = doc.find(".//h:nav[@class='comment-pagination']", NS)
    hrefs = [a.get("href") for a in nav.iter(f"{{{NS['h']}}}a")]
    assert hrefs == [f"{article.get_absolute_url()}?cpage=2&csort={sort}#comments"]


def test_a_permalink_finds_the_page_of_its_thread_in_the_chosen_order(
    client, article, discussion, settings
):
    settings.COMMENTS_THREADS_PER_PAGE = 2
    reply = discussion["C"][1]
    url = threads.comment_url(Comment.objects.get(pk=reply), sort="reactions")
    assert url == f"{article.get_absolute_url()}?cpage=2&csort=reactions#comment-{reply}"
    client.cookies[threads.SORT_COOKIE] = "reactions"
    response = client.get(reverse("comments:permalink", args=[reply]))
    assert response["Location"] == url


def test_the_sort_links_show_all_four_and_mark_the_current_one(client, article, discussion):
    doc = parse(client.get(article.get_absolute_url() + "?csort=replies"))
    nav = comments_section(doc).find(".//h:nav[@class='comment-sort']", NS)
    current = nav.findall(".//h:strong", NS)
    assert [(text_of(s), s.get("aria-current")) for s in current] == [("most replies", "true")]
    sort_url = reverse("comments:sort", args=[article.slug])
    assert [(text_of(a), a.get("href")) for a in nav.iter(f"{{{NS['h']}}}a")] == [
        ("oldest first", f"{sort_url}?csort=oldest"),
        ("newest first", f"{sort_url}?csort=newest"),
        ("most reactions", f"{sort_url}?csort=reactions"),
    ]


def test_picking_a_sort_remembers_it_and_a_bare_url_goes_there(article, discussion):
    reader = Client()
    sort_url = reverse("comments:sort", args=[article.slug])
    picked = reader.get(f"{sort_url}?csort=reactions")
    assert picked.status_code == 302
    assert picked["Location"] == f"{article.get_absolute_url()}?csort=reactions#comments"
    assert reader.cookies[threads.SORT_COOKIE].value == "reactions"
    bare = reader.get(article.get_absolute_url())
    assert bare.status_code == 302  # temporary: it depends on the reader
    assert bare["Location"] == f"{article.get_absolute_url()}?csort=reactions"
    # A URL that says its order is shown as it says.
    assert reader.get(article.get_absolute_url() + "?csort=oldest").status_code == 200
    # Choosing oldest again: the bare URL is the page again.
    reader.get(f"{sort_url}?csort=oldest")
    assert reader.get(article.get_absolute_url()).status_code == 200


def test_the_remembered_sort_redirects_before_any_cache_or_query(
    article, discussion, django_assert_num_queries
):
    reader = Client()
    reader.cookies[threads.SORT_COOKIE] = "newest"
    with django_assert_num_queries(0):
        response = reader.get(article.get_absolute_url())
    assert response.status_code == 302


def test_a_reader_with_a_remembered_sort_still_gets_the_shared_cached_page(
    article, discussion, django_assert_num_queries
):
    Client().get(article.get_absolute_url() + "?csort=newest")  # cached for everyone
    reader = Client()
    reader.cookies[threads.SORT_COOKIE] = "newest"
    with django_assert_num_queries(1):  # the article's version: a cache hit
        response = reader.get(article.get_absolute_url() + "?csort=newest")
    assert response.status_code == 200
    assert b"tp-hole-" not in response.content


@pytest.mark.parametrize("junk", ["best", "REACTIONS", "replies ", ""])
def test_an_unknown_sort_still_redirects_permanently_to_the_canonical_url(article, junk):
    reader = Client()
    reader.cookies[threads.SORT_COOKIE] = "replies"
    response = reader.get(article.get_absolute_url() + f"?csort={junk}")
    assert response.status_code == 301
    assert response["Location"] == article.get_absolute_url()


def test_a_junk_cookie_is_ignored(article, discussion):
    reader = Client()
    reader.cookies[threads.SORT_COOKIE] = "<script>"
    assert reader.get(article.get_absolute_url()).status_code == 200
    picked = reader.get(reverse("comments:sort", args=[article.slug]) + "?csort=bogus")
    assert picked["Location"] == f"{article.get_absolute_url()}#comments"
    assert reader.cookies[threads.SORT_COOKIE].value == "oldest"


def test_the_reactions_order_is_recomputed_at_most_every_bucket(
    article, discussion, monkeypatch, settings
):
    """Reactions never reach a cache key: the reactions order may be up to
    ``COMMENTS_REACTION_SORT_SECONDS`` old, and never older."""
    settings.COMMENTS_REACTION_SORT_SECONDS = 60
    now = [6_000_000.0]
    monkeypatch.setattr(threads.time, "time", lambda: now[0])
    assert ids(Client(), article, "?csort=reactions") == threads_in(discussion, *"BDAC")
    Comment.objects.filter(pk=discussion["C"][0]).update(reaction_count=50)
    now[0] += 59
    assert ids(Client(), article, "?csort=reactions") == threads_in(discussion, *"BDAC")
    now[0] += 1
    assert ids(Client(), article, "?csort=reactions") == threads_in(discussion, *"CBDA")
    # The other orders carry no bucket: their cached page stays.
    assert threads.cache_key_parts(1, "newest") == threads.cache_key_parts(1, "newest")
    before = threads.cache_key_parts(1, "replies")
    now[0] += 600
    assert threads.cache_key_parts(1, "replies") == before


@pytest.mark.parametrize("sort", threads.SORTS)
def test_editors_picks_stay_on_top_whatever_the_sort(client, article, discussion, sort):
    pick = Comment.objects.get(pk=discussion["C"][2])
    moderation.feature([pick], by=StaffFactory())
    doc = parse(client.get(article.get_absolute_url() + f"?csort={sort}"))
    section = comments_section(doc)
    children = list(section)
    featured = section.find(".//h:section[@id='featured-comments']", NS)
    thread = section.find(".//h:ol[@class='comment-list']", NS)
    assert featured is not None
    assert children.index(featured) < children.index(thread)
    assert f"comment-{pick.pk}" in "".join(
        a.get("href") for a in featured.iter(f"{{{NS['h']}}}a") if a.get("href")
    )
