"""``manage.py export_wxr``: articles, authors and comments as a WordPress WXR 1.2 file,
which ``import_wxr`` reads back into the same articles and comments."""

import io
from datetime import UTC, datetime, timedelta
from io import StringIO
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from articles.models import Article, Section, Tag
from comments.models import Comment, Commenter
from comments.wxr.export import export_wxr
from comments.wxr.mapping import site_key
from comments.wxr.markup import comment_html, html_to_text
from tests.factories import ArticleFactory, CommentFactory, UserFactory

pytestmark = pytest.mark.django_db

NS = {
    "wp": "http://wordpress.org/export/1.2/",
    "excerpt": "http://wordpress.org/export/1.2/excerpt/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
}
T0 = datetime(2024, 3, 1, 9, 30, 15, tzinfo=UTC)  # whole seconds: WXR dates have no fraction
ARTICLE_FIELDS = [
    "title",
    "slug",
    "summary",
    "body",
    "body_html",
    "status",
    "published_at",
    "comments_open",
    "author_id",
    "section__slug",
    "section__name",
    "section__description",
]
COMMENT_FIELDS = [
    "author_name",
    "author_email",
    "author_url",
    "ip_address",
    "user_id",
    "body",
    "body_html",
    "body_is_html",
    "status",
    "created_at",
]


def export(tmp_path, *args, name="out.xml"):
    path = tmp_path / name
    out = StringIO()
    call_command("export_wxr", *args, str(path), stdout=out)
    return path, out.getvalue()


def parse(path):
    return ElementTree.parse(path).getroot()


@pytest.fixture
def site():
    """Two authors, three articles (published with a thread, draft, scheduled and closed)."""
    editor = UserFactory(username="editor", first_name="Élodie", last_name="Éditrice")
    writer = UserFactory(username="writer", first_name="", last_name="")
    reader = UserFactory(username="reader")
    news = ArticleFactory(
        title="Cats & dogs <together>",
        slug="cats-and-dogs",
        author=editor,
        summary="Who wins?\n\nNobody & everybody.",
        body="Intro with *Markdown*.\n\n- one\n- two\n\n```\ncode ]]> here\n```",
        published_at=T0,
    )
    draft = ArticleFactory(
        title="Draft", slug="draft", author=writer, status=Article.Status.DRAFT, published_at=T0
    )
    later = ArticleFactory(
        title="Later",
        slug="later",
        author=editor,
        published_at=(timezone.now() + timedelta(days=3)).replace(microsecond=0),
        comments_open=False,
    )
    root = CommentFactory(
        article=news,
        author_name="Ann <b>& co</b>",
        author_email="ann@example.org",
        author_url="https://ann.example.org/",
        ip_address="2001:db8::1",
        body="First ]]> with <tags> &amp; entities.\n\nSecond paragraph\nwith a break.",
        created_at=T0 + timedelta(minutes=1),
    )
    reply = CommentFactory(
        article=news,
        parent=root,
        author_name="Reader",
        author_email="reader@example.com",
        user=reader,
        body="A reply https://example.com/x",
        created_at=T0 + timedelta(minutes=2),
        status=Comment.Status.PENDING,
    )
    CommentFactory(article=news, parent=reply, created_at=T0 + timedelta(minutes=3))
    CommentFactory(article=news, status=Comment.Status.SPAM, created_at=T0 + timedelta(minutes=4))
    CommentFactory(
        article=news,
        parent=root,
        status=Comment.Status.REMOVED,
        ip_address=None,
        created_at=T0 + timedelta(minutes=5),
    )
    CommentFactory(article=draft, created_at=T0 + timedelta(hours=1))
    imported = '<p>Look:  <a href="https://x.example/">x</a> &amp; co</p><script>no</script>\n\n'
    imported += "<blockquote>Quoted<br>\ntext</blockquote><h2>Heading</h2><ul><li>item</li></ul>"
    CommentFactory(  # a comment imported with its HTML (comments.wxr, body_is_html)
        article=news,
        body=html_to_text(imported),
        body_html=comment_html(imported),
        body_is_html=True,
        created_at=T0 + timedelta(minutes=6),
    )
    news.section = Section.objects.create(
        name="News & <views>", slug="news", description="What happened.\n\nAnd why."
    )
    news.save()
    draft.section = Section.objects.create(name="Opinion", slug="opinion")
    draft.save()
    Section.objects.create(name="Unused", slug="unused")
    news.tags.add(
        Tag.objects.create(name="Cats", slug="cats"), Tag.objects.create(name="Dogs", slug="dogs")
    )
    draft.tags.add(Tag.objects.get(slug="cats"))
    return {"news": news, "draft": draft, "later": later}


