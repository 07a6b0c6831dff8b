"""``manage.py import_wxr``: WordPress WXR exports → articles and threaded comments.

Every test writes its own small export (nothing from a real site is copied here).
"""

from datetime import UTC, datetime
from io import BytesIO, StringIO
from xml.sax.saxutils import escape

import html5lib
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from articles.models import Article
from comments.models import Comment
from comments.wxr import WXRError, import_wxr
from comments.wxr.markup import html_to_text, wpautop
from comments.wxr.parser import WXRReader
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WP_HTTP = "http://wordpress.org/export/1.2/"
WP_HTTPS = "https://wordpress.org/export/1.2/"
SITE = "https://blog.example.com"
UNDATED = "0000-00-00 00:00:00"  # how WordPress writes "no date"


# --- building small exports ------------------------------------------------------------
def cdata(text):
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def comment(
    wp_id,
    *,
    parent=0,
    approved="1",
    author="Reader",
    email="reader@example.org",
    content=None,
    date="2020-01-02 10:00:00",
    date_gmt=None,
    type="",
    url="",
    ip="198.51.100.4",
):
    content = f"Comment {wp_id}." if content is None else content
    return f"""
    <wp:comment>
      <wp:comment_id>{wp_id}</wp:comment_id>
      <wp:comment_author>{cdata(author)}</wp:comment_author>
      <wp:comment_author_email>{escape(email)}</wp:comment_author_email>
      <wp:comment_author_url>{escape(url)}</wp:comment_author_url>
      <wp:comment_author_IP>{ip}</wp:comment_author_IP>
      <wp:comment_date>{date}</wp:comment_date>
      <wp:comment_date_gmt>{date_gmt or date}</wp:comment_date_gmt>
      <wp:comment_content>{cdata(content)}</wp:comment_content>
      <wp:comment_approved>{approved}</wp:comment_approved>
      <wp:comment_type>{type}</wp:comment_type>
      <wp:comment_parent>{parent}</wp:comment_parent>
      <wp:comment_user_id>0</wp:comment_user_id>
      <wp:commentmeta><wp:meta_key>akismet</wp:meta_key><wp:meta_value>x</wp:meta_value></wp:commentmeta>
    </wp:comment>"""


def item(
    post_id,
    *,
    title=None,
    name=None,
    content="Post body.",
    excerpt="",
    status="publish",
    post_type="post",
    date="2020-01-01 09:00:00",
    date_gmt=None,
    comment_status="open",
    password="",
    creator="editor",
    comments=(),
    pub_date="Wed, 01 Jan 2020 09:00:00 +0000",
    first="",
    last="",
):
    """A post; ``pub_date=None`` leaves ``<pubDate>`` out, ``first``/``last`` is raw XML."""
    title = f"Post {post_id}" if title is None else title
    name = f"post-{post_id}" if name is None else name
    pub_date = "" if pub_date is None else f"<pubDate>{pub_date}</pubDate>"
    return f"""
  <item>{first}
    <title>{escape(title)}</title>
    <link>{SITE}/?p={post_id}</link>
    {pub_date}
    <dc:creator>{cdata(creator)}</dc:creator>
    <guid isPermaLink="false">{SITE}/?p={post_id}</guid>
    <description></description>
    <content:encoded>{cdata(content)}</content:encoded>
    <excerpt:encoded>{cdata(excerpt)}</excerpt:encoded>
    <wp:post_id>{post_id}</wp:post_id>
    <wp:post_date>{date}</wp:post_date>
    <wp:post_date_gmt>{date if date_gmt is None else date_gmt}</wp:post_date_gmt>
    <wp:comment_status>{comment_status}</wp:comment_status>
    <wp:ping_status>open</wp:ping_status>
    <wp:post_name>{name}</wp:post_name>
    <wp:status>{status}</wp:status>
    <wp:post_parent>0</wp:post_parent>
    <wp:menu_order>0</wp:menu_order>
    <wp:post_type>{post_type}</wp:post_type>
    <wp:post_password>{escape(password)}</wp:post_password>
    <wp:is_sticky>0</wp:is_sticky>
    <category domain="category" nicename="news">{cdata("News")}</category>
    <wp:postmeta><wp:meta_key>_edit_last</wp:meta_key><wp:meta_value>1</wp:meta_value></wp:postmeta>
    {"".join(comments)}{last}
  </item>"""


