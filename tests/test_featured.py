"""Editors' picks: a moderator features a comment, readers find it above the thread
linked to its place, and unfeaturing or taking it out of public view removes it from
the (cached) page at once."""

import copy

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from benchmarks.data import Builder, random_parents
from comments import moderation, rendering, threads
from comments.models import Comment
from tests.factories import ArticleFactory, CommentFactory, StaffFactory, UserFactory
from tests.html import NS, classes, comments_section, parse, text_of

pytestmark = pytest.mark.django_db

Status = Comment.Status
CHANGELIST = "admin:comments_comment_changelist"


# --- helpers -----------------------------------------------------------------------
def featured_section(doc):
    return doc.find(".//h:section[@id='featured-comments']", NS)


def picks_of(doc):
    """``[(author, excerpt, link href)]`` of the page's editors' picks, in order."""
    section = featured_section(doc)
    if section is None:
        return []
    return [
        (
            text_of(li.find(".//h:span[@class='comment-author']", NS)),
            text_of(li.find(".//h:blockquote[@class='featured-excerpt']", NS)),
            li.find(".//h:p[@class='featured-link']/h:a", NS).get("href"),
        )
        for li in section.findall(".//h:li", NS)
    ]


def article_page(client, article, query=""):
    response = client.get(article.get_absolute_url() + query)
    assert response.status_code == 200
    return parse(response)


def badges_in_thread(doc, comment):
    li = doc.find(f".//h:li[@id='comment-{comment.pk}']", NS)
    header = li.find("h:article/h:header", NS)
    return [
        text_of(span) for span in header.findall("h:span", NS) if "comment-badge" in classes(span)
    ]


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


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- the reader's page -------------------------------------------------------------
def test_featured_comment_is_quoted_above_the_thread_and_linked_to_its_place(
    client, article, moderator
):
    CommentFactory(article=article, author_name="Bea", body="First.")
    pick = CommentFactory(article=article, author_name="Ada", body="A  most\n\nuseful  point.")
    assert moderation.feature([pick], by=moderator) == 1

    doc = article_page(client, article)
    section = featured_section(doc)
    assert section is not None
    # Inside the discussion, after its heading and before the thread.
    discussion = list(comments_section(doc).iter())
    thread = comments_section(doc).find(".//h:ol[@class='comment-list']", NS)
    assert discussion.index(section) < discussion.index(thread)
    assert text_of(section.find("h:h3", NS)) == "Editors' picks"
    assert section.get("aria-labelledby") == section.find("h:h3", NS).get("id")
    assert picks_of(doc) == [("Ada", "A most useful point.", f"#comment-{pick.pk}")]
    # The link's target is on the page.
    assert doc.find(f".//h:li[@id='comment-{pick.pk}']", NS) is not None


def test_featured_comment_carries_the_editors_pick_badge_in_the_thread(client, article, moderator):
    other = CommentFactory(article=article)
    pick = CommentFactory(article=article)
    moderation.feature([pick], by=moderator)
    doc = article_page(client, article)
    assert badges_in_thread(doc, pick) == ["Editors' pick"]
    header = doc.find(f".//h:li[@id='comment-{pick.pk}']/h:article/h:header", NS)
    author, badge = header.findall("h:span", NS)[:2]
    assert classes(author) == {"comment-author"}
    assert classes(badge) == {"comment-badge", "comment-badge-featured"}
    assert badges_in_thread(doc, other) == []


def test_no_featured_section_without_picks(client, article):
    CommentFactory(article=article)
    assert threads.render_page(article, use_cache=False).featured == ""
    doc = article_page(client, article)
    assert featured_section(doc) is None
    assert b"featured-comments" not in client.get(article.get_absolute_url()).content


def test_picks_are_listed_newest_pick_first_and_at_most_ten(client, article, moderator):
    comments = [CommentFactory(article=article, author_name=f"P{n}") for n in range(12)]
    for comment in comments:  # featured one after the other: P0 first, P11 last
        moderation.feature([comment], by=moderator)
    authors = [author for author, _excerpt, _href in picks_of(article_page(client, article))]
    assert authors == [f"P{n}" for n in range(11, 1, -1)]
    assert len(authors) == threads.FEATURED_SHOWN == 10


