"""The comments section on the article page: markup contract, counts, placeholders,
depth capping, thread pagination, permalinks, privacy, constant query count, feeds."""

import zoneinfo
from datetime import UTC, datetime

import feedparser
import pytest
from django.urls import reverse
from django.utils import dateformat, timezone

from comments.models import Comment
from tests.factories import ArticleFactory, CommentFactory
from tests.html import NS, classes, comment_ids, comments_section, parse, text_of

pytestmark = pytest.mark.django_db

A, P, S, R = (Comment.Status.APPROVED, Comment.Status.PENDING, Comment.Status.SPAM,
              Comment.Status.REMOVED)  # fmt: skip


def page(client, article, query=""):
    response = client.get(article.get_absolute_url() + query)
    assert response.status_code == 200
    return parse(response)


def li(doc, comment):
    return doc.find(f".//h:li[@id='comment-{comment.pk}']", NS)


@pytest.mark.parametrize(
    ("approved", "heading"),
    [(0, "No Responses to “{}”"), (1, "1 Response to “{}”"), (6, "6 Responses to “{}”")],
)
def test_heading_counts_approved_comments(client, article, approved, heading):
    for _ in range(approved):
        CommentFactory(article=article)
    CommentFactory(article=article, status=P)
    CommentFactory(article=article, status=S)
    section = comments_section(page(client, article))
    assert text_of(section.find("h:h2", NS)) == heading.format(article.title)
    assert section.get("data-comment-count") == str(approved)


def test_six_comments_in_a_deep_thread_are_never_counted_as_none(client, article):
    """The bug the product was modelled against: six comments under "No Responses"."""
    a = CommentFactory(article=article)
    b = CommentFactory(parent=a)
    c = CommentFactory(parent=b)
    CommentFactory(parent=c)
    CommentFactory(article=article)
    CommentFactory(article=article)
    doc = page(client, article)
    assert comments_section(doc).get("data-comment-count") == "6"
    home = parse(client.get("/"))
    assert text_of(home.find(".//h:a[@class='comment-count']", NS)) == "6 Responses"


def test_comment_markup_contract(client, article):
    root = CommentFactory(article=article, author_name="Mark", author_url="https://mark.example")
    reply = CommentFactory(parent=root, author_name="James")
    doc = page(client, article)
    listing = comments_section(doc).find("h:ol", NS)
    assert "comment-list" in classes(listing)
    root_li = li(doc, root)
    assert classes(root_li) >= {"comment", "depth-1"}
    author_link = root_li.find(".//h:span[@class='comment-author']/h:a", NS)
    assert author_link.get("href") == "https://mark.example"
    assert "nofollow" in author_link.get("rel")
    time_link = root_li.find(".//h:a[@class='comment-permalink']", NS)
    assert time_link.get("href") == reverse("comments:permalink", args=[root.pk])
    assert time_link.find("h:time", NS).get("datetime").startswith(str(root.created_at.year))
    assert root_li.find(".//h:a[@class='comment-reply-link']", NS) is not None
    children = root_li.find("h:ol", NS)
    assert "children" in classes(children)
    assert classes(children.find("h:li", NS)) >= {"comment", "depth-2"}
    assert children.find("h:li", NS).get("id") == f"comment-{reply.pk}"


def test_removed_comment_with_public_replies_renders_as_a_placeholder(client, article):
    removed = CommentFactory(article=article, status=R, author_name="Gone", body="secret words")
    reply = CommentFactory(parent=removed)
    doc = page(client, article)
    placeholder = li(doc, removed)
    assert classes(placeholder) >= {"comment", "placeholder"}
    assert "This comment was removed." in text_of(placeholder)
    assert "Gone" not in text_of(placeholder) and "secret words" not in text_of(placeholder)
    assert li(doc, reply) is not None


@pytest.mark.parametrize("status", [P, S, R])
def test_non_public_comment_without_public_replies_is_absent(client, article, status):
    hidden = CommentFactory(article=article, status=status)
    CommentFactory(parent=hidden, status=P)
    assert comment_ids(page(client, article)) == []