def export(*items, namespace=WP_HTTP, link=SITE, channel_first=""):
    excerpt_ns = namespace + "excerpt/"
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0"
  xmlns:excerpt="{excerpt_ns}"
  xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:wfw="http://wellformedweb.org/CommentAPI/"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:atom="http://www.w3.org/2005/Atom"
  xmlns:media="http://search.yahoo.com/mrss/"
  xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
  xmlns:plugin="https://plugin.example.org/export/"
  xmlns:wp="{namespace}">
<channel>{channel_first}
  <title>Example blog</title>
  <link>{link}</link>
  <description>Just a test</description>
  <language>en-US</language>
  <wp:wxr_version>1.2</wp:wxr_version>
  <wp:base_site_url>{link}</wp:base_site_url>
  <wp:base_blog_url>{link}</wp:base_blog_url>
  <wp:author>
    <wp:author_id>1</wp:author_id>
    <wp:author_login>{cdata("editor")}</wp:author_login>
    <wp:author_email>{cdata("editor@example.com")}</wp:author_email>
    <wp:author_display_name>{cdata("Élodie Éditrice")}</wp:author_display_name>
    <wp:author_first_name>{cdata("")}</wp:author_first_name>
    <wp:author_last_name>{cdata("")}</wp:author_last_name>
  </wp:author>
  {"".join(items)}
