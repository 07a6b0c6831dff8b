"""Per-article discussion settings: open or closed, a closing time, pre-moderation and
links, each with the site's default; who may change them in the admin; what readers are
told above the form; and the cached page following all of it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from comments import rules
from comments.models import Comment
from tests.factories import ArticleFactory, CommentFactory, StaffFactory
from tests.html import NS, parse, text_of

pytestmark = pytest.mark.django_db

Status = Comment.Status
THIRD_OF_MARCH = datetime(2027, 3, 3, 14, 0, tzinfo=UTC)
ORIGINAL = "Original sentinel text."
BEHIND = "Changed behind the cache."


@pytest.fixture(autouse=True)
def _site(settings):
    settings.COMMENTS_FLOOD_SECONDS = 0
    settings.TIME_ZONE = "UTC"


@pytest.fixture
def moderator():
    user = StaffFactory(username="mod")
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def change_url(article):
    return reverse("admin:articles_article_change", args=[article.pk])


def anonymous_page(article):
    response = Client().get(article.get_absolute_url())
    assert response.status_code == 200
    return parse(response)


def respond_text(doc):
    return text_of(doc.find(".//h:section[@id='respond']", NS))


def state_text(doc):
    state = doc.find(".//h:div[@id='discussion-state']", NS)
    return text_of(state) if state is not None else ""


def has_form(doc):
    return doc.find(".//h:form[@id='comment-form']", NS) is not None


def post(article, comment_data, *, client=None, **overrides):
    return (client or Client()).post(
        reverse("comments:post", args=[article.slug]),
        comment_data(**overrides),
        REMOTE_ADDR="198.51.100.10",
    )


def later(monkeypatch, moment):
    monkeypatch.setattr(timezone, "now", lambda: moment)


# --- the admin page ----------------------------------------------------------------------
def select_options(doc, name):
    select = doc.find(f".//h:select[@name='{name}']", NS)
    return [
        (option.get("value"), text_of(option), option.get("selected") is not None)
        for option in select.findall("h:option", NS)
    ]


def article_form_data(article, **overrides):
    """The superuser's full change form for ``article``, as the page posts it."""
    data = {
        "title": article.title,
        "slug": article.slug,
        "author": article.author_id,
        "summary": article.summary,
        "body": article.body,
        "status": article.status,
        "published_at_0": article.published_at.strftime("%Y-%m-%d"),
        "published_at_1": article.published_at.strftime("%H:%M:%S"),
        "comments_open": "on",
        "comments_close_at_0": "",
        "comments_close_at_1": "",
        "comments_premoderated": "unknown",
        "comments_allow_links": "unknown",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_the_discussion_fieldset_offers_site_default_yes_and_no(superuser, article, settings):
    settings.COMMENTS_PREMODERATE_ALL = True
    doc = parse(logged_in(superuser).get(change_url(article)))
    legends = [text_of(h2) for h2 in doc.iterfind(".//h:fieldset//h:h2", NS)]
    assert "Discussion" in legends
    assert select_options(doc, "comments_premoderated") == [
        ("unknown", "Site default (Yes)", True),
        ("true", "Yes", False),
        ("false", "No", False),
    ]
    assert [label for _value, label, _selected in select_options(doc, "comments_allow_links")][
        0
    ] == "Site default (Yes)"
    for name in ("comments_open", "comments_close_at_0", "comments_close_at_1"):
        assert doc.find(f".//h:input[@name='{name}']", NS) is not None


def test_the_site_default_label_follows_the_setting(superuser, article, settings):
    settings.COMMENTS_ALLOW_LINKS = False
    doc = parse(logged_in(superuser).get(change_url(article)))
    assert select_options(doc, "comments_allow_links")[0] == ("unknown", "Site default (No)", True)


@pytest.mark.parametrize(
    ("choice", "stored"), [("unknown", None), ("true", True), ("false", False)]
)
def test_an_editor_saves_each_choice_and_a_closing_time(superuser, article, choice, stored):
    response = logged_in(superuser).post(
        change_url(article),
        article_form_data(
            article,
            comments_premoderated=choice,
            comments_allow_links=choice,
            comments_close_at_0="2027-03-03",
            comments_close_at_1="14:00:00",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    article.refresh_from_db()
    assert article.comments_premoderated is stored
    assert article.comments_allow_links is stored
    assert article.comments_close_at == THIRD_OF_MARCH


def test_a_moderator_changes_only_the_discussion_settings(moderator, article):
    """The Moderators group has ``articles.change_discussion``, not ``change_article``:
    the page opens with the discussion fields on the form and the rest read-only, and
    posted values for the rest change nothing."""
    client = logged_in(moderator)
    response = client.get(change_url(article))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert sorted(form.fields) == sorted(
        ["comments_open", "comments_close_at", "comments_premoderated", "comments_allow_links"]
    )
    doc = parse(response)
    readonly = " ".join(text_of(div) for div in doc.iterfind(".//h:div[@class='readonly']", NS))
    assert article.title in readonly
    # The discussion comes first: what the moderator came for.
    first_legend = doc.find(".//h:fieldset//h:h2", NS)
    assert text_of(first_legend) == "Discussion"

    title, slug, body, status = article.title, article.slug, article.body, article.status
    response = client.post(
        change_url(article),
        {
            "title": "Defaced",
            "slug": "defaced",
            "body": "Defaced body",
            "status": Article.Status.DRAFT,
            "comments_open": "on",
            "comments_close_at_0": "2027-03-03",
            "comments_close_at_1": "14:00:00",
            "comments_premoderated": "true",
            "comments_allow_links": "false",
        },
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert (article.title, article.slug, article.body, article.status) == (
        title,
        slug,
        body,
        status,
    )
    assert article.comments_premoderated is True
    assert article.comments_allow_links is False
    assert article.comments_close_at == THIRD_OF_MARCH


def test_a_moderator_can_close_comments_now(moderator, article):
    response = logged_in(moderator).post(
        change_url(article), {"comments_premoderated": "unknown", "comments_allow_links": "unknown"}
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.comments_open is False
    assert not article.accepts_comments


def test_a_moderator_still_cannot_add_or_delete_articles(moderator, article):
    client = logged_in(moderator)
    assert client.get(reverse("admin:articles_article_add")).status_code == 403
    delete = reverse("admin:articles_article_delete", args=[article.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Article.objects.filter(pk=article.pk).exists()


def test_the_permission_alone_opens_the_page_outside_the_group(article):
    user = StaffFactory(username="desk")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="articles", codename="change_discussion")
    )
    client = logged_in(user)
    assert client.get(change_url(article)).status_code == 200
    response = client.post(
        change_url(article),
        {"comments_open": "on", "comments_premoderated": "true", "comments_allow_links": "unknown"},
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.comments_premoderated is True


def test_staff_without_either_permission_get_403_and_change_nothing(article):
    client = logged_in(StaffFactory(username="nobody"))
    assert client.get(change_url(article)).status_code == 403
    response = client.post(
        change_url(article), {"comments_open": "", "comments_premoderated": "true"}
    )
    assert response.status_code == 403
    article.refresh_from_db()
    assert article.comments_open is True
    assert article.comments_premoderated is None


def test_an_editor_with_change_article_still_edits_everything(article):
    user = StaffFactory(username="editor2")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="articles", codename="change_article")
    )
    form = logged_in(user).get(change_url(article)).context["adminform"].form
    assert {"title", "slug", "body", "comments_premoderated"} <= set(form.fields)


# --- the comment window -----------------------------------------------------------------
def test_a_closing_time_in_the_future_keeps_comments_open(article):
    article.comments_close_at = timezone.now() + timedelta(hours=1)
    assert article.accepts_comments


def test_comments_close_at_the_closing_time(article, monkeypatch):
    article.comments_close_at = timezone.now() + timedelta(hours=1)
    later(monkeypatch, article.comments_close_at)
    assert not article.accepts_comments


def test_the_page_cache_version_follows_the_instance_through_the_closing_time(
    article, monkeypatch, settings
):
    """``public_version`` is raw SQL; it must read the same window, closing time and
    defaults as the instance (and stay held to ``published()``, tests/test_articles.py)."""
    close_at = timezone.now() + timedelta(hours=1)
    Article.objects.filter(pk=article.pk).update(
        comments_close_at=close_at, comments_premoderated=True, comments_allow_links=False
    )
    article.refresh_from_db()
    before = Article.objects.public_version(article.slug)
    assert before == article.cache_version
    assert (before.accepts_comments, before.closes_at) == (True, close_at)
    assert (before.premoderated, before.allows_links) == (True, False)
    later(monkeypatch, close_at + timedelta(seconds=1))
    after = Article.objects.public_version(article.slug)
    assert after == article.cache_version and not after.accepts_comments
    assert after.key("page") != before.key("page")


def test_the_site_defaults_are_part_of_the_key(article, settings):
    key = Article.objects.public_version(article.slug).key("page")
    settings.COMMENTS_PREMODERATE_ALL = True
    premoderated = Article.objects.public_version(article.slug).key("page")
    settings.COMMENTS_ALLOW_LINKS = False
    no_links = Article.objects.public_version(article.slug).key("page")
    assert len({key, premoderated, no_links}) == 3


def test_the_site_day_limit_and_the_closing_time_close_at_the_earlier(article, settings):
    settings.COMMENTS_CLOSE_AFTER_DAYS = 30
    limit = article.published_at + timedelta(days=30)
    assert article.comments_close_time == limit
    article.comments_close_at = limit - timedelta(days=1)
    assert article.comments_close_time == article.comments_close_at
    article.comments_close_at = limit + timedelta(days=1)
    assert article.comments_close_time == limit


def test_posting_after_the_closing_time_is_refused_with_the_text_kept(
    article, comment_data, monkeypatch
):
    article.comments_close_at = timezone.now() + timedelta(minutes=5)
    article.save()
    later(monkeypatch, article.comments_close_at + timedelta(seconds=1))
    response = post(article, comment_data, body="Just too late.")
    assert response.status_code == 403
    assert "Just too late." in response.content.decode()
    assert not Comment.objects.exists()


# --- what readers are told ----------------------------------------------------------------
def test_no_state_is_shown_for_an_ordinary_open_article(article):
    doc = anonymous_page(article)
    assert has_form(doc)
    assert doc.find(".//h:div[@id='discussion-state']", NS) is None


def test_a_premoderated_article_says_comments_are_reviewed(article):
    article.comments_premoderated = True
    article.save()
    assert state_text(anonymous_page(article)) == (
        "Comments on this article are reviewed before they appear."
    )


def test_site_wide_premoderation_is_announced_unless_the_article_opts_out(settings):
    settings.COMMENTS_PREMODERATE_ALL = True
    default, opted_out = ArticleFactory(), ArticleFactory(comments_premoderated=False)
    assert "reviewed before they appear" in state_text(anonymous_page(default))
    assert "reviewed before they appear" not in state_text(anonymous_page(opted_out))


def test_an_article_without_links_says_so(article):
    article.comments_allow_links = False
    article.save()
    assert state_text(anonymous_page(article)) == (
        "Links are not allowed in comments on this article."
    )


def test_a_closing_time_is_announced_with_its_date_and_time(article, monkeypatch):
    later(monkeypatch, THIRD_OF_MARCH - timedelta(days=2))
    article.comments_close_at = THIRD_OF_MARCH
    article.save()
    doc = anonymous_page(article)
    assert has_form(doc)
    assert state_text(doc) == "Comments close at 2 p.m. on March 3, 2027."
    time = doc.find(".//h:div[@id='discussion-state']//h:time", NS)
    assert time.get("datetime") == "2027-03-03T14:00:00+00:00"


def test_after_the_closing_time_the_page_says_when_comments_closed(article, monkeypatch):
    article.comments_close_at = THIRD_OF_MARCH
    article.save()
    later(monkeypatch, THIRD_OF_MARCH + timedelta(days=1))
    doc = anonymous_page(article)
    assert not has_form(doc)
    assert respond_text(doc) == "Comments closed on March 3, 2027."


def test_comments_closed_by_hand_still_say_comments_are_closed(article):
    article.comments_open = False
    article.comments_close_at = timezone.now() + timedelta(days=1)
    article.save()
    assert respond_text(anonymous_page(article)) == "Comments are closed."


def test_all_states_together_in_german(article, monkeypatch, settings):
    later(monkeypatch, THIRD_OF_MARCH - timedelta(days=2))
    Article.objects.filter(pk=article.pk).update(
        comments_close_at=THIRD_OF_MARCH, comments_premoderated=True, comments_allow_links=False
    )
    response = Client().get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de")
    state = parse(response).find(".//h:div[@id='discussion-state']", NS)
    assert len(state.findall("h:p", NS)) == 3
    assert "3. März 2027" in text_of(state)


# --- the cached page ----------------------------------------------------------------------
@pytest.fixture
def sentinel(article):
    return CommentFactory(article=article, body=ORIGINAL)


def cache_then_change_behind(article, sentinel):
    """Fill the page cache, then change the sentinel so that only a fresh render shows it."""
    assert ORIGINAL in text_of(anonymous_page(article))
    Comment.objects.filter(pk=sentinel.pk).update(body_html=f"<p>{BEHIND}</p>")
    assert BEHIND not in text_of(anonymous_page(article)), "served from the cache"


def test_the_cached_page_flips_at_the_closing_time_without_any_write(
    article, sentinel, monkeypatch
):
    article.comments_close_at = timezone.now() + timedelta(hours=1)
    article.save()
    cache_then_change_behind(article, sentinel)
    assert has_form(anonymous_page(article))
    later(monkeypatch, article.comments_close_at)
    doc = anonymous_page(article)
    assert not has_form(doc)
    assert respond_text(doc).startswith("Comments closed on ")
    assert BEHIND in text_of(doc)


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("comments_premoderated", True, "reviewed before they appear"),
        ("comments_allow_links", False, "Links are not allowed"),
        ("comments_close_at", THIRD_OF_MARCH, "Comments close at 2 p.m. on March 3, 2027"),
    ],
)
def test_a_saved_setting_changes_the_cached_page(article, sentinel, field, value, shown):
    cache_then_change_behind(article, sentinel)
    setattr(article, field, value)
    article.save()
    doc = anonymous_page(article)
    assert shown in state_text(doc)
    assert BEHIND in text_of(doc)


def test_a_moderators_change_in_the_admin_changes_the_cached_page(moderator, article, sentinel):
    cache_then_change_behind(article, sentinel)
    logged_in(moderator).post(
        change_url(article),
        {"comments_open": "on", "comments_premoderated": "true", "comments_allow_links": "unknown"},
    )
    assert "reviewed before they appear" in state_text(anonymous_page(article))


def test_changing_a_site_default_changes_the_cached_page(article, sentinel, settings):
    cache_then_change_behind(article, sentinel)
    settings.COMMENTS_PREMODERATE_ALL = True
    assert "reviewed before they appear" in state_text(anonymous_page(article))


# --- pre-moderation -------------------------------------------------------------------------
@pytest.fixture
def premoderated():
    return ArticleFactory(comments_premoderated=True)


@pytest.fixture
def regular(comment_factory):
    """ada@example.org has an approved comment: elsewhere she is trusted."""
    return comment_factory(author_email="ada@example.org", status=Status.APPROVED)


def test_a_comment_on_a_premoderated_article_waits_with_the_reason(
    premoderated, comment_data, regular
):
    assert post(premoderated, comment_data).status_code == 303
    comment = Comment.objects.get(article=premoderated)
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: article is pre-moderated"


def test_the_same_commenter_is_approved_on_an_ordinary_article(article, comment_data, regular):
    post(article, comment_data)
    assert Comment.objects.get(article=article).status == Status.APPROVED


def test_site_wide_premoderation_holds_every_article_that_keeps_the_default(
    settings, comment_data, regular
):
    settings.COMMENTS_PREMODERATE_ALL = True
    default, opted_out = ArticleFactory(), ArticleFactory(comments_premoderated=False)
    post(default, comment_data)
    post(opted_out, comment_data)
    assert Comment.objects.get(article=default).status == Status.PENDING
    assert Comment.objects.get(article=opted_out).status == Status.APPROVED


def test_staff_are_still_trusted_on_a_premoderated_article(premoderated, comment_data):
    client = logged_in(StaffFactory(username="reporter"))
    post(premoderated, comment_data, client=client)
    assert Comment.objects.get(article=premoderated).status == Status.APPROVED


def test_spam_is_still_spam_on_a_premoderated_article(premoderated, comment_data):
    post(premoderated, comment_data, homepage="http://bot.example")
    comment = Comment.objects.get(article=premoderated)
    assert (comment.status, comment.moderation_reason) == (Status.SPAM, "spam: honeypot")


def test_premoderation_comes_after_the_content_rules_and_before_trust():
    names = [rule.__name__ for rule in rules.RULES]
    position = names.index("article_premoderated")
    assert names[position - 1] == rules.CONTENT_RULES[-1].__name__
    assert names.index("trust_staff") < position


# --- links --------------------------------------------------------------------------------
def field_error(response, name):
    error = parse(response).find(f".//h:span[@id='id_{name}_error']", NS)
    return text_of(error) if error is not None else ""


def kept_body(response):
    return parse(response).find(".//h:textarea[@name='body']", NS).text.strip()


def test_a_link_is_refused_on_an_article_without_links(comment_data):
    article = ArticleFactory(comments_allow_links=False)
    body = "See www.example.com for more."
    response = post(article, comment_data, body=body)
    assert response.status_code == 400
    assert field_error(response, "body").startswith(
        "Links are not allowed in comments on this article."
    )
    assert kept_body(response) == body
    assert not Comment.objects.exists()


def test_an_html_anchor_counts_as_a_link(comment_data):
    article = ArticleFactory(comments_allow_links=False)
    response = post(article, comment_data, body='Look <a href="x">here</a>')
    assert response.status_code == 400


def test_text_without_links_posts_on_an_article_without_links(comment_data):
    article = ArticleFactory(comments_allow_links=False)
    assert post(article, comment_data, body="No addresses here.").status_code == 303


def test_the_site_default_refuses_links_unless_the_article_allows_them(settings, comment_data):
    settings.COMMENTS_ALLOW_LINKS = False
    default, allowed = ArticleFactory(), ArticleFactory(comments_allow_links=True)
    assert post(default, comment_data, body="https://example.org").status_code == 400
    assert post(allowed, comment_data, body="https://example.org").status_code == 303


def test_an_edit_adding_a_link_on_an_article_without_links_is_held(comment_data, regular):
    article = ArticleFactory(comments_allow_links=False)
    client = Client()
    assert post(article, comment_data, client=client, body="Plain words.").status_code == 303
    comment = Comment.objects.get(article=article)
    assert comment.status == Status.APPROVED
    client.post(reverse("comments:edit", args=[comment.pk]), {"body": "Now https://spam.example"})
    comment.refresh_from_db()
    assert comment.status == Status.PENDING
    assert comment.moderation_reason == "held: edited, links are not allowed on this article"


def test_the_articles_app_reads_the_same_site_defaults_as_comments_conf():
    from articles.models import _SITE_DISCUSSION_DEFAULTS
    from comments.conf import DEFAULTS

    assert {name: DEFAULTS[name] for name in _SITE_DISCUSSION_DEFAULTS} == (
        _SITE_DISCUSSION_DEFAULTS
    )


def test_the_rule_sees_the_article_setting_even_without_the_form():
    """``too_many_links`` holds what the form would refuse (say, a post by another path)."""
    article = ArticleFactory(comments_allow_links=False)
    candidate = rules.Candidate(
        article=article, name="A", email="a@example.org", url="", body="https://x.example"
    )
    verdict = rules.too_many_links(candidate)
    assert (verdict.status, verdict.reason) == (
        Status.PENDING,
        "held: links are not allowed on this article",
    )
