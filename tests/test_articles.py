"""Articles: visibility, the home list, feeds, sitemap, Markdown safety, admin, demo content."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import timedelta
from io import StringIO
from pathlib import Path

import feedparser
import html5lib
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from articles.rendering import render_markdown
from comments.models import Comment
from tests.factories import ArticleFactory, CommentFactory, StaffFactory

pytestmark = pytest.mark.django_db

NS = {"h": "http://www.w3.org/1999/xhtml"}
ROOT = Path(__file__).resolve().parent.parent


def parse(response):
    return html5lib.parse(response.content, namespaceHTMLElements=True)


def text_of(element):
    return " ".join("".join(element.itertext()).split())


@pytest.fixture
def draft():
    return ArticleFactory(status=Article.Status.DRAFT, title="Secret draft")


@pytest.fixture
def scheduled():
    return ArticleFactory(published_at=timezone.now() + timedelta(days=2), title="Future news")


# --- visibility ------------------------------------------------------------------
def test_published_article_is_public(client, article):
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    h1s = parse(response).findall(".//h:h1", NS)
    assert [text_of(h) for h in h1s] == [article.title]


def test_the_page_cache_version_follows_the_published_rule(article, draft, scheduled):
    just_now = ArticleFactory(published_at=timezone.now() - timedelta(seconds=1))
    for candidate in (article, draft, scheduled, just_now):
        public = Article.objects.published().filter(pk=candidate.pk).exists()
        assert (Article.objects.public_version(candidate.slug) is not None) == public
    assert Article.objects.public_version("no-such-article") is None

    before = Article.objects.public_version(article.slug)
    assert before[:2] == (article.pk, article.comments_version)
    Article.objects.filter(pk=article.pk).update(comments_version=article.comments_version + 1)
    bumped = Article.objects.public_version(article.slug)
    assert bumped[1] == before[1] + 1
    article.refresh_from_db()
    article.title = "Edited"
    article.save()
    assert Article.objects.public_version(article.slug)[2] != bumped[2]  # updated_at moved


@pytest.mark.parametrize("fixture", ["draft", "scheduled"])
def test_unpublished_articles_are_404_for_the_public(client, request, fixture):
    article = request.getfixturevalue(fixture)
    assert client.get(article.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("fixture", ["draft", "scheduled"])
def test_staff_preview_unpublished_articles_with_a_banner(client, request, fixture):
    article = request.getfixturevalue(fixture)
    client.force_login(StaffFactory())
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    banner = parse(response).find(".//h:p[@class='preview-banner']", NS)
    assert banner is not None and "Preview" in text_of(banner)


def test_published_queryset_excludes_drafts_and_scheduled(article, draft, scheduled):
    assert list(Article.objects.published()) == [article]


def test_home_lists_only_published_articles_newest_first(client, draft, scheduled):
    now = timezone.now()
    old = ArticleFactory(title="Old", published_at=now - timedelta(days=5))
    new = ArticleFactory(title="New", published_at=now - timedelta(hours=1))
    response = client.get("/")
    titles = [text_of(a) for a in parse(response).findall(".//h:article/h:h2/h:a", NS)]
    assert titles == [new.title, old.title]


# --- pagination ----------------------------------------------------------------
@pytest.fixture
def twelve_articles():
    now = timezone.now()
    return [
        ArticleFactory(title=f"Story {i}", published_at=now - timedelta(hours=i)) for i in range(12)
    ]


def home_titles(client, query=""):
    response = client.get("/" + query)
    return response, [text_of(a) for a in parse(response).findall(".//h:article/h:h2/h:a", NS)]


def test_home_shows_ten_articles_per_page(client, twelve_articles):
    _, first = home_titles(client)
    _, second = home_titles(client, "?page=2")
    assert first == [f"Story {i}" for i in range(10)]
    assert second == ["Story 10", "Story 11"]


@pytest.mark.parametrize("page", ["abc", "0", "-1", "99", "2.5", ""])
def test_bad_page_numbers_show_the_nearest_valid_page(client, twelve_articles, page):
    response, titles = home_titles(client, f"?page={page}")
    assert response.status_code == 200
    assert titles  # never an empty page or an error


def test_home_comment_counts_come_from_the_list_query(
    client, twelve_articles, django_assert_max_num_queries
):
    for article in twelve_articles[:5]:
        for _ in range(3):
            CommentFactory(article=article)
    with django_assert_max_num_queries(4):
        response = client.get("/")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("approved", "other", "label"),
    [(0, 2, "No Responses"), (1, 1, "1 Response"), (6, 3, "6 Responses")],
)
def test_home_count_wording_counts_approved_comments_only(client, article, approved, other, label):
    for _ in range(approved):
        CommentFactory(article=article)
    statuses = [Comment.Status.PENDING, Comment.Status.SPAM, Comment.Status.REMOVED]
    for i in range(other):
        CommentFactory(article=article, status=statuses[i % 3])
    link = parse(client.get("/")).find(".//h:a[@class='comment-count']", NS)
    assert text_of(link) == label


# --- feeds and sitemap ------------------------------------------------------------
def test_rss_feed_lists_published_articles(client, article, draft, scheduled):
    feed = feedparser.parse(client.get(reverse("articles:feed")).content)
    assert feed.version.startswith("rss")
    assert [entry.title for entry in feed.entries] == [article.title]
    assert feed.entries[0].link.endswith(article.get_absolute_url())


def test_atom_feed_lists_published_articles(client, article, draft, scheduled):
    feed = feedparser.parse(client.get(reverse("articles:feed-atom")).content)
    assert feed.version == "atom10"
    assert [entry.title for entry in feed.entries] == [article.title]


def test_sitemap_lists_published_articles_only(client, article, draft, scheduled):
    root = ET.fromstring(client.get("/sitemap.xml").content)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locations = [loc.text for loc in root.findall(".//s:loc", ns)]
    assert len(locations) == 1 and locations[0].endswith(article.get_absolute_url())


def test_robots_txt_points_to_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response["Content-Type"].startswith("text/plain")
    assert "Sitemap:" in response.content.decode()


# --- Markdown safety ---------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<style>body{display:none}</style>",
        '<img src="x.png" alt="x" onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        '<p onclick="alert(1)">hi</p>',
        '<iframe src="https://evil.example"></iframe>',
    ],
)
def test_markdown_rendering_strips_dangerous_markup(source):
    html = render_markdown(source).lower()
    for bad in ("<script", "<style", "onerror", "onclick", "javascript:", "<iframe"):
        assert bad not in html


def test_markdown_keeps_the_allowlisted_markup():
    html = render_markdown(
        "## Heading\n\n- one\n- *two*\n\n> quote\n\n`code` [link](https://example.com) "
        "![alt text](https://example.com/a.png)"
    )
    for good in ("<h2>", "<ul>", "<em>", "<blockquote>", "<code>", 'href="https://example.com"'):
        assert good in html
    assert 'alt="alt text"' in html


def test_body_html_is_rendered_on_save(article):
    article.body = "**bold**"
    article.save()
    assert "<strong>bold</strong>" in article.body_html


HEADINGS = {f"h{n}": n for n in range(1, 7)}


def heading_levels(html_or_element):
    """Levels of the headings, in document order (of parsed HTML or of an element)."""
    root = (
        html5lib.parseFragment(html_or_element, namespaceHTMLElements=True)
        if isinstance(html_or_element, str)
        else html_or_element
    )
    tags = (el.tag.rpartition("}")[2] for el in root.iter() if isinstance(el.tag, str))
    return [HEADINGS[tag] for tag in tags if tag in HEADINGS]


@pytest.mark.parametrize(
    ("source", "levels"),
    [
        ("### Only h3\n\ntext", [2]),
        ("# One\n\n## Two\n\n# One again", [2, 3, 2]),
        ("## Two\n\n### Three", [2, 3]),
        ("#### Four\n\n###### Six\n\n##### Five", [2, 4, 3]),
        ("# One\n\n###### Six", [2, 6]),
        ("Setext heading\n==============\n\nSub\n---", [2, 3]),
        ('<h4 class="x">raw HTML</h4>\n\n##### Markdown', [2, 3]),
        ("No heading at all.", []),
    ],
    ids=["h3-only", "h1-h2", "h2-h3", "h4-h6-h5", "h6-capped", "setext", "raw-html", "none"],
)
def test_body_headings_start_at_h2_whatever_level_the_author_typed(source, levels):
    """The page's h1 is the title: the body's highest heading becomes h2, the others keep
    their levels relative to it, never beyond h6."""
    assert heading_levels(render_markdown(source)) == levels


def test_heading_like_text_in_code_is_not_shifted():
    html = render_markdown("### Real\n\n    <h3>in code</h3>\n\n`<h4>` inline")
    assert heading_levels(html) == [2]
    assert "&lt;h3&gt;in code&lt;/h3&gt;" in html and "<code>&lt;h4&gt;</code>" in html


def test_article_page_has_one_h1_and_body_headings_below_it(client):
    article = ArticleFactory(body="### What made the difference\n\ntext\n\n#### Detail")
    doc = parse(client.get(article.get_absolute_url()))
    body = doc.find(".//h:div[@class='article-body']", NS)
    assert heading_levels(doc).count(1) == 1
    assert heading_levels(doc)[:3] == [1, 2, 3]  # title, body; then the comment section's
    assert heading_levels(body) == [2, 3]


def test_seed_demo_re_renders_demo_articles_stored_with_old_html(settings):
    settings.DEBUG = False
    call_command("seed_demo", stdout=StringIO())
    demo = Article.objects.get(slug="coding-bootcamps-worth-it")
    fresh = demo.body_html
    old = fresh.replace("<h2>", "<h3>").replace("</h2>", "</h3>")
    assert old != fresh
    Article.objects.filter(pk=demo.pk).update(body_html=old)
    out = StringIO()
    call_command("seed_demo", stdout=out)
    demo.refresh_from_db()
    assert demo.body_html == fresh
    assert "1 article(s) re-rendered" in out.getvalue()


# --- pages ---------------------------------------------------------------------------
def test_404_page_uses_the_site_look(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    doc = parse(response)
    assert doc.find(".//h:header[@class='site-header']", NS) is not None
    assert text_of(doc.find(".//h:h1", NS)) == "Page not found"


def test_article_page_has_canonical_and_open_graph_tags(client, article):
    doc = parse(client.get(article.get_absolute_url()))
    canonical = doc.find(".//h:link[@rel='canonical']", NS)
    assert canonical.get("href").endswith(article.get_absolute_url())
    assert doc.find(".//h:meta[@property='og:title']", NS).get("content") == article.title


def test_base_template_has_landmarks_and_a_skip_link(client, article):
    doc = parse(client.get(article.get_absolute_url()))
    assert doc.get("lang") == "en"
    for tag in ("header", "main", "footer", "nav"):
        assert doc.find(f".//h:{tag}", NS) is not None
    assert doc.find(".//h:a[@class='skip-link']", NS).get("href") == "#main"


def test_author_is_shown_by_full_name_falling_back_to_username(article):
    assert article.author_display_name == article.author.get_full_name()
    article.author.first_name = article.author.last_name = ""
    assert article.author_display_name == article.author.username


# --- admin ------------------------------------------------------------------------------
def test_admin_article_pages_load_for_staff(client, superuser, article):
    client.force_login(superuser)
    assert client.get(reverse("admin:articles_article_changelist")).status_code == 200
    assert client.get(reverse("admin:articles_article_add")).status_code == 200
    change = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    assert change.status_code == 200


def test_admin_add_defaults_the_author_to_the_logged_in_user(client, superuser):
    client.force_login(superuser)
    response = client.get(reverse("admin:articles_article_add"))
    assert response.context["adminform"].form.initial["author"] == superuser.pk


def test_admin_list_shows_approved_comment_counts(client, superuser, article):
    CommentFactory(article=article)
    CommentFactory(article=article, status=Comment.Status.PENDING)
    client.force_login(superuser)
    response = client.get(reverse("admin:articles_article_changelist"))
    row = response.context["cl"].result_list[0]
    assert row.approved_count == 1 and row.pending_count == 1


# --- demo content and settings ---------------------------------------------------------
def test_seed_demo_is_idempotent(settings):
    settings.DEBUG = False
    call_command("seed_demo", stdout=StringIO())
    counts = (Article.objects.count(), Comment.objects.count())
    snapshot = list(Comment.objects.values_list("pk", "status", "lft", "rght", "tree_id"))
    call_command("seed_demo", stdout=StringIO())
    assert (Article.objects.count(), Comment.objects.count()) == counts
    assert list(Comment.objects.values_list("pk", "status", "lft", "rght", "tree_id")) == snapshot
    assert Article.objects.filter(status=Article.Status.DRAFT).exists()
    assert Article.objects.filter(published_at__gt=timezone.now()).exists()
    assert Comment.objects.filter(level__gte=3).exists()


def test_seed_demo_never_creates_a_user_with_debug_off(settings):
    from django.contrib.auth import get_user_model

    settings.DEBUG = False
    call_command("seed_demo", stdout=StringIO())
    assert not get_user_model().objects.filter(is_superuser=True).exists()


def test_seed_demo_creates_an_admin_with_a_random_password_in_debug(settings, capsys):

    from django.contrib.auth import get_user_model

    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    admin = get_user_model().objects.get(username="admin")
    password = out.getvalue().split("password: ")[1].split()[0]
    assert admin.check_password(password) and len(password) >= 12
    out2 = StringIO()
    call_command("seed_demo", stdout=out2)
    assert "password" not in out2.getvalue()


def run_settings(env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "site_config.settings"},
        capture_output=True,
        text=True,
    )


def test_site_refuses_to_start_with_debug_off_and_no_secret_key():
    result = run_settings({})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_site_starts_with_debug_on_and_no_secret_key():
    assert run_settings({"DJANGO_DEBUG": "1"}).returncode == 0
