"""``import_wxr``'s WordPress-grade leniency (issue 17): files WordPress refuses are refused
the same way, files it imports are imported, and the comment HTML it allows is kept.

Every test writes its own small export with the builders of tests/test_import_wxr.py.
"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from articles.models import Article
from comments.models import Comment
from tests.test_import_wxr import comment, export, item

pytestmark = pytest.mark.django_db

NOT_WXR = "This does not appear to be a WXR file, missing/invalid WXR version number"
VERSION_TAG = "<wp:wxr_version>1.2</wp:wxr_version>"


def write(tmp_path, text, name="export.xml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(path, *args):
    out, err = StringIO(), StringIO()
    call_command("import_wxr", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- the WXR version ------------------------------------------------------------------
@pytest.mark.parametrize(
    "version_tag",
    [
        "",  # missing
        "<wp:wxr_version></wp:wxr_version>",
        "<wp:wxr_version>   </wp:wxr_version>",
        "<wp:wxr_version>one point two</wp:wxr_version>",
        "<wp:wxr_version>1.2beta</wp:wxr_version>",
        "<wp:wxr_version>12</wp:wxr_version>",
    ],
    ids=["missing", "empty", "blank", "words", "suffix", "no-dot"],
)
def test_missing_or_invalid_wxr_version_is_refused_and_writes_nothing(tmp_path, version_tag):
    text = export(item(5, comments=[comment(1)]))
    assert VERSION_TAG in text
    path = write(tmp_path, text.replace(VERSION_TAG, version_tag))
    users_before = get_user_model().objects.count()

    with pytest.raises(CommandError, match="1 of 1 files could not be imported"):
        out, err = StringIO(), StringIO()
        try:
            call_command("import_wxr", str(path), stdout=out, stderr=err)
        finally:
            assert f"{path}: {NOT_WXR}. Nothing was imported from this file." in err.getvalue()

    assert get_user_model().objects.count() == users_before  # not even the authors
    assert not Article.objects.exists()
    assert not Comment.objects.exists()


def test_wxr_version_after_the_records_is_accepted(tmp_path):
    text = export(item(5)).replace(VERSION_TAG, "")
    text = text.replace("</channel>", f"{VERSION_TAG}\n</channel>")
    run(write(tmp_path, text))

    assert Article.objects.count() == 1


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", " 1.2 "])
def test_valid_wxr_versions_are_accepted(tmp_path, version):
    text = export(item(5)).replace(VERSION_TAG, f"<wp:wxr_version>{version}</wp:wxr_version>")
    run(write(tmp_path, text))

    assert Article.objects.count() == 1


# --- files without ids or URLs ------------------------------------------------------------
def keys(model):
    return sorted(model.objects.values_list("import_key", flat=True))


def line_of(text, needle):
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_items_without_post_id_are_imported_with_stable_keys(tmp_path):
    text = export(item(5, comments=[comment(1)]), item(6, title="Second"))
    text = text.replace("<wp:post_id>5</wp:post_id>", "").replace(
        "<wp:post_id>6</wp:post_id>", "<wp:post_id> </wp:post_id>"
    )
    path = write(tmp_path, text)

    out, _ = run(path)
    first_keys = keys(Article)
    out_again, _ = run(path)

    assert Article.objects.count() == 2 and Comment.objects.count() == 1
    assert all(key.startswith("wxr:blog.example.com:post:h") for key in first_keys)
    assert keys(Article) == first_keys
    assert "Articles: 2 created" in out
    assert "Articles: 0 created, 0 updated, 2 unchanged" in out_again
    assert "Comments: 0 created, 0 updated, 1 unchanged" in out_again


def test_channel_without_urls_is_identified_by_the_file(tmp_path):
    text = export(item(5, comments=[comment(1)]), link="")
    path = write(tmp_path, text, name="Old Blog.xml")

    out, _ = run(path)
    run(path)

    [key] = keys(Article)
    assert key.startswith("wxr:file-old-blog-") and key.endswith(":post:5")
    assert len(key.split(":")[1]) == len("file-old-blog-") + 8
    assert Article.objects.count() == 1 and Comment.objects.count() == 1
    assert f"(site {key.split(':')[1]})" in out


def test_file_site_depends_on_the_channel_title(tmp_path):
    run(write(tmp_path, export(item(5), link=""), name="a.xml"))
    other = export(item(5), link="").replace("<title>Example blog</title>", "<title>B</title>")
    run(write(tmp_path, other, name="a.xml"))

    assert len({key.split(":")[1] for key in keys(Article)}) == 2


def test_site_option_names_the_site(tmp_path):
    path = write(tmp_path, export(item(5, comments=[comment(1)]), link=""))

    out, _ = run(path, "--site", "https://www.Old-Blog.example/")
    run(path, "--site", "old-blog.example")

    assert keys(Article) == ["wxr:old-blog.example:post:5"]
    assert keys(Comment) == ["wxr:old-blog.example:comment:1"]
    assert "(site old-blog.example)" in out


def test_site_option_wins_over_the_export_url(tmp_path):
    run(write(tmp_path, export(item(5))), "--site", "archive.example.net")

    assert keys(Article) == ["wxr:archive.example.net:post:5"]


def test_blank_site_option_is_refused(tmp_path):
    with pytest.raises(CommandError, match="--site needs a name"):
        run(write(tmp_path, export(item(5))), "--site", " ")


def test_unreadable_post_id_skips_the_item_and_reports_its_line(tmp_path):
    text = export(item(5), item(7, title="Broken", comments=[comment(3)]), item(8))
    text = text.replace("<wp:post_id>7</wp:post_id>", "<wp:post_id>seven</wp:post_id>")
    path = write(tmp_path, text)
    item_line = line_of(text, "<title>Broken</title>") - 1

    out, _ = run(path)

    assert sorted(Article.objects.values_list("title", flat=True)) == ["Post 5", "Post 8"]
    assert "    1 posts with an unreadable id" in out
    assert "    1 comments on skipped items" in out
    assert "  Left out (line by line): 1" in out
    assert (
        f"    line {item_line}: <wp:post_id> of <item> is 'seven', not a number (“Broken”)" in out
    )


def test_comments_without_ids_are_imported_and_bad_ids_reported(tmp_path):
    text = export(item(5, comments=[comment(1), comment(2), comment(3), comment(4, parent=1)]))
    text = text.replace("<wp:comment_id>2</wp:comment_id>", "")
    text = text.replace("<wp:comment_id>3</wp:comment_id>", "<wp:comment_id>x3</wp:comment_id>")
    path = write(tmp_path, text)
    bad_line = line_of(text, "x3") - 1  # the <wp:comment> element

    out, _ = run(path)
    out_again, _ = run(path)

    assert keys(Comment) == [
        "wxr:blog.example.com:comment:1",
        "wxr:blog.example.com:comment:4",
        "wxr:blog.example.com:comment:5-2",
    ]
    reply = Comment.objects.get(import_key="wxr:blog.example.com:comment:4")
    assert reply.parent.import_key == "wxr:blog.example.com:comment:1"
    assert "    1 comments with an unreadable id" in out
    assert f"    line {bad_line}: <wp:comment_id> of <wp:comment> of post 5 is 'x3'" in out
    assert "Comments: 0 created, 0 updated, 3 unchanged" in out_again


# --- comment HTML ---------------------------------------------------------------------------
def imported_html(tmp_path, content):
    run(write(tmp_path, export(item(5, comments=[comment(1, content=content)]))))
    return Comment.objects.get(import_key="wxr:blog.example.com:comment:1")


def test_comment_keeps_wordpress_allowed_html(tmp_path):
    content = (
        "<p>I <strong>agree</strong>, <em>mostly</em>: <b>b</b> <i>i</i> <del>d</del> <s>s</s> "
        '<strike>st</strike> <abbr title="x">HTML</abbr> <acronym>NASA</acronym> '
        '<cite>Me</cite> <code>x = 1</code> <q cite="https://q.example.org/">quoted</q></p>'
        '<blockquote cite="https://src.example.org/">Earlier words</blockquote>'
        'See <a href="https://example.org/x" title="The source">this</a>.'
    )
    reply = imported_html(tmp_path, content)

    html = reply.body_html
    for tag in ("strong", "em", "b", "i", "del", "s", "strike", "acronym", "cite", "code"):
        assert f"<{tag}>" in html, tag
    assert '<abbr title="x">HTML</abbr>' in html  # WordPress allows title on abbr, acronym
    assert '<q cite="https://q.example.org/">quoted</q>' in html
    assert '<blockquote cite="https://src.example.org/">Earlier words</blockquote>' in html
    assert '<a href="https://example.org/x" title="The source" rel="nofollow ugc">this</a>' in html
    assert reply.body_is_html
    assert reply.body.startswith("I agree, mostly: b i d s st HTML NASA Me x = 1 quoted")
    assert "this (https://example.org/x)" in reply.body  # plain text for search and emails


def test_other_elements_become_their_text(tmp_path):
    content = (
        "<h2>A heading</h2><ul><li>first</li><li>second</li></ul>"
        "<pre>line one\nline two</pre><div class='x'>in a div</div><img src='x.png' alt='pic'>"
        "<table><tr><td>cell</td></tr></table><span style='color:red'>red</span>"
    )
    html = imported_html(tmp_path, content).body_html

    assert "<h2" not in html and "<ul" not in html and "<li" not in html and "<img" not in html
    assert "<p>A heading</p>" in html
    assert "<p>first</p>" in html and "<p>second</p>" in html
    assert "line one<br>line two" in html
    assert "<p>in a div</p>" in html and "<p>cell</p>" in html
    assert "red" in html and "style" not in html and "<span" not in html


def test_scripts_event_handlers_and_javascript_urls_are_removed(tmp_path):
    content = (
        "Hi<script>alert('x')</script><style>p{color:red}</style>"
        '<a href="javascript:alert(1)" onclick="steal()">click</a> '
        '<a href="JaVaScRiPt:alert(2)">again</a> <a href="/relative">here</a> '
        '<b onmouseover="steal()">bold</b> <q cite="javascript:alert(3)">q</q> '
        '<blockquote cite="data:text/html,x">bq</blockquote>'
        "<iframe src='https://evil.example/'></iframe><!-- note -->"
    )
    html = imported_html(tmp_path, content).body_html

    lowered = html.lower()
    for bad in ("script", "alert", "javascript", "onclick", "onmouseover", "steal", "iframe"):
        assert bad not in lowered, bad
    assert "style" not in lowered and "color:red" not in lowered and "note" not in lowered
    assert "data:" not in lowered and "/relative" not in lowered
    assert '<a rel="nofollow ugc">click</a>' in html
    assert "<b>bold</b>" in html and "<q>q</q>" in html and "<blockquote>bq</blockquote>" in html


def test_imported_html_is_shown_on_the_article_page(tmp_path, client):
    reply = imported_html(tmp_path, 'Look: <a href="https://example.org/">there</a> <em>now</em>')

    response = client.get(reply.article.get_absolute_url())

    page = response.content.decode()
    assert '<a href="https://example.org/" rel="nofollow ugc">there</a> <em>now</em>' in page


def test_plain_text_comment_is_rendered_like_ours(tmp_path):
    reply = imported_html(tmp_path, "Plain words\nand https://example.org/x")

    assert not reply.body_is_html
    assert 'rel="nofollow ugc noopener"' in reply.body_html  # linked as on this site


def test_reimporting_html_comments_changes_nothing(tmp_path):
    path = write(tmp_path, export(item(5, comments=[comment(1, content="<em>Hi</em> <h3>x</h3>")])))
    run(path)

    out, _ = run(path)

    assert "Comments: 0 created, 0 updated, 1 unchanged" in out


def test_saving_an_imported_comment_keeps_its_html(tmp_path):
    reply = imported_html(tmp_path, "<blockquote>Quoted</blockquote><strong>Yes</strong>")
    html = reply.body_html

    reply.save()
    reply.refresh_from_db()

    assert reply.body_html == html


def test_comments_posted_here_stay_plain_text(article):
    posted = Comment.objects.create(
        article=article,
        author_name="Reader",
        body="<em>not</em> <script>x()</script>",
        created_at=timezone.now(),
    )

    assert not posted.body_is_html
    assert "<em>" not in posted.body_html
    assert "&lt;em&gt;not&lt;/em&gt;" in posted.body_html


def test_changing_an_imported_comment_body_makes_it_plain_text(tmp_path):
    reply = imported_html(tmp_path, "<em>Hi</em>")

    reply.body = "Changed in the admin <b>here</b>"
    reply.save()
    reply.refresh_from_db()

    assert not reply.body_is_html
    assert reply.body_html == "<p>Changed in the admin &lt;b&gt;here&lt;/b&gt;</p>"


def test_comments_check_leaves_imported_html_alone(tmp_path):
    from comments.integrity import count_stale_bodies

    imported_html(tmp_path, "<em>Hi</em>")

    assert count_stale_bodies() == 0


def test_editing_an_imported_comment_makes_it_plain_text(tmp_path):
    from comments.posting import edit_comment

    reply = imported_html(tmp_path, "<em>Hi</em>")
    Comment.objects.filter(pk=reply.pk).update(created_at=timezone.now())  # in its edit window
    reply.refresh_from_db()
    edit_comment(reply, body="<em>Edited</em>")
    reply.refresh_from_db()

    assert not reply.body_is_html
    assert "&lt;em&gt;Edited" in reply.body_html