</channel>
</rss>
"""


@pytest.fixture
def write_wxr(tmp_path):
    counter = iter(range(1000))

    def write(*items, **options):
        path = tmp_path / f"export-{next(counter)}.xml"
        path.write_text(export(*items, **options), encoding="utf-8")
        return path

    return write


def run_import(path, *args):
    out, err = StringIO(), StringIO()
    call_command("import_wxr", str(path), *args, stdout=out, stderr=err)
    return out.getvalue()


def imported_article(post_id, site="blog.example.com"):
    return Article.objects.get(import_key=f"wxr:{site}:post:{post_id}")


def imported_comment(comment_id, site="blog.example.com"):
    return Comment.objects.get(import_key=f"wxr:{site}:comment:{comment_id}")


def assert_trees_consistent():
    """Nested-set numbers agree with parent links in every tree."""
    rows = list(
        Comment.objects.order_by("tree_id", "lft").values(
            "pk", "parent_id", "tree_id", "lft", "rght", "level", "article_id"
        )
    )
    by_pk = {row["pk"]: row for row in rows}
    trees = {}
    for row in rows:
        trees.setdefault(row["tree_id"], []).append(row)
    for tree in trees.values():
        roots = [row for row in tree if row["parent_id"] is None]
        assert len(roots) == 1
        numbers = sorted([row["lft"] for row in tree] + [row["rght"] for row in tree])
        assert numbers == list(range(1, 2 * len(tree) + 1))
        assert roots[0]["lft"] == 1 and roots[0]["level"] == 0
        for row in tree:
            assert row["lft"] < row["rght"]
            if row["parent_id"] is not None:
                parent = by_pk[row["parent_id"]]
                assert parent["tree_id"] == row["tree_id"]
                assert parent["article_id"] == row["article_id"]
                assert parent["lft"] < row["lft"] < row["rght"] < parent["rght"]
                assert row["level"] == parent["level"] + 1


def page_comments(client, article):
    """(comment id, depth) of every comment on the article page, and the shown count."""
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    doc = html5lib.parse(response.content, namespaceHTMLElements=False)
    section = doc.find(".//section[@id='comments']")
    shown = []

    def walk(ol, depth):
        for li in ol.findall("li"):
            shown.append((int(li.get("id").removeprefix("comment-")), depth))
            for children in li.findall("ol"):
                walk(children, depth + 1)

    walk(section.find("ol[@class='comment-list']"), 1)
    return int(section.get("data-comment-count")), shown


# --- threads -----------------------------------------------------------------------------
def test_replies_ten_levels_deep_keep_their_nesting(write_wxr, client, settings):
    settings.COMMENTS_MAX_DEPTH = 10
    chain = [comment(1)] + [
        comment(n, parent=n - 1, date=f"2020-01-02 10:{n:02d}:00") for n in range(2, 11)
    ]
    run_import(write_wxr(item(5, comments=chain)))

    levels = [imported_comment(n).level for n in range(1, 11)]
    assert levels == list(range(10))
    assert imported_comment(10).parent == imported_comment(9)
    count, shown = page_comments(client, imported_article(5))
    assert count == 10
    assert shown == [(imported_comment(n).pk, n) for n in range(1, 11)]
    assert_trees_consistent()


def test_article_page_shows_imported_count_and_nesting(write_wxr, client):
    comments = [
        comment(1, date="2020-01-02 10:00:00"),
        comment(2, parent=1, date="2020-01-02 11:00:00"),
        comment(3, date="2020-01-02 09:00:00"),  # earlier: its thread comes first
        comment(4, parent=1, date="2020-01-02 10:30:00"),  # before 2 among 1's replies
        comment(5, parent=4, date="2020-01-02 12:00:00"),
        comment(6, parent=3, approved="0"),  # held: not shown, not counted
    ]
    run_import(write_wxr(item(5, comments=comments)))

    count, shown = page_comments(client, imported_article(5))
    pk = {n: imported_comment(n).pk for n in range(1, 7)}
    assert count == 5
    assert shown == [(pk[3], 1), (pk[1], 1), (pk[4], 2), (pk[5], 3), (pk[2], 2)]
    assert_trees_consistent()


def test_every_comment_status_is_mapped(write_wxr):
    statuses = {1: "1", 2: "0", 3: "spam", 4: "trash", 5: "post-trashed"}
    output = run_import(
        write_wxr(item(5, comments=[comment(n, approved=s) for n, s in statuses.items()]))
    )

    assert {n: imported_comment(n).status for n in statuses} == {
        1: Comment.Status.APPROVED,
        2: Comment.Status.PENDING,
        3: Comment.Status.SPAM,
        4: Comment.Status.REMOVED,
        5: Comment.Status.REMOVED,
    }
    assert "1 pending, 1 approved, 1 spam, 2 removed" in output


def test_reply_to_missing_parent_becomes_top_level_and_is_reported(write_wxr):
    output = run_import(write_wxr(item(5, comments=[comment(1), comment(2, parent=99)])))

    orphan = imported_comment(2)
    assert orphan.parent is None and orphan.level == 0
    assert orphan.tree_id != imported_comment(1).tree_id
    assert "comment 2 on post 5 (parent 99)" in output
    assert_trees_consistent()


def test_reply_loop_is_cut_and_reported(write_wxr):
    run_import(write_wxr(item(5, comments=[comment(1, parent=2), comment(2, parent=1)])))

    assert Comment.objects.filter(parent=None).count() == 1
    assert_trees_consistent()


# --- posts -------------------------------------------------------------------------------
def test_closed_comment_status_closes_comments(write_wxr):
    run_import(write_wxr(item(5, comment_status="closed"), item(6)))

    assert imported_article(5).comments_open is False
    assert imported_article(6).comments_open is True


def test_future_post_is_scheduled(write_wxr):
    run_import(write_wxr(item(5, status="future", date="2099-05-01 08:30:00")))

    article = imported_article(5)
    assert article.status == Article.Status.PUBLISHED
    assert article.published_at == datetime(2099, 5, 1, 8, 30, tzinfo=UTC)
    assert article.is_scheduled and not Article.objects.published().exists()


@pytest.mark.parametrize("status", ["draft", "pending", "private"])
def test_unpublished_posts_are_drafts(write_wxr, status):
    run_import(write_wxr(item(5, status=status, date_gmt="0000-00-00 00:00:00")))

    article = imported_article(5)
    assert article.status == Article.Status.DRAFT
    # No GMT date on a draft: the local date is read in the site's time zone (UTC here).
    assert article.published_at == datetime(2020, 1, 1, 9, 0, tzinfo=UTC)


def test_local_date_uses_the_given_time_zone(write_wxr):
    run_import(write_wxr(item(5, date_gmt="0000-00-00 00:00:00")), "--time-zone", "Europe/Paris")

    assert imported_article(5).published_at == datetime(2020, 1, 1, 8, 0, tzinfo=UTC)


def test_password_protected_post_is_a_reported_draft(write_wxr):
    output = run_import(write_wxr(item(5, title="Members only", password="secret")))

    assert imported_article(5).status == Article.Status.DRAFT
    assert "Password-protected posts imported as drafts: 1" in output
    assert "post 5 “Members only”" in output


def test_pages_attachments_and_menu_items_are_skipped_and_counted(write_wxr):
    output = run_import(
        write_wxr(
            item(1, post_type="page", comments=[comment(1)]),
            item(2, post_type="attachment", status="inherit"),
            item(3, post_type="nav_menu_item"),
            item(4),
        )
    )

    assert list(Article.objects.values_list("import_key", flat=True)) == [
        "wxr:blog.example.com:post:4"
    ]
    assert not Comment.objects.exists()
    for line in ("1 pages", "1 attachments", "1 menu items", "1 comments on skipped items"):
        assert f"    {line}" in output.splitlines()


def test_empty_title_gets_a_fallback_and_a_slug(write_wxr):
    run_import(write_wxr(item(5, title="", name="")))

    article = imported_article(5)
    assert article.title == "(untitled)"
    assert article.slug == "untitled"


def test_slugs_are_made_unique(write_wxr, article):
    article.slug = "hello"
    article.save()
    run_import(write_wxr(item(5, name="hello"), item(6, name="hello")))

    assert imported_article(5).slug == "hello-2"
    assert imported_article(6).slug == "hello-3"


def test_authors_become_inactive_users_matched_by_login(write_wxr):
    existing = UserFactory(username="colleague", first_name="Kept")
    run_import(write_wxr(item(5), item(6, creator="colleague")))

    editor = get_user_model().objects.get(username="editor")
    assert not editor.is_active and not editor.has_usable_password()
    assert editor.get_full_name() == "Élodie Éditrice"
    assert editor.email == "editor@example.com"
    assert imported_article(5).author == editor
    assert imported_article(6).author == existing
    existing.refresh_from_db()
    assert existing.first_name == "Kept" and existing.is_active


# --- content -----------------------------------------------------------------------------
def test_cdata_html_content_becomes_sanitized_paragraphs(write_wxr):
    content = (
        "First paragraph with <strong>bold</strong> &amp; more.\n\n"
        "Second line one\nline two\n<script>alert(1)</script>\n\n"
        "<ul>\n\t<li>item</li>\n</ul>\n<!--more-->\nAfter ]]> the list"
    )
    run_import(write_wxr(item(5, content=content, excerpt="<em>Short</em> &amp; sweet")))

    article = imported_article(5)
    assert article.body == ""
    body = html5lib.parse(article.body_html, namespaceHTMLElements=False).find("body")
    assert [el.tag for el in body] == ["p", "p", "ul", "p"]
    assert "".join(body[0].itertext()) == "First paragraph with bold & more."
    assert body[1].find("br") is not None
    assert body.find(".//script") is None
    assert "".join(body[3].itertext()) == "After ]]> the list"
    assert article.summary == "Short & sweet"


def test_comment_html_becomes_plain_text_with_paragraphs(write_wxr):
    content = (
        "<p>Hello &amp; <b>welcome</b>,<br />friend.</p><p>See "
        '<a href="https://example.org/x">this</a>.</p>\n\nBye<script>x()</script>'
    )
    run_import(write_wxr(item(5, comments=[comment(1, content=content)])))

    reply = imported_comment(1)
    assert reply.body == "Hello & welcome,\nfriend.\n\nSee this (https://example.org/x).\n\nBye"
    assert reply.body_html.count("<p>") == 3
    assert 'href="https://example.org/x"' in reply.body_html


def test_non_ascii_text_is_kept(write_wxr, client):
    name = "Γιάννης Ωραίος"
    run_import(
        write_wxr(
            item(
                5,
                title="Καλημέρα κόσμε — 日本語",
                name="%ce%ba%ce%b1%ce%bb%ce%b7",
                comments=[comment(1, author=name, content="Ελληνικά και 中文 ✓")],
            )
        )
    )

    article = imported_article(5)
    assert article.title == "Καλημέρα κόσμε — 日本語"
    assert article.slug == "post-5"  # no ASCII letters to keep: the post id
    reply = imported_comment(1)
    assert (reply.author_name, reply.body) == (name, "Ελληνικά και 中文 ✓")
    response = client.get(article.get_absolute_url())
    assert name in response.content.decode()


@pytest.mark.parametrize(
    "namespace",
    [
        "http://wordpress.org/export/1.2/",
        "https://wordpress.org/export/1.2/",
        "http://wordpress.org/export/1.1/",
        "http://wordpress.org/export/1.0/",
    ],
)
def test_wp_namespace_spellings_are_all_understood(write_wxr, namespace):
    run_import(write_wxr(item(5, comments=[comment(1), comment(2, parent=1)]), namespace=namespace))

    assert imported_article(5).title == "Post 5"
    assert imported_comment(2).parent == imported_comment(1)


def text_of(html):
    return "".join(html5lib.parseFragment(html, namespaceHTMLElements=False).itertext())


def test_media_content_is_never_taken_for_the_post_body(write_wxr):
    """<media:content> and <content:encoded> share a local name: the namespace decides."""
    media = (
        '<media:content url="https://blog.example.com/photo.jpg" medium="image">'
        "<media:title>A photo</media:title></media:content>"
    )
    run_import(
        write_wxr(
            item(5, content="The real body.", first=media),
            item(6, content="The real body.", last=media),
        )
    )

    assert text_of(imported_article(5).body_html) == "The real body."
    assert text_of(imported_article(6).body_html) == "The real body."


def test_elements_of_other_namespaces_are_not_taken_for_wxr_fields(write_wxr):
    foreign = (
        "<media:title>A photo</media:title>"
        "<plugin:encoded>Not the body.</plugin:encoded>"
        "<plugin:creator>intruder</plugin:creator>"
        "<plugin:post_id>999</plugin:post_id>"
        "<plugin:status>trash</plugin:status>"
        "<plugin:comment><plugin:comment_id>7</plugin:comment_id></plugin:comment>"
    )
    path = write_wxr(
        item(5, first=foreign, comments=[comment(1)]),
        channel_first="<itunes:author>Podcast host</itunes:author>",
    )

    output = run_import(path)

    article = imported_article(5)
    assert (article.title, article.author.username) == ("Post 5", "editor")
    assert article.status == Article.Status.PUBLISHED
    assert text_of(article.body_html) == "Post body."
    assert list(Comment.objects.values_list("import_key", flat=True)) == [
        "wxr:blog.example.com:comment:1"
    ]
    assert "Users: 1 created" in output
    assert "Skipped" not in output  # the <itunes:author> is not a WordPress author


def test_channel_link_is_the_rss_link_not_an_atom_link():
    text = export(
        item(5),
        channel_first='<atom:link href="https://feeds.example.net/blog" rel="self" />',
    )
    reader = WXRReader(BytesIO(text.encode()))

    list(reader)

    assert reader.channel["link"] == SITE


# --- pingbacks ---------------------------------------------------------------------------
def pingback_post():
    return item(
        5,
        comments=[
            comment(1),
            comment(2, type="pingback", author="Other blog", content="[…] linked […]"),
            comment(3, type="trackback", author="Third blog"),
        ],
    )


def test_pingbacks_and_trackbacks_are_skipped_and_counted(write_wxr):
    output = run_import(write_wxr(pingback_post()))

    assert Comment.objects.count() == 1
    assert "    1 pingbacks" in output.splitlines()
    assert "    1 trackbacks" in output.splitlines()


def test_with_pingbacks_imports_them_as_comments(write_wxr):
    run_import(write_wxr(pingback_post()), "--with-pingbacks")

    assert Comment.objects.count() == 3
    assert imported_comment(2).author_name == "Other blog"


# --- files that can't be imported --------------------------------------------------------
def test_malformed_file_imports_nothing_and_names_the_line(tmp_path):
    text = export(item(5, comments=[comment(1)]), item(6))
    lines = text.splitlines()
    broken_line = next(n for n, line in enumerate(lines, 1) if "<wp:post_id>6<" in line)
    lines[broken_line - 1] = lines[broken_line - 1].replace("</wp:post_id>", "</wp:post_idd>")
    path = tmp_path / "broken.xml"
    path.write_text("\n".join(lines), encoding="utf-8")
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_wxr", str(path), stdout=StringIO(), stderr=err)

    assert not Article.objects.exists() and not Comment.objects.exists()
    assert not get_user_model().objects.exists()
    message = err.getvalue()
    assert f"line {broken_line}," in message
    assert "mismatched tag" in message and "<wp:post_id>" in message
    assert "Nothing was imported from this file" in message


def test_bad_date_imports_nothing_and_names_the_element_and_line(write_wxr):
    path = write_wxr(item(5), item(6, comments=[comment(1, date_gmt="2020-13-45 99:00:00")]))
    line = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if "<wp:comment>" in text
    )

    with pytest.raises(WXRError, match=rf"line {line}: <wp:comment_date_gmt> is '2020-13-45"):
        import_wxr(path)
    assert not Article.objects.exists()


def test_entity_declarations_are_refused(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;">]><rss><channel><title>&b;</title></channel></rss>'
    )

    with pytest.raises(WXRError, match="line 1: refused unsafe XML"):
        import_wxr(path)


def test_not_a_wxr_file_is_refused(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text('<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"/>')

    with pytest.raises(WXRError, match="line 2: <feed> is not a WXR export"):
        import_wxr(path)


def test_directory_is_reported_like_an_unreadable_file_and_others_still_import(write_wxr, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    missing = tmp_path / "missing.xml"
    good = write_wxr(item(5))
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="2 of 3 files could not be imported") as raised:
        call_command("import_wxr", str(folder), str(missing), str(good), stdout=out, stderr=err)

    assert raised.value.returncode == 1  # manage.py exits with it, printing no traceback
    assert err.getvalue().splitlines() == [
        f"{folder}: can't read it (Is a directory).",
        f"{missing}: can't read it (No such file or directory).",
    ]
    assert "Articles: 1 created" in out.getvalue()
    assert imported_article(5).title == "Post 5"


# --- running it again --------------------------------------------------------------------
def test_reimport_updates_in_place_without_duplicates(write_wxr):
    first = [comment(1), comment(2, parent=1, approved="0")]
    run_import(write_wxr(item(5, title="Old title", comments=first)))
    article_pk, reply_pk = imported_article(5).pk, imported_comment(2).pk

    changed = [comment(1), comment(2, parent=1, approved="1", content="Edited.")]
    output = run_import(write_wxr(item(5, title="New title", comments=changed)))

    assert Article.objects.count() == 1 and Comment.objects.count() == 2
    article = imported_article(5)
    assert (article.pk, article.title, article.slug) == (article_pk, "New title", "post-5")
    reply = imported_comment(2)
    assert reply.pk == reply_pk
    assert (reply.status, reply.body) == (Comment.Status.APPROVED, "Edited.")
    assert "Articles: 0 created, 1 updated, 0 unchanged" in output
    assert "Comments: 0 created, 1 updated, 1 unchanged" in output
    assert get_user_model().objects.count() == 1


def test_reimport_adds_new_replies_into_existing_threads(write_wxr, comment_factory, client):
    run_import(write_wxr(item(5, comments=[comment(1), comment(2, parent=1), comment(3)])))
    article = imported_article(5)
    # A reader replied on threadpress meanwhile; the export gained replies too.
    local = comment_factory(parent=imported_comment(2))
    later = [
        comment(1),
        comment(2, parent=1),
        comment(3),
        comment(4, parent=1, date="2020-01-03 10:00:00"),
        comment(5, parent=4, date="2020-01-03 11:00:00"),
        comment(6, date="2020-01-03 12:00:00"),
    ]
    run_import(write_wxr(item(5, comments=later)))

    assert Comment.objects.count() == 7
    assert_trees_consistent()
    pk = {n: imported_comment(n).pk for n in range(1, 7)}
    _count, shown = page_comments(client, article)
    assert shown == [
        (pk[1], 1),
        (pk[2], 2),
        (local.pk, 3),
        (pk[4], 2),
        (pk[5], 3),
        (pk[3], 1),
        (pk[6], 1),
    ]


def undated_post(**options):
    """A draft WordPress never dated, with an undated comment and a dated reply."""
    comments = [comment(1, date=UNDATED), comment(2, parent=1)]
    return item(5, status="draft", date=UNDATED, pub_date=None, comments=comments, **options)


def test_reimporting_an_undated_post_changes_nothing(write_wxr):
    path = write_wxr(undated_post())
    run_import(path)
    published_at = imported_article(5).published_at
    created_at = imported_comment(1).created_at

    output = run_import(path)

    assert "Articles: 0 created, 0 updated, 1 unchanged" in output
    assert "Comments: 0 created, 0 updated, 2 unchanged" in output
    assert imported_article(5).published_at == published_at
    assert imported_comment(1).created_at == created_at


def test_undated_post_keeps_its_first_date_when_updated(write_wxr):
    run_import(write_wxr(undated_post()))
    published_at = imported_article(5).published_at

    output = run_import(write_wxr(undated_post(title="New title")))

    assert "Articles: 0 created, 1 updated, 0 unchanged" in output
    article = imported_article(5)
    assert (article.title, article.published_at) == ("New title", published_at)


def test_undated_comment_keeps_its_first_date_when_the_post_is_redated(write_wxr):
    run_import(write_wxr(item(5, comments=[comment(1, date=UNDATED)])))
    assert imported_comment(1).created_at == datetime(2020, 1, 1, 9, tzinfo=UTC)

    output = run_import(
        write_wxr(item(5, date="2021-06-01 12:00:00", comments=[comment(1, date=UNDATED)]))
    )

    assert imported_article(5).published_at == datetime(2021, 6, 1, 12, tzinfo=UTC)
    assert imported_comment(1).created_at == datetime(2020, 1, 1, 9, tzinfo=UTC)
    assert "Comments: 0 created, 0 updated, 1 unchanged" in output


def test_wordpress_no_date_pub_date_is_no_date(write_wxr):
    """WordPress writes ``Mon, 30 Nov -0001`` for an undated draft; it isn't the year 2000."""
    no_date = "Mon, 30 Nov -0001 00:00:00 +0000"
    before = timezone.now()

    run_import(write_wxr(item(5, status="draft", date=UNDATED, pub_date=no_date)))

    assert before <= imported_article(5).published_at <= timezone.now()


