"""A site changes the comment markup with templates of the same names (docs/theming.md),
and what those templates receive: the comment, its depth, the reader's permissions and
its time in the reader's language and the site's time zone."""

import copy
import os
import zoneinfo
from datetime import UTC, datetime, timedelta, tzinfo
from traceback import extract_tb
from xml.etree import ElementTree

import markupsafe
import pytest
from django.template import engines
from django.utils import dateformat, formats, timezone, translation
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from markupsafe import Markup

from comments import rendering, threads
from comments.models import Comment
from comments.tree import Node, build_thread
from tests.factories import CommentFactory
from tests.html import (
    NS,
    classes,
    comment_ids,
    comments_section,
    parent_comment_map,
    parse,
    text_of,
)

pytestmark = pytest.mark.django_db

CUSTOM_COMMENT = (
    '<div class="my-comment" data-depth="{{ depth }}">'
    '<b class="who">{{ comment.author_name }}</b> {{ _("yes,no,maybe") }}'
    '<div class="what">{{ comment.body_html|safe }}</div></div>'
)


@pytest.fixture
def site_templates(tmp_path, settings):
    """A site's own template directory, listed before the app's (as the project's
    templates/ is): the files written into ``comments/`` there replace the app's."""
    (tmp_path / "comments").mkdir()
    templates = copy.deepcopy(settings.TEMPLATES)
    for backend in templates:
        backend["DIRS"] = [tmp_path, *backend["DIRS"]]
    settings.TEMPLATES = templates
    return tmp_path / "comments"


def restart(settings):
    """New template engines, as after a deploy (compiled templates are kept)."""
    settings.TEMPLATES = copy.deepcopy(settings.TEMPLATES)


def structure(html):
    """The thread's shape: every comment's id, classes and enclosing comment."""
    doc = parse(f"<!DOCTYPE html><html><body>{html}</body></html>")
    items = [
        (li.get("id"), sorted(classes(li)))
        for li in doc.iter(f"{{{NS['h']}}}li")
        if "comment" in classes(li)
    ]
    return items, parent_comment_map(doc)


def discussion(article):
    root = CommentFactory(article=article, author_name="Ada <Lovelace>")
    reply = CommentFactory(article=article, parent=root, author_name="Bob")
    removed = CommentFactory(article=article, status=Comment.Status.REMOVED)
    CommentFactory(article=article, parent=removed, author_name="Cy")
    return root, reply


def test_a_site_comment_template_replaces_every_comment_and_nothing_else(
    client, article, settings, site_templates
):
    root, reply = discussion(article)
    default = threads.render_page(article, use_cache=False).html
    (site_templates / "comment.html").write_text(CUSTOM_COMMENT)
    restart(settings)

    themed = threads.render_page(article, use_cache=False).html
    assert structure(themed) == structure(default)  # the same list, nesting and classes
    doc = parse(client.get(article.get_absolute_url()))
    section = comments_section(doc)
    mine = section.findall(".//h:div[@class='my-comment']", NS)
    # The removed comment's placeholder too, with nothing of what was removed.
    assert [text_of(div.find("h:b", NS)) for div in mine] == ["Ada <Lovelace>", "Bob", "", "Cy"]
    assert [div.get("data-depth") for div in mine] == ["1", "2", "1", "2"]
    assert section.find(".//h:article[@class='comment-body']", NS) is None
    # The rest of the page is the app's.
    assert comment_ids(doc)[:2] == [f"comment-{root.pk}", f"comment-{reply.pk}"]
    assert text_of(section.find("h:h2", NS)) == f"3 Responses to “{article.title}”"
    assert doc.find(".//h:form[@id='comment-form']", NS) is not None
    assert section.find(".//h:button[@class='thread-toggle']", NS) is not None


def test_a_site_thread_template_replaces_the_list(client, article, site_templates):
    discussion(article)
    (site_templates / "thread.html").write_text(
        '<div class="my-thread">{% for item in items %}'
        '<section id="c{{ item.comment.pk }}">{{ item.html }}</section>{% endfor %}</div>'
    )
    doc = parse(client.get(article.get_absolute_url()))
    section = comments_section(doc)
    assert section.find(".//h:ol[@class='comment-list']", NS) is None
    themed = section.findall(".//h:div[@class='my-thread']/h:section", NS)
    assert len(themed) == 4
    # Each item's html is the app's comments/comment.html.
    assert themed[0].find("h:article[@class='comment-body']", NS) is not None


