"""The moderation desk's markup lives in admin templates (admin/comments/comment/_*.html):
a site overrides them by name, and what readers typed is escaped there."""

import pytest
from django.test import Client
from django.urls import reverse

from comments.models import Comment, CommentRevision
from tests.factories import CommentFactory
from tests.html import NS, classes, parse, text_of

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:comments_comment_changelist"


@pytest.fixture
def admin_client_(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def queue_cells(response):
    """``{comment id: {column: <td>}}`` of the changelist."""
    rows = {}
    for tr in parse(response).findall(".//h:table[@id='result_list']/h:tbody/h:tr", NS):
        pk = int(tr.find(".//h:input[@name='_selected_action']", NS).get("value"))
        rows[pk] = {
            css.removeprefix("field-"): cell
            for cell in tr
            for css in classes(cell)
            if css.startswith("field-")
        }
    return rows


@pytest.fixture
def site_templates(settings, tmp_path):
    """A site template directory listed before the apps' (TEMPLATES["DIRS"])."""
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [tmp_path, *engine["DIRS"]]}, *settings.TEMPLATES[1:]]

    def override(name, markup):
        path = tmp_path / "admin" / "comments" / "comment" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markup)

    return override


def test_a_site_overrides_a_queue_cell_by_template_name(admin_client_, site_templates):
    site_templates(
        "_author.html", '<span class="newsroom-author">{{ comment.author_name|upper }}</span>'
    )
    comment = CommentFactory(status=Comment.Status.PENDING, author_name="Rita")
    cells = queue_cells(admin_client_.get(reverse(CHANGELIST)))[comment.pk]
    span = cells["author"].find(".//h:span", NS)
    assert classes(span) == {"newsroom-author"}
    assert text_of(span) == "RITA"
    # The other cells keep the app's markup.
    badge = cells["status_badge"].find(".//h:span", NS)
    assert classes(badge) == {"comment-status", "comment-status--pending"}


def test_a_site_overrides_the_change_pages_thread_by_template_name(admin_client_, site_templates):
    site_templates("_thread.html", '<p class="newsroom-thread">{{ replies|length }} below</p>')
    root = CommentFactory()
    CommentFactory(parent=root)
    page = parse(admin_client_.get(reverse("admin:comments_comment_change", args=[root.pk])))
    assert text_of(page.find(".//h:p[@class='newsroom-thread']", NS)) == "1 below"
    assert page.find(".//h:ul[@class='comment-thread-context']", NS) is None


def test_the_desk_escapes_what_readers_typed(admin_client_):
    typed = '<script>alert("x")</script><b>bold</b>'
    parent = CommentFactory(author_name=typed)
    reply = CommentFactory(
        parent=parent,
        status=Comment.Status.PENDING,
        author_name=typed,
        author_email="rita@example.org",
        moderation_reason=typed,
    )
    CommentRevision.objects.create(comment=reply, body=typed)
    cells = queue_cells(admin_client_.get(reverse(CHANGELIST)))[reply.pk]
    for column in ("author", "thread_context", "status_badge"):
        assert cells[column].find(".//h:script", NS) is None
        assert cells[column].find(".//h:b", NS) is None
        assert typed in text_of(cells[column])
    page = parse(admin_client_.get(reverse("admin:comments_comment_change", args=[reply.pk])))
    for css in ("comment-thread-context", "comment-revisions"):
        block = page.find(f".//*[@class='{css}']", NS)
        assert block is not None
        assert block.find(".//h:script", NS) is None
        assert block.find(".//h:b", NS) is None
        assert typed in text_of(block)
