"""The articles app does not know the comments app: the discussion joins the article page
through the template, the comments app's URLs and the hooks it registers."""

import ast
from pathlib import Path

import feedparser
import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import CommentFactory
from tests.html import NS, parse, text_of

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module or ""
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            yield str(node.args[0].value)


def test_no_module_of_the_articles_app_imports_the_comments_app():
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "articles").rglob("*.py"))
        for module in imported_modules(path)
        if module == "comments" or module.startswith("comments.")
    ]
    assert offenders == []


def test_the_boundary_check_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from comments.models import Comment\n")
    assert list(imported_modules(sample)) == ["comments.models"]


@pytest.mark.django_db
def test_the_article_comment_feed_is_served_by_the_comments_app(client, article):
    comment = CommentFactory(article=article, body="In the feed.")
    url = reverse("comments:article-feed", args=[article.slug])
    assert url.startswith("/comments/")
    feed = feedparser.parse(client.get(url).content)
    assert [entry.link for entry in feed.entries] == [
        f"http://testserver{comment.get_absolute_url()}"
    ]


@pytest.mark.django_db
def test_the_old_article_comment_feed_address_redirects_for_good(client, article):
    response = client.get(f"/articles/{article.slug}/comments/feed/")
    assert response.status_code == 301
    assert response["Location"] == reverse("comments:article-feed", args=[article.slug])


@pytest.mark.django_db
def test_the_article_page_links_the_comment_feed_where_it_lives(article):
    doc = parse(Client().get(article.get_absolute_url()))
    links = [
        link.get("href")
        for link in doc.iterfind(".//h:link[@rel='alternate']", NS)
        if link.get("type") == "application/rss+xml"
    ]
    assert reverse("comments:article-feed", args=[article.slug]) in links


@pytest.mark.django_db
def test_the_home_page_counts_come_from_the_comments_app(client, article):
    CommentFactory(article=article)
    CommentFactory(article=article)
    doc = parse(client.get("/"))
    (count,) = doc.iterfind(".//h:a[@class='comment-count']", NS)
    assert text_of(count) == "2 Responses"