def snapshot():
    articles = {a["slug"]: a for a in Article.objects.values("pk", *ARTICLE_FIELDS).order_by("pk")}
    for article in Article.objects.prefetch_related("tags"):
        articles[article.slug]["tags"] = sorted((t.slug, t.name) for t in article.tags.all())
    comments = {
        c["pk"]: c
        for c in Comment.objects.values("pk", "parent_id", "article__slug", *COMMENT_FIELDS)
    }
    return articles, comments


def wipe():
    """An empty threadpress, but for the users: replies before their parents (PROTECT)."""
    while Comment.objects.exists():
        deepest = Comment.objects.order_by("-level").values_list("level", flat=True)[0]
        Comment.objects.filter(level=deepest).delete()
    Commenter.objects.all().delete()
    Article.objects.all().delete()
    Section.objects.all().delete()
    Tag.objects.all().delete()


# --- the file --------------------------------------------------------------------------
def test_the_file_has_wordpress_namespaces_channel_and_elements(site, tmp_path):
    path, output = export(tmp_path)
    assert "3 articles, 7 comments, 3 authors" in output
    text = path.read_text(encoding="utf-8")
    for prefix, uri in NS.items():
        assert f'xmlns:{prefix}="{uri}"' in text
    rss = parse(path)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel.findtext("wp:wxr_version", namespaces=NS) == "1.2"
    assert channel.findtext("wp:base_site_url", namespaces=NS)
    assert channel.findtext("wp:base_blog_url", namespaces=NS)
    assert channel.findtext("generator") == "threadpress"
    logins = [
        a.findtext("wp:author_login", namespaces=NS) for a in channel.findall("wp:author", NS)
    ]
    assert logins == ["editor", "writer", "reader"]
    items = {i.findtext("wp:post_name", namespaces=NS): i for i in channel.findall("item")}
    news = items["cats-and-dogs"]
    assert news.findtext("title") == "Cats &amp; dogs &lt;together&gt;"  # HTML, as WordPress
    assert news.findtext("dc:creator", namespaces=NS) == "editor"
    assert news.findtext("link").endswith("/cats-and-dogs/")
    assert news.findtext("pubDate") == "Fri, 01 Mar 2024 09:30:15 +0000"
    assert news.findtext("wp:post_date_gmt", namespaces=NS) == "2024-03-01 09:30:15"
    assert news.findtext("wp:post_type", namespaces=NS) == "post"
    assert "<li>one</li>" in news.findtext("content:encoded", namespaces=NS)
    assert [i.findtext("wp:status", namespaces=NS) for i in items.values()] == [
        "publish",
        "draft",
        "future",
    ]
    assert items["later"].findtext("wp:comment_status", namespaces=NS) == "closed"
    comments = news.findall("wp:comment", NS)
    approved = [c.findtext("wp:comment_approved", namespaces=NS) for c in comments]
    assert sorted(approved) == ["0", "1", "1", "1", "spam", "trash"]
    first = comments[0]
    assert first.findtext("wp:comment_author_IP", namespaces=NS) == "2001:db8::1"
    assert first.findtext("wp:comment_author_email", namespaces=NS) == "ann@example.org"
    assert first.findtext("wp:comment_parent", namespaces=NS) == "0"
    reply = next(c for c in comments if c.findtext("wp:comment_user_id", namespaces=NS) != "0")
    assert reply.findtext("wp:comment_parent", namespaces=NS) == first.findtext(
        "wp:comment_id", namespaces=NS
    )


def test_sections_and_tags_are_written_as_wordpress_categories_and_tags(site, tmp_path):
    """The channel defines the exported articles' sections (``<wp:category>``) and tags
    (``<wp:tag>``), names HTML as WordPress's are; each item names its own with
    ``<category domain=… nicename=…>``. A section no exported article is in is left out."""
    path, output = export(tmp_path)
    assert "1 sections" not in output and "2 sections, 2 tags" in output
    channel = parse(path).find("channel")
    categories = [
        [c.findtext(f"wp:{name}", namespaces=NS) for name in ("category_nicename", "cat_name")]
        for c in channel.findall("wp:category", NS)
    ]
    assert categories == [["news", "News &amp; &lt;views&gt;"], ["opinion", "Opinion"]]
    tags = [
        [t.findtext(f"wp:{name}", namespaces=NS) for name in ("tag_slug", "tag_name")]
        for t in channel.findall("wp:tag", NS)
    ]
    assert tags == [["cats", "Cats"], ["dogs", "Dogs"]]
    items = {i.findtext("wp:post_name", namespaces=NS): i for i in channel.findall("item")}
    assert [
        (c.get("domain"), c.get("nicename"), c.text)
        for c in items["cats-and-dogs"].iter("category")
    ] == [
        ("category", "news", "News &amp; &lt;views&gt;"),
        ("post_tag", "cats", "Cats"),
        ("post_tag", "dogs", "Dogs"),
    ]
    assert list(items["later"].iter("category")) == []