def test_a_pick_on_another_comments_page_links_to_that_page(client, article, moderator, settings):
    settings.COMMENTS_THREADS_PER_PAGE = 1
    first = CommentFactory(article=article)
    second = CommentFactory(article=article)
    reply = CommentFactory(article=article, parent=second)
    moderation.feature([first, reply], by=moderator)
    url = article.get_absolute_url()

    links = {href for _author, _excerpt, href in picks_of(article_page(client, article))}
    assert links == {f"#comment-{first.pk}", f"{url}?cpage=2#comment-{reply.pk}"}
    # From page 2, the other way round.
    links = {href for _a, _e, href in picks_of(article_page(client, article, "?cpage=2"))}
    assert links == {f"{url}#comment-{first.pk}", f"#comment-{reply.pk}"}
    # Newest threads first: the reply's thread is on page 1.
    links = {href for _a, _e, href in picks_of(article_page(client, article, "?csort=newest"))}
    assert links == {f"{url}?cpage=2&csort=newest#comment-{first.pk}", f"#comment-{reply.pk}"}
    # Each link leads to a page that shows the comment.
    doc = article_page(client, article, "?cpage=2")
    assert doc.find(f".//h:li[@id='comment-{reply.pk}']", NS) is not None


def test_link_matches_comment_url(article, moderator, settings):
    """The pick's link is ``threads.comment_url``'s, anchor only on its own page."""
    settings.COMMENTS_THREADS_PER_PAGE = 1
    CommentFactory(article=article)
    pick = CommentFactory(article=article)
    moderation.feature([pick], by=moderator)
    page = threads.render_page(article, use_cache=False)
    assert f'href="{threads.comment_url(pick)}"' in page.featured


def test_pick_text_is_escaped_and_long_text_is_cut(client, article, moderator):
    long_body = "word " * 200
    pick = CommentFactory(article=article, author_name="<b>Eve</b>", body=long_body)
    moderation.feature([pick], by=moderator)
    content = client.get(article.get_absolute_url()).content.decode()
    assert "<b>Eve</b>" not in content
    [(author, excerpt, _href)] = picks_of(parse(content))
    assert author == "<b>Eve</b>"
    assert excerpt.endswith("word…")
    assert len(excerpt) <= rendering.EXCERPT_CHARS


def test_excerpt_keeps_short_text_and_cuts_at_a_word():
    assert rendering.excerpt("  short\n text ") == "short text"
    assert rendering.excerpt("alpha beta gamma", length=12) == "alpha beta…"
    assert rendering.excerpt("x" * 50, length=10) == "x" * 9 + "…"


# --- only approved, and out at once ------------------------------------------------------
def test_only_approved_comments_can_be_featured(article, moderator):
    approved = CommentFactory(article=article)
    others = [CommentFactory(article=article, status=status) for status in Status.values]
    others = [comment for comment in others if comment.status != Status.APPROVED]
    count = moderation.feature([approved, *others], by=moderator)
    assert count == 1
    assert list(Comment.objects.filter(featured_at__isnull=False)) == [approved]
    approved.refresh_from_db()
    assert approved.featured_by == moderator


def test_featuring_an_editors_pick_again_changes_nothing(article, moderator):
    pick = CommentFactory(article=article)
    moderation.feature([pick], by=moderator)
    pick.refresh_from_db()
    first_time = pick.featured_at
    assert moderation.feature(Comment.objects.filter(pk=pick.pk), by=moderator) == 0
    pick.refresh_from_db()
    assert pick.featured_at == first_time


def test_feature_and_unfeature_are_logged_per_comment(article, moderator):
    picks = [CommentFactory(article=article) for _ in range(2)]
    moderation.feature(Comment.objects.filter(pk__in=[c.pk for c in picks]), by=moderator)
    moderation.unfeature(picks[:1], by=moderator)
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Comment), user=moderator
    )
    messages = sorted((int(e.object_id), e.change_message) for e in entries)
    assert messages == sorted(
        [
            (picks[0].pk, "Featured as an editors' pick."),
            (picks[1].pk, "Featured as an editors' pick."),
            (picks[0].pk, "No longer an editors' pick."),
        ]
    )