def test_deep_replies_are_capped_at_max_depth_with_in_reply_to(client, article, settings):
    settings.COMMENTS_MAX_DEPTH = 3
    chain = [CommentFactory(article=article, author_name="Level 1")]
    for level in range(2, 6):
        chain.append(CommentFactory(parent=chain[-1], author_name=f"Level {level}"))
    doc = page(client, article)
    assert [classes(li(doc, c)) & {"depth-1", "depth-2", "depth-3"} for c in chain] == [
        {"depth-1"},
        {"depth-2"},
        {"depth-3"},
        {"depth-3"},
        {"depth-3"},
    ]
    in_reply = li(doc, chain[4]).find(".//h:span[@class='in-reply-to']/h:a", NS)
    assert in_reply.get("href") == f"#comment-{chain[3].pk}"
    assert text_of(in_reply) == "Level 4"
    chain[4].refresh_from_db()
    assert chain[4].parent_id == chain[3].pk  # the true parent is kept in the database


def test_threads_are_paginated_with_all_their_replies(client, article, settings):
    settings.COMMENTS_THREADS_PER_PAGE = 2
    roots = [CommentFactory(article=article) for _ in range(5)]
    reply = CommentFactory(parent=roots[2])
    first = comment_ids(page(client, article))
    second = comment_ids(page(client, article, "?cpage=2"))
    third = comment_ids(page(client, article, "?cpage=3"))
    assert first == [f"comment-{roots[0].pk}", f"comment-{roots[1].pk}"]
    assert second == [f"comment-{roots[2].pk}", f"comment-{reply.pk}", f"comment-{roots[3].pk}"]
    assert third == [f"comment-{roots[4].pk}"]
    newest = comment_ids(page(client, article, "?csort=newest"))
    assert newest == [f"comment-{roots[4].pk}", f"comment-{roots[3].pk}"]
    nav = page(client, article).find(".//h:nav[@class='comment-pagination']", NS)
    assert [text_of(a) for a in nav.findall(".//h:a", NS)] == ["2", "3"]


@pytest.mark.parametrize(
    ("cpage", "valid"), [("abc", ""), ("0", ""), ("99", "?cpage=2"), ("-3", "")]
)
def test_bad_comment_page_numbers_redirect_to_a_valid_page(client, article, settings, cpage, valid):
    settings.COMMENTS_THREADS_PER_PAGE = 1
    CommentFactory(article=article)
    CommentFactory(article=article)
    response = client.get(f"{article.get_absolute_url()}?cpage={cpage}")
    assert response.status_code in (301, 302)
    assert response["Location"] == f"{article.get_absolute_url()}{valid}"
    assert len(comment_ids(page(client, article, valid))) == 1


def test_permalink_redirects_to_the_page_and_anchor(client, article, settings):
    settings.COMMENTS_THREADS_PER_PAGE = 2
    roots = [CommentFactory(article=article) for _ in range(3)]
    reply = CommentFactory(parent=roots[2])
    response = client.get(reverse("comments:permalink", args=[reply.pk]))
    assert response.status_code == 302
    assert response["Location"] == f"{article.get_absolute_url()}?cpage=2#comment-{reply.pk}"
    first = client.get(reverse("comments:permalink", args=[roots[0].pk]))
    assert first["Location"] == f"{article.get_absolute_url()}#comment-{roots[0].pk}"


def thread_of(article, size, *, status=A):
    """A thread of ``size`` comments: a root and a chain of replies."""
    comments = [CommentFactory(article=article, status=status)]
    for _ in range(size - 1):
        comments.append(CommentFactory(parent=comments[-1]))
    return comments


