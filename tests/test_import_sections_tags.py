"""``import_wxr``: WordPress categories become sections, its tags become tags, matched by
slug (the WordPress nicename), so importing again creates nothing twice."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from articles.models import Section, Tag
from comments.wxr import import_wxr
from tests.test_import_wxr import cdata, imported_article, item, run_import
from tests.test_import_wxr import write_wxr as write_wxr  # the fixture

pytestmark = pytest.mark.django_db


DEFINITIONS = f"""
  <wp:category>
    <wp:term_id>3</wp:term_id>
    <wp:category_nicename>{cdata("news")}</wp:category_nicename>
    <wp:category_parent>{cdata("")}</wp:category_parent>
    <wp:cat_name>{cdata("News &amp; Politics")}</wp:cat_name>
    <wp:category_description>{cdata("What happened today.")}</wp:category_description>
  </wp:category>
  <wp:tag>
    <wp:term_id>7</wp:term_id>
    <wp:tag_slug>{cdata("python")}</wp:tag_slug>
    <wp:tag_name>{cdata("Python programming")}</wp:tag_name>
  </wp:tag>"""


def category(nicename, name, domain="category"):
    return f'<category domain="{domain}" nicename="{nicename}">{cdata(name)}</category>'


def tag(nicename, name):
    return category(nicename, name, domain="post_tag")


def test_categories_become_sections_and_tags_become_tags(write_wxr):
    """The item's category is the article's section and its post_tag categories its
    tags, named as the channel's definitions name them (the section's description too)."""
    path = write_wxr(
        item(1, last=tag("python", "Python") + tag("django", "Django")),
        channel_first=DEFINITIONS,
    )
    output = run_import(path)

    article = imported_article(1)
    assert (article.section.slug, article.section.name) == ("news", "News & Politics")
    assert article.section.description == "What happened today."
    assert sorted(article.tags.values_list("slug", "name")) == [
        ("django", "Django"),
        ("python", "Python programming"),
    ]
    assert "  Sections: 1 created, 0 existing" in output.splitlines()
    assert "  Tags: 2 created, 0 existing" in output.splitlines()


def test_importing_again_creates_no_section_or_tag_twice_and_changes_nothing(write_wxr):
    """Re-importing the same file finds the sections and tags by slug: nothing new,
    every article unchanged."""
    path = write_wxr(item(1, last=tag("python", "Python")), item(2, last=tag("python", "Python")))
    run_import(path)
    output = run_import(path)

    assert Section.objects.count() == 1 and Tag.objects.count() == 1
    assert "Articles: 0 created, 0 updated, 2 unchanged" in output
    assert "  Sections: 0 created, 1 existing" in output.splitlines()
    assert "  Tags: 0 created, 1 existing" in output.splitlines()


def test_an_existing_section_with_the_same_slug_is_used_as_it_is(write_wxr):
    """A section already here with the category's slug takes the articles; its name
    (chosen here) is kept."""
    section = Section.objects.create(name="Local news", slug="news")
    run_import(write_wxr(item(1)))

    assert imported_article(1).section == section
    assert list(Section.objects.values_list("name", flat=True)) == ["Local news"]


def test_a_name_held_by_another_slug_gets_the_slug_in_brackets(write_wxr):
    """Section and tag names are unique: a category named like a section of another slug
    becomes its own section, its slug added to the name."""
    Section.objects.create(name="News", slug="headlines")
    run_import(write_wxr(item(1)))

    assert imported_article(1).section.name == "News (news)"
    assert Section.objects.count() == 2


def test_the_section_is_the_first_category(write_wxr):
    """Without --section-from, a post in several categories goes to its first; the
    others make no section (an article has one)."""
    run_import(write_wxr(item(1, first=category("opinion", "Opinion"))))

    assert imported_article(1).section.slug == "opinion"
    assert list(Section.objects.values_list("slug", flat=True)) == ["opinion"]


def test_section_from_prefers_the_listed_categories_in_order(write_wxr):
    """--section-from: the first listed slug the post has wins, whatever its place in
    the post; a post with none of them keeps its first category."""
    path = write_wxr(
        item(1, first=category("opinion", "Opinion") + category("sport", "Sport")),
        item(2, first=category("opinion", "Opinion")),
    )
    run_import(path, "--section-from", "Sport, news")

    assert imported_article(1).section.slug == "sport"
    assert imported_article(2).section.slug == "news"


def test_section_from_without_slugs_is_refused():
    """An empty --section-from is an error that says what it needs, before any file."""
    with pytest.raises(CommandError, match="--section-from needs category slugs"):
        call_command("import_wxr", "missing.xml", "--section-from", " , ", stdout=StringIO())


def test_tags_added_here_are_kept_when_importing_again(write_wxr):
    """The file's tags are added to an article, never taken away: a tag an editor gave
    it after the import stays."""
    path = write_wxr(item(1, last=tag("python", "Python")))
    run_import(path)
    article = imported_article(1)
    article.tags.add(Tag.objects.create(name="Editors' pick", slug="editors-pick"))
    run_import(path)

    assert set(article.tags.values_list("slug", flat=True)) == {"python", "editors-pick"}


def test_non_latin_nicenames_get_a_stable_slug(write_wxr):
    """A percent-encoded nicename URLs can't hold as a slug gets ``term-`` and a hash,
    the same on every import."""
    nicename = "%d0%bd%d0%be%d0%b2%d0%be%d1%81%d1%82%d0%b8"
    path = write_wxr(item(1, last=tag(nicename, "Новости")))
    run_import(path)
    run_import(path)

    (slug, name), *others = Tag.objects.values_list("slug", "name")
    assert not others
    assert slug.startswith("term-") and len(slug) == 13
    assert name == "Новости"


def test_other_taxonomies_are_not_imported(write_wxr):
    """Post formats and plugins' taxonomies are neither sections nor tags."""
    path = write_wxr(item(1, first=category("post-format-aside", "Aside", domain="post_format")))
    run_import(path)

    assert imported_article(1).section.slug == "news"
    assert not Tag.objects.exists()


def test_a_bare_category_of_old_exports_is_a_category(write_wxr):
    """WXR 1.0 wrote ``<category>Name</category>`` without domain or nicename: the
    name's slug is the section's."""
    report = import_wxr(write_wxr(item(1, first=f"<category>{cdata('Reviews')}</category>")))

    assert imported_article(1).section.slug == "reviews"
    assert report.sections["created"] == 1


def test_a_taken_name_with_a_long_slug_still_fits(write_wxr):
    """The bracketed name is cut to fit the name's 100 characters, and numbered when even
    that is taken: the import never fails on a name."""
    slug = "s" * 100
    Tag.objects.create(name="Python", slug="python")
    Tag.objects.create(name=f"P ({slug})"[:100], slug="other")
    run_import(write_wxr(item(1, last=tag(slug, "Python"))))

    name = imported_article(1).tags.get().name
    assert len(name) <= 100 and name.endswith("(2)")
