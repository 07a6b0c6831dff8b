"""``manage.py import_disqus``: Disqus XML exports → threaded comments on articles.

Every test writes its own small export.
"""

import tempfile
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from comments.disqus import DisqusError, import_disqus
from comments.models import Comment
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db

Status = Comment.Status


def cdata(text):
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def thread(dsq_id, link, *, title="A story", identifier="", forum="newsroom"):
    return f"""
  <thread dsq:id="{dsq_id}">
    <id>{identifier}</id>
    <forum>{forum}</forum>
    <category dsq:id="1" />
    <link>{link}</link>
    <title>{cdata(title)}</title>
    <message />
    <createdAt>2019-12-31T08:00:00Z</createdAt>
    <author><name>Desk</name><isAnonymous>false</isAnonymous><username>desk</username></author>
    <isClosed>false</isClosed>
    <isDeleted>false</isDeleted>
  </thread>"""


def post(
    dsq_id,
    thread_id,
    *,
    parent=None,
    message=None,
    name="Reader",
    email="reader@example.org",
    username="reader",
    spam=False,
    deleted=False,
    created="2020-01-02T10:00:00Z",
):
    message = f"<p>Post {dsq_id}.</p>" if message is None else message
    parent_tag = f'<parent dsq:id="{parent}" />' if parent else ""
    return f"""
  <post dsq:id="{dsq_id}">
    <id />
    <message>{cdata(message)}</message>
    <createdAt>{created}</createdAt>
    <isDeleted>{str(deleted).lower()}</isDeleted>
    <isSpam>{str(spam).lower()}</isSpam>
    <author>
      <email>{email}</email>
      <name>{name}</name>
      <isAnonymous>false</isAnonymous>
      <username>{username}</username>
    </author>
    <ipAddress>198.51.100.7</ipAddress>
    <thread dsq:id="{thread_id}" />
    {parent_tag}
  </post>"""


def export(*parts):
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<disqus xmlns="http://disqus.com" '
        'xmlns:dsq="http://disqus.com/disqus-internals" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        '  <category dsq:id="1"><forum>newsroom</forum><title>General</title></category>'
        + "".join(parts)
        + "\n</disqus>\n"
    )


@pytest.fixture
def write_disqus(tmp_path):
    counter = iter(range(1000))

    def write(*parts, raw=None):
        path = tmp_path / f"disqus-{next(counter)}.xml"
        path.write_text(raw if raw is not None else export(*parts), encoding="utf-8")
        return path

    return write


