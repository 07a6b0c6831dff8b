"""The demo discussions make sense: every reply is on its parent's article, and whoever a
comment addresses by name is someone earlier in its thread."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from articles.models import Article
from comments.models import Comment

pytestmark = pytest.mark.django_db

# "Name, …" / "Name: …" at the start of a body, or "@Name" anywhere.
OPENING_NAME_RE = re.compile(r"^@?([A-Z][\w'-]*)\s*[,:]")
AT_NAME_RE = re.compile(r"(?<![\w@])@([A-Za-z][\w'-]*)")
# Capitalised words that open a sentence with a comma without addressing anyone.
SENTENCE_OPENERS = {
    "Actually", "Agreed", "Also", "Anyway", "Fair", "Frankly", "Great", "Honestly", "Indeed",
    "Interesting", "No", "Ok", "Okay", "Right", "Same", "Still", "Sure", "Thanks", "True",
    "Well", "Yes",
}  # fmt: skip


def addressed_names(body):
    """The names a comment body addresses: an opening "Name," or "@Name", and "@Name"."""
    names = set(AT_NAME_RE.findall(body))
    opening = OPENING_NAME_RE.match(body)
    if opening and opening.group(1) not in SENTENCE_OPENERS:
        names.add(opening.group(1))
    return names


def names_of(author_name):
    """The ways to address someone: the whole name and its first word."""
    return {author_name, author_name.split()[0]} if author_name.strip() else set()


@pytest.fixture
def demo(settings):
    settings.DEBUG = False
    call_command("seed_demo", stdout=StringIO())
    comments = {c.pk: c for c in Comment.objects.select_related("article")}
    assert comments, "the demo has discussions"
    return comments


def ancestors(comment, comments):
    parent_id = comment.parent_id
    while parent_id is not None:
        parent = comments[parent_id]
        yield parent
        parent_id = parent.parent_id


def test_addressed_names_are_read_from_the_start_of_a_body_and_from_at_mentions():
    assert addressed_names("Mark, the fact is I went through one.") == {"Mark"}
    assert addressed_names("@Lena thanks. Also @James.") == {"Lena", "James"}
    assert addressed_names("Honestly, these courses are worth nothing.") == set()
    assert addressed_names("Mentors. That's what the fee buys.") == set()
    assert addressed_names("Mail me at someone@example.com, please.") == set()


def test_every_demo_reply_is_on_its_parents_article(demo):
    replies = [c for c in demo.values() if c.parent_id is not None]
    assert replies
    for reply in replies:
        parent = demo[reply.parent_id]
        assert reply.article_id == parent.article_id, (
            f"#{reply.pk} on {reply.article.slug}, its parent #{parent.pk} on {parent.article.slug}"
        )
        assert reply.tree_id == parent.tree_id


def test_every_name_a_demo_comment_addresses_is_an_author_in_its_thread(demo):
    addressing = 0
    for comment in demo.values():
        names = addressed_names(comment.body)
        addressing += bool(names)
        in_thread = set().union(*(names_of(a.author_name) for a in ancestors(comment, demo)))
        assert names <= in_thread, (
            f"#{comment.pk} on {comment.article.slug} addresses {sorted(names - in_thread)}, "
            f"who is not earlier in its thread ({sorted(in_thread)}): {comment.body!r}"
        )
    assert addressing >= 3, "the demo shows readers answering each other by name"


def test_demo_discussions_are_not_copied_between_articles(demo):
    """Each article's discussion is its own: no body appears on two articles."""
    articles_by_body = {}
    for comment in demo.values():
        articles_by_body.setdefault(comment.body, set()).add(comment.article_id)
    copied = {body: ids for body, ids in articles_by_body.items() if len(ids) > 1}
    assert copied == {}


def test_seed_demo_twice_adds_and_changes_nothing(demo):
    articles = list(Article.objects.order_by("pk").values_list("pk", "body_html", "updated_at"))
    comments = list(Comment.objects.order_by("pk").values_list("pk", "body_html", "lft", "rght"))
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "0 article(s) and 0 comment(s) created, 0 article(s) re-rendered" in out.getvalue()
    assert list(Article.objects.order_by("pk").values_list("pk", "body_html", "updated_at")) == (
        articles
    )
    assert list(Comment.objects.order_by("pk").values_list("pk", "body_html", "lft", "rght")) == (
        comments
    )


def test_the_demo_shows_an_editors_pick_and_the_authors_badge(demo, client):
    article = Article.objects.get(slug="coding-bootcamps-worth-it")
    html = client.get(article.get_absolute_url()).content.decode()
    assert 'id="featured-comments"' in html
    assert "comment-badge-author" in html
    assert "comment-badge-featured" in html
