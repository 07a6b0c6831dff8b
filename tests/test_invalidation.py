"""Invalidation by design: every write path changes the cached page, and every visible
change is announced once, after commit (``comments.signals``).

The proof for each path: an anonymous reader's GET fills the page cache; the sentinel
comment's stored HTML is then changed behind the cache's back (an ``update()`` that no
hook sees) and a second GET still shows the old text, so the page really comes from the
cache; then the write goes through the path under test, and the next GET shows both
the write and the sentinel's new text: the page was rendered afresh.
"""

from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode

from articles.models import Article
from comments import moderation, posting, signals
from comments.models import Comment
from comments.threads import _cache_key
from site_config.pagecache import ProcessCache
from site_config.release import source_fingerprint
from tests.factories import ArticleFactory, CommentFactory, UserFactory
from tests.html import NS, comments_section, parse, text_of
from tests.test_import_wxr import comment as wxr_comment
from tests.test_import_wxr import export
from tests.test_import_wxr import item as wxr_item

pytestmark = pytest.mark.django_db

ORIGINAL = "Original sentinel text."
BEHIND = "Changed behind the cache."
FORM = "application/x-www-form-urlencoded"


def anonymous_page(article):
    response = Client().get(article.get_absolute_url())
    assert response.status_code == 200
    return parse(response)


def section_text(article):
    return text_of(comments_section(anonymous_page(article)))


def byline(article):
    return text_of(anonymous_page(article).find(".//h:p[@class='byline']", NS))


def has_comment_form(article):
    return anonymous_page(article).find(".//h:form[@id='comment-form']", NS) is not None


@pytest.fixture
def sentinel(article):
    return CommentFactory(article=article, body=ORIGINAL)


def cache_then_change_behind(article, sentinel):
    """Fill the page cache, then change the sentinel so that only a fresh render shows it."""
    assert ORIGINAL in section_text(article)
    Comment.objects.filter(pk=sentinel.pk).update(body_html=f"<p>{BEHIND}</p>")
    assert BEHIND not in section_text(article), "the page should come from the cache"
    return article


@pytest.fixture
def cached(article, sentinel):
    """The article's page is in the page cache, and the cache now holds old text."""
    return cache_then_change_behind(article, sentinel)


def assert_rendered_afresh(article):
    assert BEHIND in section_text(article)


def form_post(client, url, data):
    return client.post(url, urlencode(data), content_type=FORM)


@pytest.fixture
def admin(superuser):
    client = Client()
    client.force_login(superuser)
    return client


# --- every write path ----------------------------------------------------------------
def test_a_comment_edited_in_the_admin_change_form_changes_the_cached_page(cached, sentinel, admin):
    response = admin.post(
        reverse("admin:comments_comment_change", args=[sentinel.pk]),
        {
            "author_name": sentinel.author_name,
            "author_email": sentinel.author_email,
            "author_url": "",
            "body": "Redacted by a moderator.",
            "parent": "",
        },
    )
    assert response.status_code == 302
    text = section_text(cached)
    assert "Redacted by a moderator." in text and BEHIND not in text