def test_a_page_closes_after_the_thread_that_reaches_the_comment_budget(client, article, settings):
    settings.COMMENTS_THREADS_PER_PAGE = 50
    settings.COMMENTS_PER_PAGE = 5
    threads = [thread_of(article, size) for size in (3, 4, 1, 6, 2)]
    ids = [[f"comment-{c.pk}" for c in thread] for thread in threads]
    assert comment_ids(page(client, article)) == ids[0] + ids[1]  # 3 + 4 reaches 5
    assert comment_ids(page(client, article, "?cpage=2")) == ids[2] + ids[3]
    assert comment_ids(page(client, article, "?cpage=3")) == ids[4]
    assert comment_ids(page(client, article, "?csort=newest")) == ids[4] + ids[3]
    assert comment_ids(page(client, article, "?csort=newest&cpage=2")) == ids[2] + ids[1]
    nav = page(client, article).find(".//h:nav[@class='comment-pagination']", NS)
    assert [text_of(a) for a in nav.findall(".//h:a", NS)] == ["2", "3"]
    # Permalinks land on the page that lists the thread.
    deep = threads[3][-1]
    response = client.get(reverse("comments:permalink", args=[deep.pk]))
    assert response["Location"] == f"{article.get_absolute_url()}?cpage=2#comment-{deep.pk}"


def test_a_thread_longer_than_the_budget_is_shown_whole_on_one_page(client, article, settings):
    settings.COMMENTS_PER_PAGE = 5
    long_thread = thread_of(article, 12)
    after = CommentFactory(article=article)
    assert comment_ids(page(client, article)) == [f"comment-{c.pk}" for c in long_thread]
    assert comment_ids(page(client, article, "?cpage=2")) == [f"comment-{after.pk}"]


def test_held_and_removed_comments_do_not_count_towards_the_budget(client, article, settings):
    settings.COMMENTS_PER_PAGE = 3
    first = thread_of(article, 2)
    CommentFactory(parent=first[-1], status=P)
    CommentFactory(parent=first[-1], status=R)
    second = thread_of(article, 1)
    third = thread_of(article, 5)
    shown = comment_ids(page(client, article))
    assert shown == [f"comment-{c.pk}" for c in first + second]  # 2 + 1 public
    assert comment_ids(page(client, article, "?cpage=2")) == [f"comment-{c.pk}" for c in third]


@pytest.mark.parametrize(
    ("sizes", "threads_per_page", "budget", "pages"),
    [
        ([], 50, 250, [[]]),
        ([5, 5, 5], 2, 0, [[0, 1], [2]]),  # no budget: threads per page only
        ([5, 5, 5], 50, 10, [[0, 1], [2]]),
        ([30, 1, 1], 50, 10, [[0], [1, 2]]),
        ([1, 1, 1, 1], 3, 100, [[0, 1, 2], [3]]),
    ],
)
def test_plan_pages(sizes, threads_per_page, budget, pages):
    from comments.threads import plan_pages

    planned = plan_pages(
        list(enumerate(sizes)), threads_per_page=threads_per_page, comments_per_page=budget
    )
    assert planned == pages


@pytest.mark.parametrize("status", [R, S, P])
def test_permalink_of_a_non_public_comment_is_404(client, article, status):
    comment = CommentFactory(article=article, status=status)
    assert client.get(reverse("comments:permalink", args=[comment.pk])).status_code == 404


def test_permalink_of_an_unknown_comment_is_404(client, db):
    assert client.get(reverse("comments:permalink", args=[987654])).status_code == 404


def build_discussion(article, n):
    roots = []
    comments = []
    for i in range(n):
        parent = None if i % 3 == 0 or not comments else comments[i * 7 % len(comments)]
        comment = CommentFactory(article=article, parent=parent)
        comments.append(comment)
        if parent is None:
            roots.append(comment)
    return comments


@pytest.mark.parametrize("size", [10, 500])
def test_article_page_query_count_is_constant(client, size, django_assert_num_queries):
    article = ArticleFactory()
    build_discussion(article, size)
    # The page cache's version lookup, the article (with its author and section), its
    # tags, the counts (comments and threads), every node of the page's threads (their
    # ids a subquery of the same query), the editors' picks, and the reaction counts
    # (comments.reactions: read once per COMMENTS_REACTION_COUNTS_SECONDS and article,
    # not once per page view).
    with django_assert_num_queries(7):
        response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    assert comments_section(parse(response)).get("data-comment-count") == str(size)