def test_the_templates_translations_follow_the_readers_language(article, site_templates):
    """``_("…")`` is translated when a template is compiled, once per language: each
    language gets its own, whichever rendered first."""
    CommentFactory(article=article)
    (site_templates / "comment.html").write_text('<i class="t">{{ _("yes,no,maybe") }}</i>')
    seen = {}
    for language in ("de", "en", "de", "fr"):
        with translation.override(language):
            html = threads.render_page(article, use_cache=False).html
            expected = translation.gettext("yes,no,maybe")
        seen[language] = expected
        assert text_of(parse(html).find(".//h:i", NS)) == expected
    assert len(set(seen.values())) == 3


# --- what comments/comment.html receives -----------------------------------------------
CONTEXT_DUMP = (
    '<p id="c{{ comment.pk }}" data-depth="{{ depth }}" data-notice="{{ notice }}"'
    ' data-flags="{% for name in flags %}{% if flags[name] %}{{ name }} {% endif %}{% endfor %}"'
    ' data-urls="{{ [reply_url, edit_url, withdraw_url, report_url]|select|join(" ") }}">'
)


def node(pk, *, parent=None, level=0, status="approved"):
    return Node(
        pk=pk,
        parent_id=parent,
        level=level,
        status=status,
        author_name=f"Reader {pk}",
        created_at=datetime(2026, 3, 1, 12, tzinfo=UTC),
    )


def test_comment_template_gets_the_readers_permissions_for_each_comment(site_templates):
    (site_templates / "comment.html").write_text(
        "{% set flags = {'can_reply': can_reply, 'can_edit': can_edit, "
        "'can_withdraw': can_withdraw, 'can_report': can_report, "
        "'has_reported': has_reported, 'is_own_pending': is_own_pending} %}" + CONTEXT_DUMP
    )
    nodes = [
        node(1),  # someone else's: reply and report
        node(2, parent=1, level=1),  # reported by the reader already
        node(3, parent=1, level=1),  # the reader's own, still editable, with a notice
        node(4, status="pending"),  # the reader's own, held
        node(5, status="pending"),  # someone else's held comment: not shown
    ]
    shown = build_thread(nodes, max_depth=6, own_ids={3, 4})
    html = rendering.render_thread(
        shown,
        article_url="/a/",
        personal=True,
        editable_ids={3},
        reported_ids={2},
        notices={3: rendering.NOTICE_UPDATED},
        page_query="cpage=2",
    )
    doc = parse(html)
    got = {
        p.get("id"): (p.get("data-depth"), p.get("data-flags").split(), p.get("data-notice"))
        for p in doc.iter(f"{{{NS['h']}}}p")
    }
    assert got == {
        "c1": ("1", ["can_reply", "can_report"], "None"),
        "c2": ("2", ["can_reply", "has_reported"], "None"),
        "c3": ("2", ["can_reply", "can_edit", "can_withdraw"], "updated"),
        "c4": ("1", ["can_withdraw", "is_own_pending"], "None"),
    }
    urls = {p.get("id"): p.get("data-urls").split() for p in doc.iter(f"{{{NS['h']}}}p")}
    assert urls["c1"] == ["/a/?cpage=2&replyto=1#respond", "/comments/1/report/"]
    assert urls["c2"] == ["/a/?cpage=2&replyto=2#respond"]
    assert urls["c3"] == [
        "/a/?cpage=2&replyto=3#respond",
        "/comments/3/edit/",
        "/comments/3/withdraw/",
    ]
    assert urls["c4"] == ["/comments/4/withdraw/"]


# --- dates -------------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_comment_time_reads_as_django_formats_it_in_the_readers_language(
    client, article, settings, language, time_zone
):
    settings.TIME_ZONE = time_zone
    created = datetime(2026, 7, 31, 23, 30, 59, 123456, tzinfo=UTC)
    comment = CommentFactory(article=article, created_at=created)
    response = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=language)
    time = parse(response).find(f".//h:li[@id='comment-{comment.pk}']//h:time", NS)
    local = timezone.localtime(created, zoneinfo.ZoneInfo(time_zone))
    with translation.override(language):
        expected = formats.date_format(local, "DATETIME_FORMAT")
    assert time.get("datetime") == local.isoformat(timespec="seconds")
    assert text_of(time) == " ".join(expected.split())


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    moments=st.lists(
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
        min_size=1,
        max_size=8,
    ),
    language=st.sampled_from(["en", "de", "fr", "ja"]),
    time_zone=st.sampled_from(["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu"]),
    date_format=st.sampled_from(
        [
            None,  # the language's DATETIME_FORMAT
            r"F j, Y \a\t g:i a",
            "F j, Y",  # the day only (the ISO text still has the second)
            "D, d M Y H:i:s",  # seconds
            "l jS F Y, P",  # noon and midnight
            "N j, Y, f A",
            "c",  # the instant itself: formatted whole
            "j.n.y G:i T",  # the zone's abbreviation: formatted whole
        ]
    ),
)
def test_comment_times_are_exactly_djangos_date_format(moments, language, time_zone, date_format):
    """Each piece of the text is computed once per day, hour or minute and reused:
    the result is Django's own formatting of every value, DST changes included."""
    zone = zoneinfo.ZoneInfo(time_zone)
    # Comments close together (sharing days, hours, minutes) and far apart.
    values = [m.replace(tzinfo=UTC) for m in moments]
    values += [v + timedelta(seconds=s) for v in values[:2] for s in (1, 59, 3600, 86400)]
    with translation.override(language), timezone.override(zone):
        times = rendering.CommentTimes(date_format)
        fmt = date_format or formats.get_format("DATETIME_FORMAT")
        for value in values:
            local = timezone.localtime(value)
            assert times(value) == (
                local.isoformat(timespec="seconds"),
                dateformat.format(local, fmt),
            )