def test_the_markdown_source_rides_along_as_a_hidden_post_meta(site, tmp_path):
    path, _ = export(tmp_path, "--article", "cats-and-dogs")
    meta = parse(path).find("channel/item/wp:postmeta", NS)
    assert meta.findtext("wp:meta_key", namespaces=NS) == "_threadpress_markdown"
    assert meta.findtext("wp:meta_value", namespaces=NS) == site["news"].body


def test_each_comment_says_whether_it_is_plain_text_or_html_in_a_hidden_meta(site, tmp_path):
    """``_threadpress_format`` is "text" for a comment posted here (its content is the
    text, escaped) and "html" for one that kept imported HTML (its content is that HTML,
    ``_threadpress_text`` its plain text), so import_wxr gives back each as it was."""
    path, _ = export(tmp_path, "--article", "cats-and-dogs")
    kinds = {}
    for comment in parse(path).iter(f"{{{NS['wp']}}}comment"):
        meta = {
            m.findtext("wp:meta_key", namespaces=NS): m.findtext("wp:meta_value", namespaces=NS)
            for m in comment.findall("wp:commentmeta", NS)
        }
        kinds.setdefault(meta["_threadpress_format"], []).append((comment, meta))
    assert len(kinds["text"]) == 5 and len(kinds["html"]) == 1
    comment, meta = kinds["html"][0]
    stored = Comment.objects.get(body_is_html=True)
    assert comment.findtext("wp:comment_content", namespaces=NS) == stored.body_html
    assert meta["_threadpress_text"] == stored.body
    assert all("_threadpress_text" not in meta for _comment, meta in kinds["text"])


