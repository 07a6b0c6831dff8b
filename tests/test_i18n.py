"""Every string translated: the site in German for a reader whose browser asks for it (or
who chose it in the footer), English otherwise, and a German catalogue with no entry left
untranslated (docs/translation.md)."""

import gettext
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation

from comments.models import Comment
from tests.browser.conftest import require
from tests.factories import ArticleFactory, CommentFactory, StaffFactory
from tests.html import NS, comments_section, parse, text_of

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale" / "de" / "LC_MESSAGES"
# The command docs/translation.md gives for updating a catalogue.
MAKEMESSAGES = [
    "makemessages",
    "--ignore=tests",
    "--ignore=benchmarks",
    "--ignore=staticfiles",
    "--ignore=test-artifacts",
    "--add-location=file",
    "--no-obsolete",
]
GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
A_DATE = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    """A request activates its reader's language in the test's thread; don't let German
    leak into the next test."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def story(db):
    return ArticleFactory(title="The riverside park", published_at=A_DATE)


def heading(response):
    return text_of(comments_section(parse(response)).find("h:h2", NS))


def html_lang(response):
    return parse(response).get("lang")


# --- the article page ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("approved", "german", "english"),
    [
        (0, "Keine Antworten auf „The riverside park“", "No Responses to “The riverside park”"),
        (1, "1 Antwort auf „The riverside park“", "1 Response to “The riverside park”"),
        (2, "2 Antworten auf „The riverside park“", "2 Responses to “The riverside park”"),
    ],
)
def test_comment_heading_counts_in_the_readers_language(story, approved, german, english):
    for _ in range(approved):
        CommentFactory(article=story)
    assert heading(Client().get(story.get_absolute_url(), **GERMAN)) == german
    assert heading(Client().get(story.get_absolute_url(), **ENGLISH)) == english


@pytest.mark.parametrize(
    ("approved", "german"), [(0, "Keine Antworten"), (1, "1 Antwort"), (2, "2 Antworten")]
)
def test_home_page_comment_counts_are_german(story, approved, german):
    for _ in range(approved):
        CommentFactory(article=story)
    doc = parse(Client().get(reverse("articles:list"), **GERMAN))
    assert text_of(doc.find(".//h:a[@class='comment-count']", NS)) == german


def test_german_article_page_says_lang_de_and_dates_follow_the_locale(story):
    german = Client().get(story.get_absolute_url(), **GERMAN)
    assert html_lang(german) == "de"
    assert german["Content-Language"] == "de"
    time = parse(german).find(".//h:p[@class='byline']/h:time", NS)
    assert text_of(time) == "10. November 2026"
    english = Client().get(story.get_absolute_url(), **ENGLISH)
    assert html_lang(english) == "en"
    assert text_of(parse(english).find(".//h:p[@class='byline']/h:time", NS)) == (
        "November 10, 2026"
    )


def test_a_browser_asking_for_no_offered_language_gets_the_default(story):
    response = Client().get(story.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="fr")
    assert html_lang(response) == settings.LANGUAGE_CODE == "en"


def test_the_comment_form_and_its_script_labels_are_german(story):
    doc = parse(Client().get(story.get_absolute_url(), **GERMAN))
    respond = doc.find(".//h:section[@id='respond']", NS)
    assert text_of(respond.find("h:h2", NS)) == "Schreiben Sie einen Kommentar"
    # comments.js retitles the form from these when a Reply link moves it.
    assert respond.get("data-leave-reply-label") == "Schreiben Sie einen Kommentar"
    assert respond.get("data-replying-to-label") == "Antwort an %(name)s"
    labels = [text_of(label) for label in respond.iter(f"{{{NS['h']}}}label")]
    assert "Kommentar *" in labels
    assert "E-Mail *" in labels
    button = respond.find(".//h:button[@type='submit']", NS)
    assert text_of(button) == "Kommentar abschicken"


def test_the_reply_heading_without_javascript_is_german(story):
    parent = CommentFactory(article=story, author_name="Ada")
    response = Client().get(f"{story.get_absolute_url()}?replyto={parent.pk}", **GERMAN)
    reply_title = parse(response).find(".//h:h2[@id='reply-title']", NS)
    assert text_of(reply_title) == "Antwort an Ada"


def visible_texts(response):
    """Every text node and reader-facing attribute of the page's own chrome (the
    article's and comments' content is made of neutral tokens, see below)."""
    doc = parse(response)
    texts = set()
    for element in doc.iter():
        if not isinstance(element.tag, str) or element.tag.endswith(("script", "style")):
            continue
        for text in (element.text, element.tail):
            if text and text.strip():
                texts.add(" ".join(text.split()))
        for name in ("aria-label", "title", "alt", "placeholder"):
            if element.get(name):
                texts.add(element.get(name))
        texts.update(value for key, value in element.attrib.items() if key.endswith("-label"))
    return texts


# What reads the same in both languages: names (of the site, its feeds, the languages in
# the chooser, each in its own language) and words German borrowed.
SAME_IN_BOTH = {
    "threadpress", "threadpress (Atom)", "RSS", "Atom", "Sitemap", "English", "Deutsch",
    "Name", "Website",
    "Esc",  # the key's label on German keyboards too
}  # fmt: skip


def test_no_english_is_left_on_the_german_pages(story, comment_data, settings):
    """Every text of the article page, its form with errors, the home page and the 404
    page differs between English and German, except names and symbols: a string left
    out of the catalogue or never marked for translation shows up here."""
    settings.COMMENTS_THREADS_PER_PAGE = 1
    story.title, story.summary, story.body = "T0", "S0", "B0"
    story.author.first_name, story.author.last_name = "N0", ""
    story.author.save()
    story.save()
    first = CommentFactory(article=story, author_name="N1", body="B1")
    CommentFactory(parent=first, author_name="N2", body="B2")
    CommentFactory(article=story, author_name="N3", body="B3")  # a second comments page

    def pages(headers):
        client = Client()
        post_url = reverse("comments:post", args=[story.slug])
        return {
            "article": client.get(story.get_absolute_url(), **headers),
            "page 2": client.get(f"{story.get_absolute_url()}?cpage=2", **headers),
            "form errors": client.post(post_url, comment_data(body="", email="x"), **headers),
            "home": client.get(reverse("articles:list"), **headers),
            "not found": client.get("/no-such-page/", **headers),
        }

    content = re.compile(r"\b[TSBN][0-3]\b")  # the article's and comments' own words
    english, german = pages(ENGLISH), pages(GERMAN)
    for name, response in german.items():
        same = visible_texts(response) & visible_texts(english[name])
        untranslated = {
            text
            for text in same - SAME_IN_BOTH
            if re.search(r"[A-Za-z]{2}", text) and not content.search(text)
        }
        assert untranslated == set(), f"{name}: English left on the German page"


# --- the form's errors and refusals -------------------------------------------------------
def test_comment_form_errors_are_german(story, comment_data):
    response = Client().post(
        reverse("comments:post", args=[story.slug]),
        comment_data(body="", name="", email="not-an-address"),
        **GERMAN,
    )
    assert response.status_code == 400
    doc = parse(response)
    summary = doc.find(".//h:div[@id='comment-form-errors']", NS)
    assert text_of(summary) == "Bitte korrigieren Sie die Fehler unten; Ihr Text bleibt erhalten."
    errors = {
        span.get("id"): text_of(span)
        for span in doc.iter(f"{{{NS['h']}}}span")
        if span.get("class") == "field-error"
    }
    assert errors == {
        "id_body_error": "Bitte schreiben Sie einen Kommentar.",
        "id_name_error": "Bitte geben Sie Ihren Namen ein.",
        "id_email_error": "Geben Sie eine gültige E-Mail-Adresse ein, etwa name@example.com.",
    }
    assert html_lang(response) == "de"


def test_a_refused_duplicate_is_explained_in_german(story, comment_data):
    CommentFactory(article=story, author_email="ada@example.org", body="Same again.")
    response = Client().post(
        reverse("comments:post", args=[story.slug]),
        comment_data(body="Same again."),
        **GERMAN,
    )
    assert response.status_code == 409
    summary = parse(response).find(".//h:div[@id='comment-form-errors']", NS)
    assert text_of(summary) == (
        "Doppelter Kommentar: Es sieht so aus, als hätten Sie das bereits geschrieben!"
    )


# --- emails -------------------------------------------------------------------------------
def test_a_reply_notification_is_written_in_german(
    story, comment_data, django_capture_on_commit_callbacks
):
    parent = CommentFactory(
        article=story, author_name="Ada", author_email="ada@example.net", notify_replies=True
    )
    CommentFactory(article=story, author_email="bo@example.org")  # Bo's comments are approved
    data = comment_data(name="Bo", email="bo@example.org", body="Agreed.", parent=parent.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(reverse("comments:post", args=[story.slug]), data, **GERMAN)
    assert response.status_code == 303
    (message,) = mail.outbox
    assert message.to == ["ada@example.net"]
    assert message.subject == (
        "[threadpress] Neue Antwort auf Ihren Kommentar zu „The riverside park“"
    )
    assert message.body.startswith("Hallo Ada,\n\nBo hat auf Ihren Kommentar zu „The riverside")
    assert "Antwort lesen: http" in message.body
    assert "Diese E-Mails abbestellen (ein Klick, ohne Anmeldung): http" in message.body


def test_a_held_comment_email_to_moderators_is_german(
    story, comment_data, django_capture_on_commit_callbacks
):
    moderator = StaffFactory(username="mod", email="mod@example.com")
    moderator.groups.add(Group.objects.get(name="Moderators"))
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(reverse("comments:post", args=[story.slug]), comment_data(), **GERMAN)
    (message,) = mail.outbox
    assert message.subject == "[threadpress] Kommentar zu „The riverside park“ zurückgehalten"
    assert message.body.startswith("Ein Kommentar wartet auf Moderation.")
    assert "Artikel: The riverside park" in message.body
    # The rules' reason is data for moderators, stored and shown in English.
    assert "Grund: held: first comment from this email" in message.body


# --- admin, feeds -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("count", "message"),
    [(1, "1 Kommentar wurde freigegeben."), (2, "2 Kommentare wurden freigegeben.")],
)
def test_admin_action_message_is_german(superuser, story, count, message):
    pending = [CommentFactory(article=story, status=Comment.Status.PENDING) for _ in range(count)]
    client = Client()
    client.force_login(superuser)
    response = client.post(
        reverse("admin:comments_comment_changelist"),
        {"action": "approve_selected", "_selected_action": [c.pk for c in pending]},
        follow=True,
        **GERMAN,
    )
    assert [str(m) for m in response.context["messages"]] == [message]
    assert html_lang(response) == "de"


def test_comment_feeds_are_titled_in_german(story):
    CommentFactory(article=story, author_name="Ada")
    site = feedparser.parse(Client().get(reverse("comments:feed"), **GERMAN).content)
    assert site.feed.title == "threadpress: neueste Kommentare"
    assert site.feed.subtitle == "Die neuesten Leserkommentare auf threadpress."
    assert site.entries[0].title == "Ada zu „The riverside park“"
    one = feedparser.parse(
        Client().get(reverse("comments:article-feed", args=[story.slug]), **GERMAN).content
    )
    assert one.feed.title == "Kommentare zu „The riverside park“"


def test_the_default_tagline_is_translated_and_a_sites_own_is_shown_as_set(story, settings):
    feed = feedparser.parse(Client().get(reverse("articles:feed"), **GERMAN).content)
    assert feed.feed.subtitle == "Nachrichten – und der Streit darüber."
    settings.SITE_TAGLINE = "Lokales aus Kleinstadt"
    doc = parse(Client().get(reverse("articles:list"), **GERMAN))
    assert text_of(doc.find(".//h:p[@class='site-tagline']", NS)) == "Lokales aus Kleinstadt"


# --- choosing a language, and the page cache ----------------------------------------------
def chooser(response):
    form = parse(response).find(".//h:form[@class='language-chooser']", NS)
    fields = {
        field.get("name"): field.get("value")
        for field in form.iter(f"{{{NS['h']}}}input")
        if field.get("name")
    }
    options = {o.get("value"): text_of(o) for o in form.iter(f"{{{NS['h']}}}option")}
    return form, fields, options


def test_the_footer_chooser_offers_each_language_in_its_own_name(story):
    form, fields, options = chooser(Client().get(story.get_absolute_url()))
    assert form.get("action") == reverse("set_language")
    assert form.get("method") == "post"
    assert options == {"en": "English", "de": "Deutsch"}
    selected = [o.get("value") for o in form.iter(f"{{{NS['h']}}}option") if "selected" in o.attrib]
    assert selected == ["en"]


@pytest.mark.parametrize("query", ["", "?cpage=1", "?csort=newest"])
def test_the_chooser_returns_to_the_pages_path_whatever_address_rendered_it(story, query):
    """Never the query of whichever request rendered a page the cache then shares."""
    _form, fields, _options = chooser(Client().get(f"{story.get_absolute_url()}{query}"))
    assert fields["next"] == story.get_absolute_url()


def test_choosing_german_in_the_footer_switches_the_site_by_cookie(story):
    """The chooser works without JavaScript and with the CSRF check on, on the page the
    anonymous cache serves (whose token is each reader's own)."""
    Client().get(story.get_absolute_url())  # the shared page is cached
    reader = Client(enforce_csrf_checks=True)
    _form, fields, _options = chooser(reader.get(story.get_absolute_url()))
    assert "tp-hole-" not in fields["csrfmiddlewaretoken"]
    response = reader.post(reverse("set_language"), {**fields, "language": "de"})
    assert response.status_code == 302
    assert response["Location"] == story.get_absolute_url()
    assert reader.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    german = reader.get(story.get_absolute_url())  # no Accept-Language: the cookie decides
    assert html_lang(german) == "de"
    assert heading(german) == "Keine Antworten auf „The riverside park“"
    _form, fields, options = chooser(german)
    response = reader.post(reverse("set_language"), {**fields, "language": "en"})
    assert html_lang(reader.get(response["Location"])) == "en"


def test_the_cached_page_in_one_language_is_never_served_in_the_other(story):
    CommentFactory(article=story)
    english = Client().get(story.get_absolute_url(), **ENGLISH)  # fills the cache in English
    german = Client().get(story.get_absolute_url(), **GERMAN)
    english_again = Client().get(story.get_absolute_url(), **ENGLISH)
    assert heading(english) == heading(english_again) == "1 Response to “The riverside park”"
    assert heading(german) == "1 Antwort auf „The riverside park“"
    for response in (english, german, english_again):
        vary = {value.strip() for value in response["Vary"].split(",")}
        assert {"Accept-Language", "Cookie"} <= vary  # for any cache in front, too


# --- settings -----------------------------------------------------------------------------
def settings_in_subprocess(environment, expression):
    env = {**os.environ, "DJANGO_DEBUG": "1", **environment}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'site_config.settings'; "
        f"from django.conf import settings; print({expression})"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_languages_come_from_django_languages_and_the_first_is_the_default():
    result = settings_in_subprocess(
        {"DJANGO_LANGUAGES": "de,en"}, "settings.LANGUAGE_CODE, settings.LANGUAGES"
    )
    assert result.stdout.strip() == "de [('de', 'German'), ('en', 'English')]", result.stderr


def test_an_unknown_language_code_stops_the_site_with_a_clear_message():
    result = settings_in_subprocess({"DJANGO_LANGUAGES": "en,klingon"}, "settings.LANGUAGES")
    assert result.returncode != 0
    assert "DJANGO_LANGUAGES must list language codes Django knows" in result.stderr
    assert "unknown: klingon" in result.stderr


# --- the catalogue ------------------------------------------------------------------------
def gettext_tool(name):
    path = shutil.which(name)
    require(
        path is not None,
        f"{name} not found: install GNU gettext (Debian: apt-get install gettext; "
        "bash .ci/install-browser-tools.sh does it)",
    )
    return path


def msgfmt_statistics(po_file):
    """msgfmt's own check (format strings, headers, plurals) and its counts."""
    result = subprocess.run(
        [gettext_tool("msgfmt"), "--check", "--statistics", "-o", os.devnull, str(po_file)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.strip()


def test_makemessages_on_a_fresh_copy_leaves_no_german_entry_untranslated(tmp_path):
    """What a newcomer's `makemessages -l de` finds in today's code: every message of
    every template, Python module and email is already translated, none fuzzy."""
    gettext_tool("xgettext")
    copy = tmp_path / "threadpress"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".*", "__pycache__", "*.egg-info", "db.sqlite3*", "staticfiles", "test-artifacts",
            "screenshots", "node_modules", "*.mo",
        ),
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "manage.py", *MAKEMESSAGES, "--locale=de"],
        cwd=copy,
        env={**os.environ, "DJANGO_DEBUG": "1"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    statistics = msgfmt_statistics(copy / "locale" / "de" / "LC_MESSAGES" / "django.po")
    assert "untranslated" not in statistics and "fuzzy" not in statistics, (
        f"{statistics}: run `python manage.py {' '.join(MAKEMESSAGES)} --locale=de`, "
        "translate the new entries and compile (docs/translation.md)"
    )


def test_the_committed_catalogue_is_complete_and_compiled(tmp_path):
    """The committed .mo is what msgfmt makes of the committed .po (message for message),
    so the site needs no gettext tools to run."""
    po_file, mo_file = CATALOGUE / "django.po", CATALOGUE / "django.mo"
    statistics = msgfmt_statistics(po_file)
    assert "untranslated" not in statistics and "fuzzy" not in statistics, statistics
    fresh = tmp_path / "django.mo"
    subprocess.run([gettext_tool("msgfmt"), "-o", str(fresh), str(po_file)], check=True)
    with mo_file.open("rb") as committed, fresh.open("rb") as compiled:
        assert gettext.GNUTranslations(committed)._catalog == (
            gettext.GNUTranslations(compiled)._catalog
        ), "locale/de/LC_MESSAGES/django.mo is stale: run compilemessages (docs/translation.md)"


def test_a_reader_with_a_language_cookie_is_served_the_shared_page_of_that_language(
    story, monkeypatch
):
    """The language chooser's cookie is no reason to render per reader: the language is
    part of the cache key, so the German page is shared by every German reader."""
    from site_config.pagecache import PageSkeleton

    built, served = [], []
    real_cut, real_response_for = PageSkeleton.cut.__func__, PageSkeleton.response_for

    def recording_cut(cls, *args, **kwargs):
        built.append(True)
        return real_cut(cls, *args, **kwargs)

    def recording_response_for(self, request):
        served.append(True)
        return real_response_for(self, request)

    monkeypatch.setattr(PageSkeleton, "cut", classmethod(recording_cut))
    monkeypatch.setattr(PageSkeleton, "response_for", recording_response_for)
    CommentFactory(article=story)
    headings = []
    for language in ("de", "de", "en"):
        reader = Client()
        reader.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        headings.append(heading(reader.get(story.get_absolute_url())))
    assert headings == [
        "1 Antwort auf „The riverside park“",
        "1 Antwort auf „The riverside park“",
        "1 Response to “The riverside park”",
    ]
    assert len(served) == 3  # every one of them got the shared page of their language
    assert len(built) == 2  # built once per language