def test_reply_link_opens_the_form_without_javascript(client, article):
    target = CommentFactory(article=article, author_name="James")
    doc = page(client, article, f"?replyto={target.pk}")
    respond = doc.find(".//h:section[@id='respond']", NS)
    assert text_of(respond.find("h:h2", NS)) == "Replying to James"
    assert respond.find(".//h:input[@name='parent']", NS).get("value") == str(target.pk)
    assert respond.find(".//h:a[@id='cancel-comment-reply-link']", NS) is not None


def test_reply_link_to_a_non_public_comment_opens_a_new_thread_form(client, article):
    hidden = CommentFactory(article=article, status=S)
    doc = page(client, article, f"?replyto={hidden.pk}")
    respond = doc.find(".//h:section[@id='respond']", NS)
    assert respond.find(".//h:input[@name='parent']", NS).get("value") in (None, "")


def test_emails_ips_and_user_agents_never_appear_in_public_html_or_feeds(client, article):
    CommentFactory(
        article=article,
        author_email="hidden.person@example.org",
        ip_address="198.51.100.77",
        user_agent="SecretAgent/1.0",
    )
    bodies = [
        client.get(article.get_absolute_url()).content,
        client.get(reverse("comments:feed")).content,
        client.get(reverse("comments:article-feed", args=[article.slug])).content,
        client.get("/").content,
    ]
    for body in bodies:
        for secret in (b"hidden.person", b"198.51.100.77", b"SecretAgent"):
            assert secret not in body


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_markup_in_every_comment_field_comes_back_inert(client, article):
    CommentFactory(article=article, author_name=XSS, body=XSS, author_url="https://ok.example/")
    response = client.get(article.get_absolute_url())
    content = response.content.decode()
    assert "<script>alert" not in content and "<img src=x" not in content
    doc = parse(response)
    assert not [s for s in doc.iter(f"{{{NS['h']}}}script") if not s.get("src")]
    assert all(img.get("onerror") is None for img in doc.iter(f"{{{NS['h']}}}img"))
    body = doc.find(".//h:div[@class='comment-content']", NS)
    assert text_of(body) == XSS


def test_bare_urls_are_linked_nofollow_ugc(client, article):
    CommentFactory(article=article, body="See https://example.com/page. Thanks\n\nNew paragraph")
    body = page(client, article).find(".//h:div[@class='comment-content']", NS)
    link = body.find(".//h:a", NS)
    assert link.get("href") == "https://example.com/page"
    assert set(link.get("rel").split()) == {"nofollow", "ugc", "noopener"}
    assert len(body.findall("h:p", NS)) == 2


def test_comment_feeds_list_approved_comments_with_permalinks(client, article):
    approved = CommentFactory(article=article, body="visible one")
    CommentFactory(article=article, status=P, body="pending one")
    for url in (reverse("comments:feed"), reverse("comments:article-feed", args=[article.slug])):
        feed = feedparser.parse(client.get(url).content)
        assert len(feed.entries) == 1
        assert feed.entries[0].link.endswith(reverse("comments:permalink", args=[approved.pk]))


def test_closed_article_shows_comments_are_closed(client):
    article = ArticleFactory(comments_open=False)
    doc = page(client, article)
    assert doc.find(".//h:form[@id='comment-form']", NS) is None
    assert "Comments are closed." in text_of(doc.find(".//h:section[@id='respond']", NS))