def test_text_is_escaped_and_a_cdata_terminator_survives(site, tmp_path):
    path, _ = export(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "]]>" not in text  # written as escaped text, never raw
    comment = parse(path).find("channel/item/wp:comment", NS)
    assert comment.findtext("wp:comment_content", namespaces=NS).startswith(
        "First ]]&gt; with &lt;tags&gt; &amp;amp; entities."
    )


def test_characters_xml_cannot_carry_are_dropped(tmp_path):
    ArticleFactory(title="Bell\x07 title", slug="bell")
    path, _ = export(tmp_path)
    assert parse(path).find("channel/item").findtext("title") == "Bell title"


def test_article_option_exports_only_those_articles(site, tmp_path):
    path, output = export(tmp_path, "--article", "later", "--article", "draft")
    assert "2 articles, 1 comments" in output
    items = parse(path).findall("channel/item")
    assert sorted(i.findtext("wp:post_name", namespaces=NS) for i in items) == ["draft", "later"]
    logins = {
        a.findtext("wp:author_login", namespaces=NS)
        for a in parse(path).iter(f"{{{NS['wp']}}}author")
    }
    assert logins == {"editor", "writer"}  # the reader only commented on the other article


def test_unknown_article_slug_is_refused_and_nothing_is_written(site, tmp_path):
    with pytest.raises(CommandError, match="No article with the slug nope"):
        export(tmp_path, "--article", "draft", "--article", "nope")
    assert list(tmp_path.iterdir()) == []


def test_an_output_that_cannot_be_written_is_one_message(site, tmp_path):
    with pytest.raises(CommandError, match=r"can't write it \(No such file or directory\)"):
        export(tmp_path, name="missing/out.xml")


def test_several_unknown_slugs_are_all_named(site, tmp_path):
    with pytest.raises(CommandError, match="No article with the slugs gone, nope"):
        export(tmp_path, "--article", "nope", "--article", "gone")


def test_the_file_is_written_as_it_goes(site):
    """Streamed: many small writes as elements are produced, not one document at the end."""

    class Recorder(io.RawIOBase):
        def __init__(self):
            self.writes = []

        def writable(self):
            return True

        def write(self, data):
            self.writes.append(len(data))
            return len(data)

    for n in range(50):
        CommentFactory(article=site["news"], created_at=T0 + timedelta(hours=3, seconds=n))
    out = Recorder()
    report = export_wxr(out)
    assert report.comments == 57
    assert len(out.writes) > 57 * 10  # every element reaches the stream as it is written
    assert max(out.writes) < 1000


def test_no_personal_data_leaves_out_emails_and_ips(site, tmp_path):
    path, _ = export(tmp_path, "--no-personal-data")
    text = path.read_text(encoding="utf-8")
    assert "@example" not in text
    assert "2001:db8::1" not in text and "203.0.113.7" not in text
    comment = parse(path).find("channel/item/wp:comment", NS)
    assert comment.findtext("wp:comment_author_url", namespaces=NS) == "https://ann.example.org/"
    assert comment.findtext("wp:comment_author", namespaces=NS) == "Ann &lt;b&gt;&amp; co&lt;/b&gt;"


def test_an_empty_site_exports_a_valid_empty_channel(tmp_path):
    path, output = export(tmp_path)
    assert "0 articles, 0 comments, 0 authors" in output
    assert parse(path).find("channel").findall("item") == []


# --- the round trip --------------------------------------------------------------------
def test_round_trip_reproduces_articles_and_comments(site, tmp_path):
    before_articles, before_comments = snapshot()
    path, _ = export(tmp_path)
    wipe()
    out = StringIO()
    call_command("import_wxr", str(path), stdout=out)
    assert "Articles: 3 created" in out.getvalue()
    assert "Comments: 7 created" in out.getvalue()
    after_articles, after_comments = snapshot()

    assert set(after_articles) == set(before_articles)
    for slug, before in before_articles.items():
        after = after_articles[slug]
        for name in [*ARTICLE_FIELDS, "tags"]:
            assert after[name] == before[name], (slug, name)

    site_part = site_key({"base_blog_url": settings.SITE_URL})
    old_pk = {
        c.pk: int(c.import_key.rpartition(":")[2])
        for c in Comment.objects.filter(import_key__startswith=f"wxr:{site_part}:comment:")
    }
    assert sorted(old_pk.values()) == sorted(before_comments)
    for new_pk, old in old_pk.items():
        before, after = before_comments[old], after_comments[new_pk]
        for name in [*COMMENT_FIELDS, "article__slug"]:
            assert after[name] == before[name], (old, name, after[name], before[name])
        # Threading: the reply's parent is the comment that was its parent.
        assert (old_pk[after["parent_id"]] if after["parent_id"] else None) == before["parent_id"]


def test_round_trip_without_personal_data_keeps_everything_else(site, tmp_path):
    _, before_comments = snapshot()
    path, _ = export(tmp_path, "--no-personal-data")
    wipe()
    call_command("import_wxr", str(path), stdout=StringIO())
    _, after_comments = snapshot()
    assert {c["author_email"] for c in after_comments.values()} == {""}
    assert {c["ip_address"] for c in after_comments.values()} == {None}
    keep = [f for f in COMMENT_FIELDS if f not in ("author_email", "ip_address", "body_html")]
    key = lambda c: c["created_at"]  # noqa: E731 (unique in the fixture)
    assert [[c[f] for f in keep] for c in sorted(after_comments.values(), key=key)] == [
        [c[f] for f in keep] for c in sorted(before_comments.values(), key=key)
    ]


def test_round_trip_into_a_site_without_the_users_recreates_them(site, tmp_path):
    User = get_user_model()
    before = {
        u["username"]: u
        for u in User.objects.values("username", "first_name", "last_name", "email")
    }
    path, _ = export(tmp_path)
    wipe()
    User.objects.all().delete()
    call_command("import_wxr", str(path), stdout=StringIO())
    after = {
        u["username"]: u
        for u in User.objects.values("username", "first_name", "last_name", "email")
    }
    assert after == before
    assert not User.objects.filter(is_active=True).exists()  # created inactive, as documented
    assert Article.objects.get(slug="draft").author.username == "writer"
    assert Comment.objects.get(body__startswith="A reply").user.username == "reader"


def test_dates_round_trip_to_the_second(tmp_path):
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    CommentFactory(article=ArticleFactory(slug="a", published_at=moment), created_at=moment)
    path, _ = export(tmp_path)
    wipe()
    call_command("import_wxr", str(path), stdout=StringIO())
    assert Article.objects.get().published_at == moment.replace(microsecond=0)
    assert Comment.objects.get().created_at == moment.replace(microsecond=0)


def test_a_second_import_of_the_export_changes_nothing(site, tmp_path):
    path, _ = export(tmp_path)
    wipe()
    call_command("import_wxr", str(path), stdout=StringIO())
    out = StringIO()
    call_command("import_wxr", str(path), stdout=out)
    assert "Articles: 0 created, 0 updated, 3 unchanged" in out.getvalue()
    assert "Comments: 0 created, 0 updated, 7 unchanged" in out.getvalue()


def test_export_queries_do_not_grow_with_comments(site, tmp_path, django_assert_max_num_queries):
    for n in range(20):
        CommentFactory(article=site["news"], created_at=T0 + timedelta(hours=2, seconds=n))
    # 10, and 3 for sections and tags: the channel's two lists, the batch's tags.
    with django_assert_max_num_queries(13):
        export(tmp_path)
