"""The cached thread fragment: served from the cache, rendered afresh after every change
made through the models, never personal.

The proof of each invalidation: render the page (the fragment is cached), change a
comment's stored HTML behind the cache's back (an ``update()`` that bumps nothing),
check the page still shows the old text (so the cache really serves it), then do
the action and check the page is rendered afresh.
"""

import random
import time

import pytest
from django.core import signing
from django.test import Client

from articles.models import Article
from comments import moderation, posting
from comments.forms import TIMESTAMP_SALT
from comments.models import Comment
from tests.factories import ArticleFactory, CommentFactory
from tests.html import NS, comment_ids, comments_section, parse, text_of

pytestmark = pytest.mark.django_db

BEHIND_THE_CACHE = "Changed behind the cache"


def thread_text(client, article):
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    return text_of(comments_section(parse(response)))


def post_url(article):
    return f"/comments/post/{article.slug}/"


@pytest.fixture
def sentinel(article):
    return CommentFactory(article=article, body="Original sentinel text.")


def make_cache_stale(client, article, sentinel):
    """Cache the fragment, then change the sentinel without telling anyone."""
    assert "Original sentinel text." in thread_text(client, article)
    Comment.objects.filter(pk=sentinel.pk).update(body_html=f"<p>{BEHIND_THE_CACHE}</p>")
    served = thread_text(client, article)
    assert BEHIND_THE_CACHE not in served, "the fragment should come from the cache"
    return served


def assert_rendered_afresh(client, article):
    assert BEHIND_THE_CACHE in thread_text(client, article)


def test_thread_fragment_is_served_from_the_cache(client, article, sentinel):
    served = make_cache_stale(client, article, sentinel)
    assert "Original sentinel text." in served


def test_approving_a_comment_invalidates_the_cached_thread(client, article, sentinel):
    held = CommentFactory(article=article, status=Comment.Status.PENDING, body="Now public.")
    make_cache_stale(client, article, sentinel)
    moderation.approve([held])
    text = thread_text(client, article)
    assert "Now public." in text and BEHIND_THE_CACHE in text


def test_removing_a_comment_invalidates_the_cached_thread(client, article, sentinel):
    doomed = CommentFactory(article=article, body="About to be removed.")
    make_cache_stale(client, article, sentinel)
    moderation.remove([doomed])
    text = thread_text(client, article)
    assert "About to be removed." not in text and BEHIND_THE_CACHE in text


def test_editing_a_comment_invalidates_the_cached_thread(client, article, sentinel):
    edited = CommentFactory(article=article, body="First wording.")
    make_cache_stale(client, article, sentinel)
    posting.edit_comment(edited, body="Second wording.")
    text = thread_text(client, article)
    assert "Second wording." in text and "First wording." not in text
    assert BEHIND_THE_CACHE in text


def test_restoring_a_comment_invalidates_the_cached_thread(client, article, sentinel):
    removed = CommentFactory(article=article, status=Comment.Status.REMOVED)
    make_cache_stale(client, article, sentinel)
    moderation.restore([removed])
    assert_rendered_afresh(client, article)


def test_marking_spam_invalidates_the_cached_thread(client, article, sentinel):
    spam = CommentFactory(article=article, body="Buy things now.")
    make_cache_stale(client, article, sentinel)
    moderation.mark_spam([spam])
    text = thread_text(client, article)
    assert "Buy things now." not in text and BEHIND_THE_CACHE in text


def test_editing_the_article_invalidates_the_cached_thread(client, article, sentinel):
    make_cache_stale(client, article, sentinel)
    article.title = "A corrected title"
    article.save()
    assert_rendered_afresh(client, article)


@pytest.mark.parametrize("open_before", [True, False])
def test_opening_or_closing_comments_invalidates_the_cached_thread(
    client, article, sentinel, open_before
):
    Article.objects.filter(pk=article.pk).update(comments_open=open_before)
    article.refresh_from_db()
    make_cache_stale(client, article, sentinel)
    article.comments_open = not open_before
    article.save()
    doc = parse(client.get(article.get_absolute_url()))
    assert BEHIND_THE_CACHE in text_of(comments_section(doc))
    form = doc.find(".//h:form[@id='comment-form']", NS)
    assert (form is not None) is (not open_before)