def test_pub_date_in_an_unknown_zone_is_utc_and_reimports_unchanged(write_wxr):
    """``-0000`` is RFC 2822 for "UTC, local zone unknown"."""
    path = write_wxr(item(5, date=UNDATED, pub_date="Wed, 01 Jan 2020 09:00:00 -0000"))
    run_import(path)

    output = run_import(path)

    assert imported_article(5).published_at == datetime(2020, 1, 1, 9, tzinfo=UTC)
    assert "Articles: 0 created, 0 updated, 1 unchanged" in output


def test_import_bumps_the_thread_version(write_wxr):
    path = write_wxr(item(5, comments=[comment(1)]))
    run_import(path)
    version = imported_article(5).comments_version

    run_import(write_wxr(item(5, comments=[comment(1, content="Changed.")])))

    assert imported_article(5).comments_version > version


def test_dry_run_writes_nothing_and_prints_the_summary(write_wxr):
    output = run_import(write_wxr(item(5, comments=[comment(1), comment(2)])), "--dry-run")

    assert "dry run, nothing was written" in output
    assert "Comments: 2 created" in output
    assert not Article.objects.exists() and not Comment.objects.exists()
    assert not get_user_model().objects.exists()


def test_comments_check_is_clean_after_import(write_wxr):
    comments = [comment(n, parent=(n - 1) // 2) for n in range(1, 40)]
    run_import(write_wxr(item(5, comments=comments), item(6, comments=[comment(100)])))
    out = StringIO()

    call_command("comments_check", stdout=out, stderr=StringIO())

    assert "consistent" in out.getvalue()
    assert_trees_consistent()


def test_queries_grow_with_tree_depth_not_comment_count(write_wxr, django_assert_max_num_queries):
    comments = [comment(n, parent=0 if n <= 100 else n - 100) for n in range(1, 301)]
    path = write_wxr(item(5, comments=comments))

    # 20 for the article, the comments and their trees; 6 more for the commenters of the
    # 300 addresses: found, created in bulk, found again, then recounted (per 500
    # addresses, not per comment); 3 for the post's category (found, its name checked,
    # created as a section).
    with django_assert_max_num_queries(34):
        import_wxr(path)
    assert Comment.objects.count() == 300


# --- markup helpers ----------------------------------------------------------------------
def test_wpautop_makes_paragraphs_and_line_breaks_but_leaves_blocks():
    html = wpautop("One\ntwo\n\nThree\n<blockquote>Quote</blockquote>\n<pre>a\n\nb</pre>")

    assert html == (
        "<p>One<br>\ntwo</p>\n<p>Three</p>\n<blockquote>Quote</blockquote>\n<pre>a\n\nb</pre>"
    )


def test_html_to_text_decodes_entities_and_keeps_breaks():
    assert html_to_text("a&nbsp;&lt;b&gt;<br>c\n\n\n\n<div>d</div>") == "a <b>\nc\n\nd"