# --- one render for the whole thread -------------------------------------------------
def engine_env():
    return engines["jinja2"].env.localized()


def render_alone(monkeypatch, article):
    """The thread with every comment rendered by comments/comment.html on its own (no
    inlining): what the one-render thread must print, byte for byte."""
    with monkeypatch.context() as patch:
        patch.setattr(rendering, "inline_comments", lambda env, names: (None, names))
        patch.setattr(engine_env(), "inlined_comments", None, raising=False)
        return threads.render_page(article, use_cache=False).html


def test_a_site_comment_template_inside_the_thread_prints_what_it_prints_alone(
    article, settings, site_templates, monkeypatch
):
    """comments/comment.html is compiled into the thread where thread.html prints
    ``{{ item.html }}``; there it sees the names it gets alone and no others (the
    thread's ``item`` and ``items`` are undefined to it), with its own sets and loops."""
    discussion(article)
    dee = CommentFactory(
        article=article, author_name="Dee & <Co>", author_url="https://dee.example/"
    )
    (site_templates / "comment.html").write_text(
        "{% set who = comment.author_name|upper %}"
        '<p class="c" data-seen="{{ [item is defined, items is defined,'
        ' last_ends is defined, edit_url is defined]|join(",") }}">'
        "{{ who }} {{ depth }} {{ author_url }} {{ reply_count_label }}"
        "{% if can_report %} {{ report_url }}{% endif %}"
        "{% for n in range(2) %}{{ loop.index }}{% endfor %} {{ _('Reply') }}"
        "{{ comment.body_html|safe }}</p>"
    )
    restart(settings)
    with translation.override("en"):
        assert rendering.Page(engine_env()).inlined is not None  # one render, inlined
        html = threads.render_page(article, use_cache=False).html
        assert html == render_alone(monkeypatch, article)

    paragraphs = parse(html).findall(".//h:p[@class='c']", NS)
    assert len(paragraphs) == 5
    assert {p.get("data-seen") for p in paragraphs} == {"False,False,False,False"}
    assert text_of(paragraphs[4]) == (
        f"DEE & <CO> 1 https://dee.example/ /comments/{dee.pk}/report/12 Reply"
    )


def test_a_comment_template_that_includes_another_is_rendered_for_each_comment(
    client, article, settings, site_templates
):
    """A comment template that includes or extends others is not compiled into the
    thread (an include would see the thread's names): it is rendered on its own, as
    ``item.html``, and shows the same."""
    discussion(article)
    (site_templates / "_who.html").write_text('<b class="who">{{ comment.author_name }}</b>')
    (site_templates / "comment.html").write_text(
        '<div class="mine">{% include "comments/_who.html" %}</div>'
    )
    restart(settings)
    assert rendering.Page(engine_env()).inlined is None
    section = comments_section(parse(client.get(article.get_absolute_url())))
    names = [text_of(b) for b in section.findall(".//h:div[@class='mine']/h:b", NS)]
    assert names == ["Ada <Lovelace>", "Bob", "", "Cy"]


def test_item_html_is_the_same_markup_printed_directly_or_through_a_filter(
    article, settings, site_templates
):
    """Printed directly in the loop, ``item.html`` is the comment template compiled into
    the thread; anywhere else it is rendered on its own: the same markup."""
    discussion(article)
    (site_templates / "thread.html").write_text(
        "{% for item in items %}<section>{{ item.html }}</section>"
        "<aside>{{ item.html|safe }}</aside>{% endfor %}"
    )
    restart(settings)
    doc = parse(threads.render_page(article, use_cache=False).html)
    sections = doc.findall(".//h:section", NS)
    asides = doc.findall(".//h:aside", NS)
    assert len(sections) == len(asides) == 4
    for section, aside in zip(sections, asides, strict=True):
        assert ElementTree.tostring(section).replace(b"section", b"aside") == (
            ElementTree.tostring(aside)
        )