def test_a_new_approved_comment_invalidates_the_cached_thread(
    client, article, sentinel, comment_data, settings
):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    make_cache_stale(client, article, sentinel)
    response = client.post(post_url(article), comment_data(body="Fresh and public."))
    assert response.status_code == 303
    other_reader = Client()
    text = thread_text(other_reader, article)
    assert "Fresh and public." in text and BEHIND_THE_CACHE in text


def form_tokens(response):
    doc = parse(response)
    form = doc.find(".//h:form[@id='comment-form']", NS)
    values = {
        field.get("name"): field.get("value")
        for field in form.iter(f"{{{NS['h']}}}input")
        if field.get("name")
    }
    return values["csrfmiddlewaretoken"], values["timestamp"]


def test_csrf_token_and_form_timestamp_are_per_request_around_a_cached_thread(article, sentinel):
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    make_cache_stale(first, article, sentinel)
    response_a = first.get(article.get_absolute_url())
    response_b = second.get(article.get_absolute_url())
    # The thread came from the cache for the second reader too...
    assert BEHIND_THE_CACHE not in text_of(comments_section(parse(response_b)))
    # ...but each reader got their own CSRF secret and a freshly signed timestamp.
    csrf_a, stamp_a = form_tokens(response_a)
    csrf_b, stamp_b = form_tokens(response_b)
    assert csrf_a and csrf_b and csrf_a != csrf_b
    assert first.cookies["csrftoken"].value != second.cookies["csrftoken"].value
    assert stamp_a != stamp_b
    for stamp in (stamp_a, stamp_b):
        assert time.time() - signing.loads(stamp, salt=TIMESTAMP_SALT) < 60


def test_a_csrf_token_from_a_cached_page_is_accepted(article, sentinel, comment_data, settings):
    """The token in the page belongs to the reader who got the page, cache or not."""
    settings.COMMENTS_FLOOD_SECONDS = 0
    make_cache_stale(Client(), article, sentinel)
    reader = Client(enforce_csrf_checks=True)
    csrf, stamp = form_tokens(reader.get(article.get_absolute_url()))
    data = comment_data(body="Posted with the page's own token.", csrfmiddlewaretoken=csrf)
    assert reader.post(post_url(article), data).status_code == 303


def test_a_readers_pending_comment_is_never_cached_for_others(article, sentinel, comment_data):
    poster, stranger = Client(), Client()
    make_cache_stale(stranger, article, sentinel)
    response = poster.post(post_url(article), comment_data(body="Mine, still held."))
    assert response.status_code == 303
    held = Comment.objects.get(body="Mine, still held.")
    assert held.status == Comment.Status.PENDING
    poster_doc = parse(poster.get(article.get_absolute_url()))
    assert f"comment-{held.pk}" in comment_ids(poster_doc)
    # The poster's personal render did not replace the shared fragment, in either order.
    stranger_doc = parse(stranger.get(article.get_absolute_url()))
    assert f"comment-{held.pk}" not in comment_ids(stranger_doc)
    assert "Mine, still held." not in text_of(comments_section(stranger_doc))
    assert f"comment-{held.pk}" in comment_ids(parse(poster.get(article.get_absolute_url())))
    assert f"comment-{held.pk}" not in comment_ids(parse(Client().get(article.get_absolute_url())))


def home_counts(client):
    doc = parse(client.get("/"))
    counts = {}
    for link in doc.iterfind(".//h:a[@class='comment-count']", NS):
        counts[link.get("href").split("#")[0]] = text_of(link)
    return counts


def expected_label(count):
    if count == 0:
        return "No Responses"
    return "1 Response" if count == 1 else f"{count} Responses"


def test_counts_never_drift_across_many_status_changes(client, staff_user):
    """Home count = article heading count = approved count, after every change."""
    rng = random.Random(5)
    articles = [ArticleFactory(), ArticleFactory()]
    comments = []
    for article in articles:
        for _ in range(4):
            root = CommentFactory(article=article)
            comments.append(root)
            comments.append(CommentFactory(parent=root, status=Comment.Status.PENDING))
    actions = [moderation.approve, moderation.remove, moderation.restore, moderation.mark_spam]
    for _step in range(25):
        action = rng.choice(actions)
        action(rng.sample(comments, k=rng.randint(1, 3)), by=staff_user)
        home = home_counts(client)
        for article in articles:
            approved = Comment.objects.approved().filter(article=article).count()
            section = comments_section(parse(client.get(article.get_absolute_url())))
            assert section.get("data-comment-count") == str(approved)
            assert home[article.get_absolute_url()] == expected_label(approved)