def test_a_comment_deleted_in_the_admin_leaves_the_cached_page(article, sentinel, admin):
    doomed = CommentFactory(article=article, body="Posted by mistake.")
    cached = cache_then_change_behind(article, sentinel)
    assert "Posted by mistake." in section_text(cached)
    response = admin.post(
        reverse("admin:comments_comment_delete", args=[doomed.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Comment.objects.filter(pk=doomed.pk).exists()
    assert_rendered_afresh(cached)


def test_an_article_edited_in_the_admin_change_form_changes_the_cached_page(cached, admin):
    published = timezone.localtime(cached.published_at)
    response = admin.post(
        reverse("admin:articles_article_change", args=[cached.pk]),
        {
            "title": "A corrected title",
            "slug": cached.slug,
            "author": cached.author_id,
            "summary": cached.summary,
            "body": cached.body,
            "status": cached.status,
            "published_at_0": published.strftime("%Y-%m-%d"),
            "published_at_1": published.strftime("%H:%M:%S"),
            "comments_open": "on",
        },
    )
    assert response.status_code == 302
    doc = anonymous_page(cached)
    assert text_of(doc.find(".//h:h1", NS)) == "A corrected title"
    assert BEHIND in text_of(comments_section(doc))


def test_an_admin_moderation_action_changes_the_cached_page(cached, admin):
    held = CommentFactory(article=cached, status=Comment.Status.PENDING, body="Held, then ok.")
    response = admin.post(
        reverse("admin:comments_comment_changelist"),
        {"action": "approve_selected", "_selected_action": [held.pk]},
    )
    assert response.status_code == 302
    text = section_text(cached)
    assert "Held, then ok." in text and BEHIND in text


@pytest.mark.parametrize("action", ["approve", "remove", "restore", "mark_spam"])
def test_each_moderation_function_changes_the_cached_page(cached, action):
    start = Comment.Status.PENDING if action == "approve" else Comment.Status.APPROVED
    target = CommentFactory(article=cached, status=start)
    getattr(moderation, action)([target])
    assert_rendered_afresh(cached)


def test_a_comment_posted_and_approved_changes_the_cached_page(cached, comment_data, settings):
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    response = form_post(
        Client(), reverse("comments:post", args=[cached.slug]), comment_data(body="Fresh.")
    )
    assert response.status_code == 303
    text = section_text(cached)
    assert "Fresh." in text and BEHIND in text


@pytest.fixture
def poster(article, comment_data, settings):
    """A reader whose approved comment is on the (not yet cached) article page."""
    settings.COMMENTS_REQUIRE_PREVIOUSLY_APPROVED = False
    settings.COMMENTS_FLOOD_SECONDS = 0
    client = Client()
    data = comment_data(body="First wording.")
    assert form_post(client, reverse("comments:post", args=[article.slug]), data).status_code == 303
    return client, Comment.objects.get(body="First wording.")


def test_a_readers_edit_changes_the_cached_page(poster, sentinel, article):
    client, own = poster
    cached_article = cache_then_change_behind(article, sentinel)
    response = form_post(client, reverse("comments:edit", args=[own.pk]), {"body": "Reworded."})
    assert response.status_code == 303
    text = section_text(cached_article)
    assert "Reworded." in text and "First wording." not in text and BEHIND in text


def test_a_readers_withdrawal_changes_the_cached_page(poster, sentinel, article):
    client, own = poster
    cached_article = cache_then_change_behind(article, sentinel)
    assert "First wording." in section_text(cached_article)
    response = form_post(client, reverse("comments:withdraw", args=[own.pk]), {})
    assert response.status_code == 303
    text = section_text(cached_article)
    assert "First wording." not in text and BEHIND in text


def test_an_import_changes_the_cached_page(tmp_path):
    path = tmp_path / "export.xml"
    path.write_text(export(wxr_item(5, comments=[wxr_comment(1, content=ORIGINAL)])))
    call_command("import_wxr", str(path), stdout=StringIO())
    article = Article.objects.get(import_key__endswith=":post:5")
    sentinel = Comment.objects.get(article=article)
    cache_then_change_behind(article, sentinel)

    path.write_text(
        export(
            wxr_item(
                5,
                comments=[
                    wxr_comment(1, content=ORIGINAL),
                    wxr_comment(2, parent=1, content="An imported reply."),
                ],
            )
        )
    )
    call_command("import_wxr", str(path), stdout=StringIO())
    # (The import also puts back the sentinel's HTML it finds changed.)
    assert "An imported reply." in section_text(article)


def test_seed_demo_after_a_page_was_cached_shows_the_new_comments():
    """The issue's case: a demo article cached before seeding kept "No Responses"."""
    article = ArticleFactory(slug="the-quiet-return-of-rss", title="The quiet return of RSS")
    heading = text_of(comments_section(anonymous_page(article)).find(".//h:h2", NS))
    assert heading.startswith("No Responses")
    call_command("seed_demo", stdout=StringIO())
    assert Comment.objects.approved().filter(article=article).exists()
    heading = text_of(comments_section(anonymous_page(article)).find(".//h:h2", NS))
    assert not heading.startswith("No Responses")


def test_comments_check_repair_changes_the_cached_page(article, sentinel):
    # A body rendered by an older renderer is what readers see, cached...
    Comment.objects.filter(pk=sentinel.pk).update(body_html="<p>Old render.</p>")
    assert "Old render." in section_text(article)
    assert "Old render." in section_text(article)
    call_command("comments_check", "--repair", stdout=StringIO())
    # ...until the repair re-renders it.
    text = section_text(article)
    assert ORIGINAL in text and "Old render." not in text


def test_renaming_an_articles_author_changes_the_byline_on_a_cached_page(cached):
    """The issue's case: the old byline stayed on cached pages."""
    author = get_user_model().objects.get(pk=cached.author_id)
    assert author.get_full_name() in byline(cached)
    author.first_name, author.last_name = "Renamed", "Writer"
    author.save()
    assert "Renamed Writer" in byline(cached)
    assert_rendered_afresh(cached)


def test_a_login_or_a_password_change_leaves_the_authors_pages_cached(cached):
    author = get_user_model().objects.get(pk=cached.author_id)
    cached.refresh_from_db()
    version = cached.cache_version
    author.last_login = timezone.now()
    author.save(update_fields=["last_login"])
    author.set_password("another horse battery staple")
    author.save()
    cached.refresh_from_db()
    assert cached.cache_version.version == version.version
    assert BEHIND not in section_text(cached)


def test_comments_closing_with_time_hides_the_form_on_a_cached_page(
    article, sentinel, settings, monkeypatch
):
    """The issue's case: when COMMENTS_CLOSE_AFTER_DAYS passed, cached pages kept the form.
    Nothing is written: the time passes."""
    settings.COMMENTS_CLOSE_AFTER_DAYS = 10
    Article.objects.filter(pk=article.pk).update(published_at=timezone.now() - timedelta(days=9))
    article.refresh_from_db()
    cache_then_change_behind(article, sentinel)
    assert has_comment_form(article)
    two_days_later = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: two_days_later)
    assert not has_comment_form(article)
    assert_rendered_afresh(article)


def test_lowering_the_close_after_days_setting_hides_the_form_on_a_cached_page(cached, settings):
    settings.COMMENTS_CLOSE_AFTER_DAYS = None
    assert has_comment_form(cached)
    settings.COMMENTS_CLOSE_AFTER_DAYS = 0  # published a day ago: closed now
    assert not has_comment_form(cached)


def test_a_new_release_changes_every_key(cached, settings):
    """The issue's case: a deploy that changed the markup kept serving the old markup."""
    settings.THREADPRESS_RELEASE = "the-next-release"
    assert_rendered_afresh(cached)


# --- what a key holds ------------------------------------------------------------------
def test_the_thread_key_holds_version_time_window_language_and_release(article, settings):
    settings.COMMENTS_CLOSE_AFTER_DAYS = 3
    key = _cache_key(article, 1, "oldest")
    assert _cache_key(article, 1, "oldest") == key
    assert _cache_key(article, 2, "oldest") != key
    assert _cache_key(article, 1, "newest") != key
    with translation.override("de"):
        assert _cache_key(article, 1, "oldest") != key
    settings.THREADPRESS_RELEASE = "other"
    other_release = _cache_key(article, 1, "oldest")
    assert other_release != key
    settings.COMMENTS_CLOSE_AFTER_DAYS = 0
    assert _cache_key(article, 1, "oldest") != other_release
    article.comments_version += 1
    assert _cache_key(article, 1, "oldest") not in (key, other_release)


def test_the_page_cache_version_and_the_instance_agree(article, settings):
    settings.COMMENTS_CLOSE_AFTER_DAYS = 2
    assert Article.objects.public_version(article.slug) == article.cache_version
    settings.COMMENTS_CLOSE_AFTER_DAYS = 0
    closed = Article.objects.public_version(article.slug)
    assert closed == article.cache_version and not closed.accepts_comments


def test_a_hit_still_costs_one_query(cached, django_assert_num_queries):
    with django_assert_num_queries(1):  # the article's CacheVersion
        response = Client().get(cached.get_absolute_url())
    assert response.status_code == 200


def test_the_release_fingerprint_follows_the_code_and_nothing_else(tmp_path):
    (tmp_path / "app" / "templates").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / "app" / "views.py").write_text("x = 1\n")
    template = tmp_path / "app" / "templates" / "page.html"
    template.write_text("<p>one</p>")
    first = source_fingerprint(tmp_path)
    (tmp_path / "tests" / "test_x.py").write_text("y = 2\n")
    (tmp_path / "notes.md").write_text("not code")
    assert source_fingerprint(tmp_path) == first
    template.write_text("<p>two</p>")
    assert source_fingerprint(tmp_path) != first


# --- what is not a visible change --------------------------------------------------------
def test_a_held_comment_leaves_the_cached_page_and_its_version_alone(cached):
    version = Article.objects.get(pk=cached.pk).comments_version
    held = CommentFactory(article=cached, status=Comment.Status.PENDING)
    held.body = "Still held, reworded."
    held.save()
    assert Article.objects.get(pk=cached.pk).comments_version == version
    assert BEHIND not in section_text(cached)


def test_a_report_below_the_threshold_leaves_the_cached_page_alone(cached, sentinel, settings):
    settings.COMMENTS_REPORT_THRESHOLD = 3
    reporter = Client()
    response = form_post(
        reporter, reverse("comments:report", args=[sentinel.pk]), {"reason": "off_topic"}
    )
    assert response.status_code in (302, 303)
    assert Comment.objects.get(pk=sentinel.pk).report_count == 1
    assert BEHIND not in section_text(cached)


# --- discussion_changed --------------------------------------------------------------------
@pytest.fixture
def announcements():
    received = []

    def receiver(sender, *, article_ids, **kwargs):
        received.append(article_ids)

    signals.discussion_changed.connect(receiver)
    yield received
    signals.discussion_changed.disconnect(receiver)


@pytest.fixture
def committed(django_capture_on_commit_callbacks, announcements):
    """``with committed():`` runs its block as if its transaction committed at the end
    (the test's own transaction never does); what came before is announced and forgotten."""

    @contextmanager
    def commit():
        with django_capture_on_commit_callbacks(execute=True):
            yield

    with commit():
        pass
    yield commit


def settle(committed, announcements, make):
    """Create with ``make()`` and commit it, so the test starts with nothing pending."""
    with committed():
        made = make()
    announcements.clear()
    return made


def test_a_moderation_batch_is_announced_once_with_every_article(announcements, committed):
    first, second = settle(committed, announcements, lambda: (ArticleFactory(), ArticleFactory()))
    held = [
        CommentFactory(article=article, status=Comment.Status.PENDING)
        for article in (first, second, second)
    ]
    with committed():
        moderation.approve(held)
    assert announcements == [frozenset({first.pk, second.pk})]


def test_nothing_is_announced_before_the_commit(
    announcements, committed, django_capture_on_commit_callbacks
):
    comment = settle(
        committed, announcements, lambda: CommentFactory(status=Comment.Status.PENDING)
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        moderation.approve([comment])
        assert announcements == []
    assert announcements == []  # the test's transaction never commits
    for callback in callbacks:
        callback()
    assert announcements == [frozenset({comment.article_id})]


def test_one_transaction_with_many_changes_is_announced_once(announcements, committed):
    article = settle(committed, announcements, ArticleFactory)
    with committed(), transaction.atomic():
        first = CommentFactory(article=article)
        CommentFactory(article=article, parent=first)
        posting.edit_comment(first, body="Edited at once.")
        article.title = "Retitled"
        article.save()
    assert announcements == [frozenset({article.pk})]


def test_a_rolled_back_change_is_not_announced_and_the_next_one_is(announcements, committed):
    doomed, kept = settle(committed, announcements, lambda: (ArticleFactory(), ArticleFactory()))
    with committed():
        with pytest.raises(RuntimeError), transaction.atomic():
            CommentFactory(article=doomed)
            raise RuntimeError("rolled back")
        CommentFactory(article=kept)
    assert announcements == [frozenset({kept.pk})]


def test_a_held_comment_is_not_announced(announcements, committed):
    article = settle(committed, announcements, ArticleFactory)
    with committed():
        CommentFactory(article=article, status=Comment.Status.PENDING)
    assert announcements == []


def test_a_renamed_author_announces_each_of_their_articles(announcements, committed):
    author = UserFactory()
    articles = settle(
        committed, announcements, lambda: [ArticleFactory(author=author) for _ in range(2)]
    )
    with committed():
        author.first_name = "Another"
        author.save()
    assert announcements == [frozenset(article.pk for article in articles)]


def test_a_failing_receiver_is_logged_and_the_others_still_run(announcements, committed, caplog):
    def broken(sender, **kwargs):
        raise RuntimeError("the edge cache is down")

    comment = settle(
        committed, announcements, lambda: CommentFactory(status=Comment.Status.PENDING)
    )
    signals.discussion_changed.connect(broken)
    try:
        with committed():
            assert moderation.approve([comment]) == 1
    finally:
        signals.discussion_changed.disconnect(broken)
    assert announcements == [frozenset({comment.article_id})]
    assert any("discussion_changed receiver" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_announced_after_a_real_commit_and_never_after_a_rollback(announcements):
    article = ArticleFactory()
    announcements.clear()  # the article's creation
    with pytest.raises(RuntimeError), transaction.atomic():
        CommentFactory(article=article)
        raise RuntimeError("rolled back")
    assert announcements == []
    with transaction.atomic():
        CommentFactory(article=article)
        assert announcements == []
    assert announcements == [frozenset({article.pk})]


# --- each worker's copy ----------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_process_cache_forgets_after_its_ttl(settings):
    settings.PROCESS_CACHE_SECONDS = 5
    clock = Clock()
    copy = ProcessCache(clock=clock)
    copy.set("page", b"html")
    clock.now += 4.9
    assert copy.get("page") == b"html"
    clock.now += 0.2
    assert copy.get("page") is None
    assert copy.size == 0


def test_the_process_cache_is_bounded_and_drops_the_least_recently_used(settings):
    settings.PROCESS_CACHE_SECONDS = 60
    settings.PROCESS_CACHE_MAX_MB = 1
    copy = ProcessCache(clock=Clock())
    quarter = b"x" * (1024 * 1024 // 4)
    for key in "abcd":
        copy.set(key, quarter)
    assert copy.get("a") == quarter  # now the most recently used
    copy.set("e", quarter)
    assert copy.get("b") is None and copy.get("a") == quarter
    assert copy.size <= 1024 * 1024
    copy.set("huge", quarter + b"x")  # more than a quarter of the bound: never kept
    assert copy.get("huge") is None


def test_a_zero_ttl_turns_the_process_cache_off(settings):
    settings.PROCESS_CACHE_SECONDS = 0
    copy = ProcessCache(clock=Clock())
    copy.set("page", b"html")
    assert copy.get("page") is None