def test_feature_and_unfeature_take_keyword_only_by(article):
    pick = CommentFactory(article=article)
    with pytest.raises(TypeError):
        moderation.feature([pick], None)
    with pytest.raises(TypeError):
        moderation.unfeature([pick])


def test_unfeaturing_takes_the_pick_out_of_the_cached_page_at_once(client, article, moderator):
    pick = CommentFactory(article=article, author_name="Ada")
    moderation.feature([pick], by=moderator)
    assert [a for a, _e, _h in picks_of(article_page(client, article))] == ["Ada"]
    assert [a for a, _e, _h in picks_of(article_page(client, article))] == ["Ada"]  # cached

    assert moderation.unfeature([pick], by=moderator) == 1
    doc = article_page(client, article)
    assert featured_section(doc) is None
    assert badges_in_thread(doc, pick) == []


@pytest.mark.parametrize("take_out", [moderation.remove, moderation.mark_spam, moderation.restore])
def test_a_pick_taken_out_of_public_view_leaves_the_cached_page_at_once(
    client, article, moderator, take_out
):
    pick = CommentFactory(article=article, author_name="Ada")
    CommentFactory(article=article, parent=pick)  # so a removed pick stands as a placeholder
    moderation.feature([pick], by=moderator)
    article_page(client, article)  # cached

    take_out([pick], by=moderator)
    doc = article_page(client, article)
    assert featured_section(doc) is None
    li = doc.find(f".//h:li[@id='comment-{pick.pk}']", NS)
    assert "placeholder" in classes(li)
    body = li.find("h:div", NS)  # the placeholder's own body, not its replies
    assert not [s for s in body.iter(f"{{{NS['h']}}}span") if "comment-badge" in classes(s)]


def test_approving_a_removed_pick_again_brings_it_back(client, article, moderator):
    pick = CommentFactory(article=article, author_name="Ada")
    moderation.feature([pick], by=moderator)
    moderation.remove([pick], by=moderator)
    assert featured_section(article_page(client, article)) is None
    moderation.approve([pick], by=moderator)
    assert [a for a, _e, _h in picks_of(article_page(client, article))] == ["Ada"]


def test_unfeaturing_a_removed_pick_keeps_it_out_when_approved_again(article, moderator):
    pick = CommentFactory(article=article)
    moderation.feature([pick], by=moderator)
    moderation.remove([pick], by=moderator)
    assert moderation.unfeature([pick], by=moderator) == 1
    moderation.approve([pick], by=moderator)
    assert threads.render_page(article, use_cache=False).featured == ""


def test_a_reader_sees_no_badge_on_their_own_held_comment_that_was_a_pick(article, moderator):
    pick = CommentFactory(article=article)
    moderation.feature([pick], by=moderator)
    moderation.restore([pick], by=moderator)  # held again
    page = threads.render_page(
        article, viewer=threads.Viewer(own_ids=frozenset([pick.pk])), use_cache=False
    )
    assert "comment-badge-featured" not in page.html
    assert page.featured == ""


# --- queries ---------------------------------------------------------------------------
def build(article, parents):
    builder = Builder(progress=False)
    builder.write(builder.comments(article, parents), label="test")
    builder.finish()