def test_comments_close_site_wide_after_configured_days(client, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.COMMENTS_CLOSE_AFTER_DAYS = 30
    old = ArticleFactory(published_at=timezone.now() - timedelta(days=31))
    fresh = ArticleFactory(published_at=timezone.now() - timedelta(days=29))
    assert page(client, old).find(".//h:form[@id='comment-form']", NS) is None
    assert page(client, fresh).find(".//h:form[@id='comment-form']", NS) is not None


def test_thread_toggle_and_reply_counts_are_rendered(client, article):
    root = CommentFactory(article=article)
    child = CommentFactory(parent=root)
    CommentFactory(parent=child)
    doc = page(client, article)
    toggle = li(doc, root).find("h:button[@class='thread-toggle']", NS)
    assert toggle.get("aria-expanded") == "true"
    assert toggle.get("aria-controls") == f"replies-{root.pk}"
    assert toggle.get("data-hidden-count") == "2"
    count = li(doc, root).find(".//h:span[@class='comment-reply-count']", NS)
    assert text_of(count) == "2 replies"


def test_the_thread_is_spliced_in_and_no_marker_reaches_the_reader(client, article):
    comment = CommentFactory(article=article, body="Spliced text")
    response = client.get(article.get_absolute_url())
    assert b"thread-fragment" not in response.content
    doc = parse(response)
    section = comments_section(doc)
    assert section.find(f".//h:li[@id='comment-{comment.pk}']", NS) is not None
    assert int(response.get("Content-Length", len(response.content))) == len(response.content)


def test_a_re_rendered_form_page_also_gets_the_thread(client, article, comment_data):
    comment = CommentFactory(article=article)
    response = client.post(reverse("comments:post", args=[article.slug]), comment_data(body=""))
    assert response.status_code == 400
    assert b"thread-fragment" not in response.content
    assert parse(response).find(f".//h:li[@id='comment-{comment.pk}']", NS) is not None


@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2026, 1, 5, 0, 7, 0, tzinfo=UTC),  # 12:07 a.m., no microseconds stored
        datetime(2026, 7, 31, 12, 0, 59, 123456, tzinfo=UTC),  # noon, with microseconds
        datetime(2026, 12, 31, 23, 59, 1, 5, tzinfo=UTC),  # the last minute of the year
    ],
)
def test_comment_time_reads_as_django_formats_it_in_the_site_time_zone(
    client, article, settings, time_zone, created_at
):
    """The renderer's fast date path (SQLite's stored text, sliced) and its datetime path
    (PostgreSQL) both read exactly like Django's ``date`` filter in the site's zone."""
    settings.TIME_ZONE = time_zone
    comment = CommentFactory(article=article, created_at=created_at)
    time = li(page(client, article), comment).find(".//h:time", NS)
    local = timezone.localtime(created_at, zoneinfo.ZoneInfo(time_zone))
    assert time.get("datetime") == local.isoformat(timespec="seconds")
    assert text_of(time) == dateformat.format(local, r"F j, Y \a\t g:i a")


def test_a_poster_sees_their_held_thread_and_reply_in_page_order_and_nobody_else_does(
    client, article, settings, comment_data
):
    settings.COMMENTS_THREADS_PER_PAGE = 2
    settings.COMMENTS_FLOOD_SECONDS = 0
    roots = [CommentFactory(article=article) for _ in range(3)]
    others_held = [
        CommentFactory(article=article, status=P),
        CommentFactory(parent=roots[0], status=P),
    ]
    post = reverse("comments:post", args=[article.slug])
    client.post(post, comment_data(body="My new thread"))  # a first comment: held
    client.post(post, comment_data(parent=str(roots[0].pk), body="My reply"))
    my_thread, my_reply = (Comment.objects.get(body=body) for body in ("My new thread", "My reply"))
    assert {my_thread.status, my_reply.status} == {P}

    ids = [f"comment-{c.pk}" for c in (*roots, my_thread, my_reply)]
    r0, r1, r2, mine, reply = ids
    assert comment_ids(page(client, article)) == [r0, reply, r1]
    assert comment_ids(page(client, article, "?cpage=2")) == [r2, mine]
    assert comment_ids(page(client, article, "?csort=newest")) == [mine, r2]
    assert comment_ids(page(client, article, "?csort=newest&cpage=2")) == [r1, r0, reply]
    doc = page(client, article, "?cpage=2")
    assert "Your comment is awaiting moderation." in text_of(li(doc, my_thread))
    assert comments_section(doc).get("data-comment-count") == "3"  # held ones not counted

    from django.test import Client

    reader = Client()
    assert comment_ids(page(reader, article)) == [r0, r1]
    assert comment_ids(page(reader, article, "?cpage=2")) == [r2]
    assert comment_ids(page(reader, article, "?csort=newest")) == [r2, r1]
    for held in others_held:
        assert f"comment-{held.pk}" not in comment_ids(page(client, article))