def run_import(path, *args):
    out = StringIO()
    call_command("import_disqus", str(path), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def by_post(dsq_id):
    return Comment.objects.get(import_key=f"disqus:newsroom:{dsq_id}")


def test_threads_match_articles_by_path_whatever_the_host(write_disqus):
    article = ArticleFactory(slug="city-budget")
    path = write_disqus(
        thread(10, "http://old-domain.example.net/articles/city-budget/?utm=x"),
        post(1, 10, message="<p>Hello <b>there</b> &amp; welcome.</p><p>Second.</p>"),
        post(2, 10, name="", username="anon42", email="not-an-email"),
    )

    out = run_import(path)

    first, second = by_post(1), by_post(2)
    assert first.article == article
    assert first.body == "Hello there & welcome.\n\nSecond."
    assert first.body_is_html
    assert "<p>Hello <b>there</b> &amp; welcome.</p>" in first.body_html
    assert first.author_name == "Reader" and first.author_email == "reader@example.org"
    assert first.created_at.isoformat() == "2020-01-02T10:00:00+00:00"
    assert first.ip_address == "198.51.100.7"
    assert second.author_name == "anon42" and second.author_email == ""
    assert "Threads: 1 matched, 0 unmatched" in out
    assert "Comments: 2 created, 0 updated, 0 unchanged" in out
    assert "2 approved" in out


def test_message_html_is_sanitized_with_the_comment_allowlist(write_disqus):
    ArticleFactory(slug="story")
    path = write_disqus(
        thread(10, "https://x.example/articles/story/"),
        post(
            1,
            10,
            message='<p>See <a href="https://example.org/a" onclick="x()">this</a>'
            "<script>alert(1)</script> <h2>Big</h2></p>",
        ),
        post(2, 10, message="Just text"),
    )

    run_import(path)

    html = by_post(1).body_html
    assert '<a href="https://example.org/a" rel="nofollow ugc">this</a>' in html
    assert "script" not in html and "alert" not in html and "onclick" not in html
    assert "<h2>" not in html and "Big" in html
    assert by_post(2).body_html == "<p>Just text</p>" and not by_post(2).body_is_html


def test_url_map_moves_old_paths_to_new_articles(write_disqus, tmp_path):
    article = ArticleFactory(slug="new-name")
    url_map = tmp_path / "map.csv"
    url_map.write_text("old path,new path\n/2019/05/old-name.html,/articles/new-name/\n")
    path = write_disqus(thread(10, "https://news.example.com/2019/05/old-name.html"), post(1, 10))

    out = run_import(path, "--url-map", str(url_map))

    assert by_post(1).article == article
    assert "1 matched" in out


def test_reply_before_its_parent_keeps_the_threading(write_disqus):
    ArticleFactory(slug="story")
    path = write_disqus(
        thread(10, "https://x.example/articles/story/"),
        post(3, 10, parent=2, created="2020-01-02T12:00:00Z"),
        post(2, 10, parent=1, created="2020-01-02T11:00:00Z"),
        post(1, 10, created="2020-01-02T10:00:00Z"),
        post(4, 10, parent=999),
    )

    out = run_import(path)

    root, reply, deeper = by_post(1), by_post(2), by_post(3)
    assert reply.parent == root and deeper.parent == reply
    assert (root.level, reply.level, deeper.level) == (0, 1, 2)
    assert root.tree_id == deeper.tree_id and root.lft < reply.lft < deeper.lft < root.rght
    assert by_post(4).parent is None
    assert "post 4 (parent 999)" in out


def test_spam_deleted_and_approved_statuses_and_replies_of_deleted_kept(write_disqus):
    ArticleFactory(slug="story")
    path = write_disqus(
        thread(10, "https://x.example/articles/story/"),
        post(1, 10, deleted=True, message=""),
        post(2, 10, parent=1),
        post(3, 10, spam=True),
    )

    out = run_import(path)

    assert by_post(1).status == Status.REMOVED
    assert by_post(2).status == Status.APPROVED and by_post(2).parent == by_post(1)
    assert by_post(3).status == Status.SPAM
    assert "1 approved" in out and "1 spam" in out and "1 removed" in out


def test_second_run_adds_nothing(write_disqus):
    ArticleFactory(slug="story")
    path = write_disqus(
        thread(10, "https://x.example/articles/story/"), post(1, 10), post(2, 10, parent=1)
    )
    run_import(path)

    out = run_import(path)

    assert Comment.objects.count() == 2
    assert "Comments: 0 created, 0 updated, 2 unchanged" in out


def test_new_reply_in_a_later_export_joins_the_existing_thread(write_disqus):
    ArticleFactory(slug="story")
    link = "https://x.example/articles/story/"
    run_import(write_disqus(thread(10, link), post(1, 10)))

    out = run_import(write_disqus(thread(10, link), post(1, 10), post(2, 10, parent=1)))

    assert by_post(2).parent == by_post(1)
    assert "1 created, 0 updated, 1 unchanged" in out
    call_command("comments_check", stdout=StringIO())


def test_dry_run_writes_nothing(write_disqus):
    ArticleFactory(slug="story")
    path = write_disqus(thread(10, "https://x.example/articles/story/"), post(1, 10))

    out = run_import(path, "--dry-run")

    assert not Comment.objects.exists()
    assert "dry run, nothing was written" in out
    assert "1 created" in out


def test_unmatched_threads_are_reported_with_their_links(write_disqus):
    ArticleFactory(slug="story")
    path = write_disqus(
        thread(10, "https://x.example/articles/gone/", title="Gone"),
        thread(11, "https://x.example/about/"),
        thread(12, "https://x.example/articles/never-commented/"),
        post(1, 10),
        post(2, 11),
    )

    out = run_import(path)

    assert not Comment.objects.exists()
    assert "Threads: 0 matched, 2 unmatched, 1 without comments" in out
    assert "https://x.example/articles/gone/ — thread 10 “Gone”, 1 comments" in out
    assert "https://x.example/about/" in out
    assert "2 comments on unmatched threads" in out


def test_malformed_xml_is_a_command_error_naming_the_line(write_disqus):
    ArticleFactory(slug="story")
    text = export(thread(10, "https://x.example/articles/story/"), post(1, 10))
    path = write_disqus(raw=text.replace("</post>", "</pots>"))

    with pytest.raises(CommandError, match=r"line \d+, column \d+: mismatched tag.*Nothing"):
        run_import(path)
    assert not Comment.objects.exists()


def test_not_a_disqus_file_is_refused(write_disqus):
    path = write_disqus(raw='<?xml version="1.0"?><rss><channel /></rss>')

    with pytest.raises(CommandError, match="not a Disqus export"):
        run_import(path)


def test_bad_date_is_refused_naming_the_post(write_disqus):
    ArticleFactory(slug="story")
    path = write_disqus(
        thread(10, "https://x.example/articles/story/"), post(7, 10, created="yesterday")
    )

    with pytest.raises(CommandError, match="post 7: <createdAt> is 'yesterday', not a date"):
        run_import(path)


def test_entity_declarations_are_refused(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE disqus [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;">]><disqus xmlns="http://disqus.com">&b;</disqus>'
    )

    with pytest.raises(DisqusError, match="refused unsafe XML"):
        import_disqus(path)


def test_external_entities_are_refused(write_disqus, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    path = write_disqus(
        raw=f'<?xml version="1.0"?><!DOCTYPE disqus [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<disqus xmlns="http://disqus.com">&x;</disqus>'
    )

    with pytest.raises(CommandError, match="refused unsafe XML"):
        run_import(path)


def test_missing_file_and_bad_url_map_are_command_errors(write_disqus, tmp_path):
    with pytest.raises(CommandError, match="can't read it"):
        run_import(tmp_path / "nope.xml")
    bad_map = tmp_path / "map.csv"
    bad_map.write_text("/only-one-cell/\n")
    with pytest.raises(CommandError, match="URL map line 1"):
        run_import(write_disqus(), "--url-map", str(bad_map))


def test_queries_do_not_grow_with_comment_count(write_disqus, django_assert_max_num_queries):
    ArticleFactory(slug="story")
    posts = [post(n, 10, email=f"r{n}@example.org") for n in range(1, 201)]
    path = write_disqus(thread(10, "https://x.example/articles/story/"), *posts)

    with django_assert_max_num_queries(40):
        import_disqus(path)
    assert Comment.objects.count() == 200


def test_a_temporary_directory_that_cannot_be_written_is_one_message(
    write_disqus, tmp_path, monkeypatch
):
    """The posts are spooled to a temporary file (bounded memory): a temporary directory
    that can't be written refuses the import with a message naming it and TMPDIR, never a
    traceback, and nothing is written."""
    ArticleFactory(slug="story")
    path = write_disqus(thread(10, "https://x.example/articles/story/"), post(1, 10))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))

    with pytest.raises(CommandError, match="can't write the temporary copy of the export in "):
        run_import(path)
    assert not Comment.objects.exists()