def queries_for(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_article_page_query_count_with_picks_does_not_grow(client, moderator, settings):
    settings.COMMENTS_THREADS_PER_PAGE = 20
    # The reaction counts are read at most once per period and article: read them on
    # every view here, so that each view makes the same queries.
    settings.COMMENTS_REACTION_COUNTS_SECONDS = 0
    plain, featured = ArticleFactory(), ArticleFactory()
    build(plain, random_parents(300, seed=1))
    build(featured, random_parents(300, seed=1))
    # Ten picks, by staff and by the article's author, across several comments pages.
    picks = list(Comment.objects.filter(article=featured).order_by("?")[:10])
    staff = StaffFactory()
    Comment.objects.filter(pk__in=[p.pk for p in picks[:5]]).update(user=staff)
    Comment.objects.filter(pk__in=[p.pk for p in picks[5:]]).update(user=featured.author)
    moderation.feature(picks, by=moderator)

    without = queries_for(client, plain.get_absolute_url())
    with_picks = queries_for(client, featured.get_absolute_url())
    assert with_picks == without
    assert len(picks_of(parse(client.get(featured.get_absolute_url())))) == 10
    assert queries_for(client, featured.get_absolute_url() + "?cpage=3") == without


def test_render_with_picks_is_three_queries(article, moderator, django_assert_num_queries):
    CommentFactory(article=article)
    pick = CommentFactory(article=article, user=StaffFactory())
    moderation.feature([pick], by=moderator)
    with django_assert_num_queries(3):  # thread sizes, rows (with staff), the picks
        page = threads.render_page(article, use_cache=False)
    assert "comment-badge-staff" in page.featured
    assert "comment-badge-featured" in page.html


# --- a site's own templates -------------------------------------------------------------
@pytest.fixture
def site_templates(tmp_path, settings):
    """A site's own template directory before the app's (tests/test_theming.py)."""
    (tmp_path / "comments").mkdir()
    templates = copy.deepcopy(settings.TEMPLATES)
    for backend in templates:
        backend["DIRS"] = [tmp_path, *backend["DIRS"]]
    settings.TEMPLATES = templates
    return tmp_path / "comments"


def test_a_site_featured_template_replaces_the_section(client, article, moderator, site_templates):
    pick = CommentFactory(article=article, author_name="Ada", user=StaffFactory())
    moderation.feature([pick], by=moderator)
    (site_templates / "featured.html").write_text(
        '<aside id="picks">{% for pick in picks[:3] %}<a class="pick" href="{{ pick.url }}">'
        '{{ pick.author_name }}{% if pick.by_staff %} ({{ _("Staff") }}){% endif %}</a>'
        "{% endfor %}</aside>"
    )
    doc = article_page(client, article)
    assert featured_section(doc) is None
    [link] = doc.findall(".//h:aside[@id='picks']/h:a", NS)
    assert (text_of(link), link.get("href")) == ("Ada (Staff)", f"#comment-{pick.pk}")


def test_a_site_comment_template_gets_the_badges(client, article, moderator, site_templates):
    pick = CommentFactory(article=article, user=article.author)
    plain = CommentFactory(article=article)
    moderation.feature([pick], by=moderator)
    (site_templates / "comment.html").write_text(
        '<p class="mine" data-featured="{{ is_featured }}" data-author="{{ by_author }}"'
        ' data-staff="{{ by_staff }}">{{ comment.author_name }}</p>'
    )
    doc = article_page(client, article)
    found = [
        (p.get("data-featured"), p.get("data-author"), p.get("data-staff"))
        for p in doc.iter(f"{{{NS['h']}}}p")
        if "mine" in classes(p)
    ]
    # In thread order: the pick (by the article's author), then the plain comment.
    assert [pick.pk, plain.pk] == sorted([pick.pk, plain.pk])
    assert found == [("True", "True", "False"), ("False", "False", "False")]


# --- the admin ---------------------------------------------------------------------------
def test_moderator_features_and_unfeatures_from_the_queue(moderator_client, article):
    picks = [CommentFactory(article=article) for _ in range(2)]
    pending = CommentFactory(article=article, status=Status.PENDING)
    selected = [str(c.pk) for c in [*picks, pending]]
    response = moderator_client.post(
        reverse(CHANGELIST) + "?status=all",
        {"action": "feature_selected", "_selected_action": selected},
        follow=True,
    )
    assert response.status_code == 200
    assert "2 comments are now editors' picks." in messages_of(response)
    assert "1 comment was not featured: only approved comments can be." in messages_of(response)
    assert set(Comment.objects.filter(featured_at__isnull=False)) == set(picks)

    response = moderator_client.post(
        reverse(CHANGELIST) + "?status=all",
        {"action": "unfeature_selected", "_selected_action": selected},
        follow=True,
    )
    assert "2 comments are no longer editors' picks." in messages_of(response)
    assert not Comment.objects.filter(featured_at__isnull=False).exists()


def test_queue_marks_editors_picks(moderator_client, article, moderator):
    pick = CommentFactory(article=article)
    plain = CommentFactory(article=article)
    hidden = CommentFactory(article=article)
    moderation.feature([pick, hidden], by=moderator)
    moderation.remove([hidden], by=moderator)
    doc = parse(moderator_client.get(reverse(CHANGELIST), {"status": "all"}).content.decode())

    def mark(comment):
        row = next(
            tr
            for tr in doc.iter(f"{{{NS['h']}}}tr")
            if tr.find(f".//h:input[@value='{comment.pk}']", NS) is not None
        )
        cell = row.find(".//h:td[@class='field-featured_mark']", NS)
        return [text_of(child) for child in cell if child.tag != f"{{{NS['h']}}}br"] or [
            text_of(cell)
        ]

    assert mark(pick) == ["★ Editors' pick"]
    assert mark(hidden) == [
        "★ Editors' pick",
        "not shown to readers while the comment is not approved",
    ]
    assert mark(plain) == ["-"]


def test_feature_button_on_the_change_page_features_then_unfeatures(
    moderator_client, article, moderator
):
    comment = CommentFactory(article=article)
    change_url = reverse("admin:comments_comment_change", args=[comment.pk])
    doc = parse(moderator_client.get(change_url))
    button = doc.find(".//h:button[@id='feature-button']", NS)
    assert button.get("name") == "_feature"
    assert button.get("value") == "feature"
    assert button.get("data-featured") == "false"
    form = doc.find(".//h:form[@class='comment-moderation-form comment-feature-form']", NS)
    assert form.get("action") == reverse("admin:comments_comment_feature", args=[comment.pk])

    response = moderator_client.post(form.get("action"), {"_feature": "feature"}, follow=True)
    assert response.redirect_chain[-1][0] == change_url
    assert "1 comment is now an editors' pick." in messages_of(response)
    comment.refresh_from_db()
    assert comment.featured_at is not None and comment.featured_by == moderator

    doc = parse(response.content.decode())
    button = doc.find(".//h:button[@id='feature-button']", NS)
    assert (button.get("value"), button.get("data-featured")) == ("unfeature", "true")
    [field] = [
        div for div in doc.iter(f"{{{NS['h']}}}div") if "field-featured_state" in classes(div)
    ]
    mark, since = field.find(".//h:span", NS), field.find(".//h:small", NS)
    assert text_of(mark) == "★ Editors' pick"
    assert text_of(since).startswith("since ")
    assert text_of(since).endswith(f", by {moderator.username}")
    moderator_client.post(form.get("action"), {"_feature": "unfeature"})
    comment.refresh_from_db()
    assert comment.featured_at is None


def test_no_feature_button_on_a_pending_comment(moderator_client, article):
    def button(comment):
        url = reverse("admin:comments_comment_change", args=[comment.pk])
        return parse(moderator_client.get(url)).find(".//h:button[@id='feature-button']", NS)

    assert button(CommentFactory(article=article, status=Status.PENDING)) is None
    assert button(CommentFactory(article=article)) is not None  # an approved one has it


def test_feature_view_refuses_get_unknown_values_and_readers_without_change_permission(
    moderator_client, article
):
    comment = CommentFactory(article=article)
    url = reverse("admin:comments_comment_feature", args=[comment.pk])
    assert moderator_client.get(url).status_code == 405
    assert moderator_client.post(url, {"_feature": "delete"}).status_code == 403

    viewer = StaffFactory(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_comment"))
    client = Client()
    client.force_login(viewer)
    assert client.post(url, {"_feature": "feature"}).status_code == 403
    response = client.get(reverse("admin:comments_comment_change", args=[comment.pk]))
    assert response.status_code == 200
    assert b'id="feature-button"' not in response.content
    comment.refresh_from_db()
    assert comment.featured_at is None


def test_reader_is_not_let_into_the_feature_view(article):
    comment = CommentFactory(article=article)
    client = Client()
    client.force_login(UserFactory())
    url = reverse("admin:comments_comment_feature", args=[comment.pk])
    response = client.post(url, {"_feature": "feature"})
    assert response.status_code == 302  # the admin's login page
    comment.refresh_from_db()
    assert comment.featured_at is None