def test_an_error_in_a_site_comment_template_names_its_file_and_line(
    article, settings, site_templates
):
    CommentFactory(article=article)
    path = site_templates / "comment.html"
    path.write_text("<p>\n{{ comment.pk }}\n{{ comment.pk // 0 }}</p>\n")
    restart(settings)
    with pytest.raises(ZeroDivisionError) as raised:
        threads.render_page(article, use_cache=False)
    frames = [(frame.filename, frame.lineno) for frame in extract_tb(raised.value.__traceback__)]
    assert (str(path), 3) in frames


def test_in_development_a_changed_comment_template_shows_at_the_next_render(
    article, settings, site_templates
):
    """With DEBUG, Jinja2 reloads a changed template; the thread compiled with it
    follows (it is compiled again for the new pair of templates)."""
    settings.DEBUG = True
    CommentFactory(article=article)
    path = site_templates / "comment.html"
    path.write_text('<i class="first">{{ comment.pk }}</i>')
    restart(settings)
    assert "first" in threads.render_page(article, use_cache=False).html
    path.write_text('<i class="second">{{ comment.pk }}</i>')
    modified = path.stat().st_mtime + 10  # a later time, whatever the clock's resolution
    os.utime(path, (modified, modified))
    html = threads.render_page(article, use_cache=False).html
    assert "second" in html
    assert "first" not in html


class Trusted:
    def __init__(self, html):
        self.html = html

    def __html__(self):
        return self.html


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.text(),
        st.text(alphabet="<>&'\"ab ").map(Markup),
        st.text(alphabet="<>&'\"ab ").map(Trusted),
        st.integers(),
        st.floats(allow_nan=False),
        st.none(),
        st.booleans(),
        st.lists(st.text(alphabet="<>&'\"ab"), max_size=3),
    )
)
def test_a_printed_value_is_escaped_exactly_as_markupsafe_escapes_it(value):
    """Templates print through site_config.jinja2.escape_output, which skips the
    ``Markup`` markupsafe wraps each value in, not the escaping."""
    template = engine_env().from_string("[{{ value }}]")
    assert template.render(value=value) == f"[{markupsafe.escape(value)}]"


def test_comment_times_tell_apart_the_hour_that_comes_twice():
    """When summer time ends, 02:30 comes twice: the same text, two offsets."""
    first = datetime(2026, 10, 25, 0, 30, 5, tzinfo=UTC)  # 02:30:05 summer time in Berlin
    second = first + timedelta(hours=1)  # 02:30:05 again, winter time
    with translation.override("en"), timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        times = rendering.CommentTimes()
        got = [times(value) for value in (first, second, first + timedelta(seconds=50))]
    assert [iso for iso, _text in got] == [
        "2026-10-25T02:30:05+02:00",
        "2026-10-25T02:30:05+01:00",
        "2026-10-25T02:30:55+02:00",
    ]
    assert got[0][1] == got[1][1]


class ShiftInMidMinute(tzinfo):
    """+01:00, then +02:00 from 12:00:30 UTC on 1 March 2026."""

    switch = datetime(2026, 3, 1, 12, 0, 30)

    def fromutc(self, value):
        utc = value.replace(tzinfo=None)
        return (utc + timedelta(hours=1 if utc < self.switch else 2)).replace(tzinfo=self)

    def utcoffset(self, value):
        before = value.replace(tzinfo=None) < self.switch + timedelta(hours=1)
        return timedelta(hours=1 if before else 2)

    def dst(self, value):
        return timedelta(0)


@pytest.mark.parametrize(
    ("zone", "minute"),
    [
        # Liberia left its offset of -0:44:30 in the middle of this UTC minute.
        (zoneinfo.ZoneInfo("Africa/Monrovia"), datetime(1972, 1, 7, 0, 44, tzinfo=UTC)),
        # Amsterdam's old offset was +0:19:32: local minutes do not start with UTC's.
        (zoneinfo.ZoneInfo("Europe/Amsterdam"), datetime(1920, 1, 1, 12, 0, tzinfo=UTC)),
        # Whole hours on both sides, changing at 30 seconds past a minute.
        (ShiftInMidMinute(), datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
    ],
)
def test_comment_times_in_a_minute_whose_offset_changes_or_has_seconds(zone, minute):
    """Times of one UTC minute share their text and offset only where the zone's offset
    is whole minutes and the same all minute long; elsewhere each is converted."""
    values = [minute + timedelta(seconds=s) for s in (0, 29, 30, 59)]
    with translation.override("en"), timezone.override(zone):
        times = rendering.CommentTimes()
        fmt = formats.get_format("DATETIME_FORMAT")
        for value in values:
            local = timezone.localtime(value)
            assert times(value) == (
                local.isoformat(timespec="seconds"),
                dateformat.format(local, fmt),
            )
