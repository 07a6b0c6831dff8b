"""The word lists moderators edit in the admin: whole words after NFKC and case folding,
a trailing * for a prefix, in effect on the next post, no query on a warm cache, the
environment's keys still working beside them, and the words marked for moderators."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from comments import wordlists
from comments.models import Comment, ModerationWord
from tests.factories import ArticleFactory, StaffFactory
from tests.html import NS, parse, text_of

pytestmark = pytest.mark.django_db

Status = Comment.Status
Kind = ModerationWord.Kind
WORDS = "admin:comments_moderationword_changelist"
ADD_WORD = "admin:comments_moderationword_add"


@pytest.fixture(autouse=True)
def _no_flood(settings):
    settings.COMMENTS_FLOOD_SECONDS = 0


@pytest.fixture
def moderator():
    user = StaffFactory(username="mod")
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def moderator_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def regular(comment_factory):
    """ada@example.org has an approved comment: without a listed word she is approved."""
    return comment_factory(author_email="ada@example.org", status=Status.APPROVED)


def word(text, kind=Kind.SUSPECT):
    return ModerationWord.objects.create(word=wordlists.normalize_word(text), kind=kind)


def post(article, comment_data, *, client=None, **overrides):
    response = (client or Client()).post(
        reverse("comments:post", args=[article.slug]),
        comment_data(**overrides),
        REMOTE_ADDR="198.51.100.10",
    )
    assert response.status_code == 303, response.status_code
    return Comment.objects.latest("pk")


def add_word(client, text, kind):
    return client.post(reverse(ADD_WORD), {"word": text, "kind": kind})


# --- matching ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text", ["casino", "CASINO", "Ｃａｓｉｎｏ", "Try the Casino!", "(casino)"]
)
def test_a_word_matches_whole_words_whatever_their_case_and_width(text):
    word("casino")
    assert wordlists.suspect_word(text) == "casino"


@pytest.mark.parametrize("text", ["casinos", "microcasino", "casino_royale", "cas ino"])
def test_a_word_does_not_match_inside_another_word(text):
    word("casino")
    assert wordlists.suspect_word(text) is None


@pytest.mark.parametrize("text", ["casinos", "CASINOS", "Ｃａｓｉｎｏｓ", "casino"])
def test_a_trailing_star_matches_words_starting_with_it(text):
    word("casino*")
    assert wordlists.suspect_word(text) == "casino*"


def test_a_trailing_star_still_needs_a_word_start():
    word("casino*")
    assert wordlists.suspect_word("microcasinos") is None


def test_several_words_match_in_a_row_across_any_spacing():
    word("Free  Money")
    assert wordlists.suspect_word("Get FREE\n money now") == "free money"
    assert wordlists.suspect_word("free of money") is None


def test_text_is_normalised_like_the_words():
    word("ﬁnance")  # the ligature is stored as "finance"
    assert ModerationWord.objects.get().word == "finance"
    assert wordlists.suspect_word("FINANCE tips") == "finance"
    assert wordlists.suspect_word("straße") is None
    word("strasse")
    assert wordlists.suspect_word("Die STRAẞE") == "strasse"


# --- the rules -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field_value",
    [
        {"body": "Visit the CASINO tonight."},
        {"name": "Casino Bob"},
        {"email": "casino@example.org"},
        {"url": "https://casino.example"},
    ],
)
def test_a_banned_word_in_any_field_makes_the_comment_spam(
    article, comment_data, regular, field_value
):
    word("casino", Kind.BANNED)
    comment = post(article, comment_data, **field_value)
    assert (comment.status, comment.moderation_reason) == (
        Status.SPAM,
        "spam: banned word “casino”",
    )


def test_a_suspect_word_holds_the_comment(article, comment_data, regular):
    word("casino")
    comment = post(article, comment_data, body="Ｃａｓｉｎｏ night at the library?")
    assert (comment.status, comment.moderation_reason) == (
        Status.PENDING,
        "held: suspect word “casino”",
    )


def test_a_plural_passes_a_word_without_a_star(article, comment_data, regular):
    word("casino")
    assert post(article, comment_data, body="Casinos close early.").status == Status.APPROVED


def test_a_banned_word_wins_over_a_suspect_one(article, comment_data, regular):
    word("loan")
    word("casino", Kind.BANNED)
    comment = post(article, comment_data, body="A loan for the casino.")
    assert comment.status == Status.SPAM


def test_staff_are_trusted_before_the_lists(article, comment_data):
    word("casino", Kind.BANNED)
    client = Client()
    client.force_login(StaffFactory(username="reporter"))
    assert post(article, comment_data, client=client, body="casino").status == Status.APPROVED


def test_the_environment_keys_keep_matching_substrings(settings, article, comment_data, regular):
    """COMMENTS_DISALLOWED_KEYS and COMMENTS_MODERATION_KEYS are what they were: substrings,
    with their own reasons, checked before the admin's lists."""
    settings.COMMENTS_DISALLOWED_KEYS = ["viagra"]
    settings.COMMENTS_MODERATION_KEYS = ["casino"]
    word("casino", Kind.BANNED)
    spam = post(article, comment_data, body="cheapviagrapills")
    assert spam.moderation_reason == "spam: disallowed key “viagra”"
    held = post(article, comment_data, body="casinos")  # a substring; the word list: no
    assert (held.status, held.moderation_reason) == (
        Status.PENDING,
        "held: moderation key “casino”",
    )


def test_an_edit_adding_a_banned_word_is_spam(article, comment_data, regular):
    client = Client()
    comment = post(article, comment_data, client=client, body="A fine plan.")
    assert comment.status == Status.APPROVED
    word("casino", Kind.BANNED)
    client.post(reverse("comments:edit", args=[comment.pk]), {"body": "A fine casino plan."})
    comment.refresh_from_db()
    assert (comment.status, comment.moderation_reason) == (
        Status.SPAM,
        "spam: edited, banned word “casino”",
    )


# --- no restart, no query ----------------------------------------------------------------
def test_a_word_added_in_the_admin_holds_the_next_post(
    moderator_client, article, comment_data, regular
):
    assert post(article, comment_data, body="casino one").status == Status.APPROVED
    assert add_word(moderator_client, "Casino", Kind.SUSPECT).status_code == 302
    assert post(article, comment_data, body="casino two").status == Status.PENDING


def test_a_word_deleted_in_the_admin_no_longer_holds_the_next_post(
    moderator_client, article, comment_data, regular
):
    listed = word("casino")
    assert post(article, comment_data, body="casino one").status == Status.PENDING
    delete = reverse("admin:comments_moderationword_delete", args=[listed.pk])
    assert moderator_client.post(delete, {"post": "yes"}).status_code == 302
    assert post(article, comment_data, body="casino two").status == Status.APPROVED


def test_a_bulk_delete_in_the_admin_takes_effect_too(moderator_client, article):
    first, second = word("casino"), word("poker")
    assert wordlists.suspect_word("poker") == "poker"
    moderator_client.post(
        reverse(WORDS),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )
    assert not ModerationWord.objects.exists()
    assert wordlists.suspect_word("poker casino") is None


def test_a_change_made_by_another_process_is_seen_through_the_version(monkeypatch):
    """Another worker's edit reaches this one through the shared cache: a new version."""
    word("casino")
    assert wordlists.suspect_word("casino") == "casino"
    ModerationWord.objects.all().update(word="poker")  # no signal: as if elsewhere
    assert wordlists.suspect_word("poker") is None  # this process's compiled version
    wordlists.bump()  # what the other process's save did
    assert wordlists.suspect_word("poker") == "poker"


def test_a_warm_cache_costs_no_query(django_assert_num_queries):
    word("casino")
    wordlists.current()
    with django_assert_num_queries(0):
        assert wordlists.suspect_word("casino") == "casino"
        assert wordlists.banned_word("casino") is None


def test_another_process_reads_the_built_lists_from_the_cache(django_assert_num_queries):
    word("casino")
    wordlists.current()
    wordlists._compiled.clear()  # a fresh process, same cache
    with django_assert_num_queries(0):
        assert wordlists.suspect_word("casino") == "casino"


def test_a_change_costs_one_query_to_rebuild(django_assert_num_queries):
    wordlists.current()
    word("casino")
    with django_assert_num_queries(1):
        assert wordlists.suspect_word("casino") == "casino"


def test_a_dead_cache_falls_back_to_the_database(monkeypatch, article, comment_data, regular):
    word("casino")

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "add", down)
    assert wordlists.suspect_word("casino") == "casino"


# --- the admin -----------------------------------------------------------------------------
def test_a_moderator_opens_the_word_lists(moderator_client):
    word("casino")
    response = moderator_client.get(reverse(WORDS))
    assert response.status_code == 200
    assert "casino" in text_of(parse(response))


def test_staff_without_the_permission_get_403():
    client = Client()
    client.force_login(StaffFactory(username="nobody"))
    assert client.get(reverse(WORDS)).status_code == 403
    assert add_word(client, "casino", Kind.BANNED).status_code == 403
    assert not ModerationWord.objects.exists()


def test_a_word_is_stored_normalised_with_who_added_it(moderator_client, moderator):
    assert add_word(moderator_client, "  ＣＡＳＩＮＯ*  ", Kind.BANNED).status_code == 302
    stored = ModerationWord.objects.get()
    assert (stored.word, stored.kind, stored.created_by) == ("casino*", Kind.BANNED, moderator)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ca*sino", "Only a trailing * is allowed"),
        ("casino**", "End the word with a single *."),
        ("*", "Enter a word with at least one letter or digit."),
        ("   ", "This field is required."),
    ],
)
def test_a_malformed_word_is_refused(moderator_client, text, message):
    response = add_word(moderator_client, text, Kind.SUSPECT)
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors["word"])
    assert not ModerationWord.objects.exists()


def test_the_same_word_twice_in_one_list_is_refused(moderator_client):
    word("casino")
    response = add_word(moderator_client, "CASINO", Kind.SUSPECT)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert ModerationWord.objects.count() == 1
    assert add_word(moderator_client, "CASINO", Kind.BANNED).status_code == 302


def test_the_list_search_finds_the_stored_spelling(moderator_client):
    word("casino")
    response = moderator_client.get(reverse(WORDS), {"q": "ＣＡＳＩＮＯ"})
    assert [w.word for w in response.context["cl"].result_list] == ["casino"]


# --- marked for moderators ----------------------------------------------------------------
def marks(element):
    return [text_of(mark) for mark in element.iterfind(".//h:mark", NS)]


@pytest.fixture
def superuser_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def page(response):
    return parse(response.content.decode())


def queue_excerpt(client, comment):
    doc = page(client.get(reverse("admin:comments_comment_changelist"), {"status": "all"}))
    for row in doc.iterfind(".//h:table[@id='result_list']/h:tbody/h:tr", NS):
        if row.find(f".//h:input[@value='{comment.pk}']", NS) is not None:
            return row.find(".//h:th[@class='field-excerpt']", NS)
    raise AssertionError("comment not in the queue")


def test_the_queue_marks_the_listed_words_in_the_excerpt(moderator_client, comment_factory):
    word("casino")
    word("spam*", Kind.BANNED)
    comment = comment_factory(body="The CASINO sends spammy mail.", status=Status.PENDING)
    cell = queue_excerpt(moderator_client, comment)
    assert marks(cell) == ["CASINO", "spammy"]
    assert text_of(cell) == "The CASINO sends spammy mail."
    classes = [mark.get("class") for mark in cell.iterfind(".//h:mark", NS)]
    assert classes == ["word-suspect", "word-banned"]


def test_the_queue_excerpt_escapes_html_around_and_inside_marks(superuser_client, comment_factory):
    word("casino")
    body = '<script>alert("x")</script> <b>casino</b> <img src=x onerror=alert(1)>'
    comment = comment_factory(body=body, status=Status.PENDING)
    cell = queue_excerpt(superuser_client, comment)
    assert cell.find(".//h:script", NS) is None
    assert cell.find(".//h:img", NS) is None
    assert cell.find(".//h:b", NS) is None
    assert marks(cell) == ["casino"]
    assert '<script>alert("x")</script>' in text_of(cell)


def test_a_word_past_the_excerpt_is_shown_in_its_context(superuser_client, comment_factory):
    word("casino")
    body = "Filler words " * 12 + "then the casino at last, " + "and more words " * 10
    cell = queue_excerpt(superuser_client, comment_factory(body=body, status=Status.PENDING))
    assert marks(cell) == ["casino"]
    assert text_of(cell).startswith("…") and text_of(cell).endswith("…")


def test_a_comment_without_listed_words_keeps_its_plain_excerpt(superuser_client, comment_factory):
    comment = comment_factory(body="Nothing to see " * 10, status=Status.PENDING)
    cell = queue_excerpt(superuser_client, comment)
    assert marks(cell) == []
    assert text_of(cell) == comment.excerpt


def test_the_queue_reads_the_lists_once_per_page_and_not_at_all_when_warm(
    superuser_client, comment_factory
):
    word("casino")
    for _ in range(5):
        comment_factory(body="casino", status=Status.PENDING)

    def word_list_queries():
        with CaptureQueriesContext(connection) as context:
            superuser_client.get(reverse("admin:comments_comment_changelist"))
        return [q for q in context.captured_queries if "moderationword" in q["sql"]]

    assert len(word_list_queries()) == 1  # cold: built once for the page, not per row
    assert word_list_queries() == []


def test_the_change_page_lists_and_marks_the_words_found(superuser_client, comment_factory):
    word("casino")
    word("poker", Kind.BANNED)
    comment = comment_factory(
        author_name="Poker Pete", body="<i>Ｃａｓｉｎｏ</i>\nand more", status=Status.PENDING
    )
    doc = page(superuser_client.get(reverse("admin:comments_comment_change", args=[comment.pk])))
    field = doc.find(".//h:div[@class='form-row field-words_found']", NS)
    found = [text_of(p) for p in field.iterfind(".//h:div[@class='comment-words-found']/h:p", NS)]
    assert found == [
        "poker — Banned (spam), in the name",
        "casino — Suspect (hold for review), in the text",
    ]
    shown = field.find(".//h:blockquote[@class='comment-words-text']", NS)
    assert marks(shown) == ["Ｃａｓｉｎｏ"]
    assert shown.find(".//h:i", NS) is None
    assert shown.find(".//h:br", NS) is not None
    assert text_of(shown) == "<i>Ｃａｓｉｎｏ</i>and more"  # a <br> between


def test_the_change_page_says_when_no_word_was_found(superuser_client, comment_factory):
    comment = comment_factory(body="Plain.", status=Status.PENDING)
    doc = page(superuser_client.get(reverse("admin:comments_comment_change", args=[comment.pk])))
    field = doc.find(".//h:div[@class='form-row field-words_found']", NS)
    assert "No banned or suspect words." in text_of(field)


# --- finding and marking, on their own ------------------------------------------------------
def test_marks_map_back_onto_text_whose_normal_form_has_another_length():
    word("strasse")
    word("finance")
    text = "Die STRAẞE: ﬁnance e\u0301 ok"
    matches = wordlists.find(text)
    assert [text[m.start : m.end] for m in matches] == ["STRAẞE", "ﬁnance"]


def test_combining_marks_stay_with_their_letter():
    word("café")
    text = "Le cafe\u0301 noir"  # "é" as e + a combining accent
    (match,) = wordlists.find(text)
    assert text[match.start : match.end] == "cafe\u0301"


def test_highlight_escapes_everything_it_is_given():
    word("casino")
    text = "<casino> & \"casino\" 'x'"
    html = wordlists.highlight(text, wordlists.find(text))
    assert html.count("<mark") == 2
    assert "<casino>" not in html and "&lt;" in html and "&amp;" in html


def test_no_lists_leave_the_excerpt_alone():
    article = ArticleFactory()  # noqa: F841 (a database with no words at all)
    assert wordlists.excerpt("a <b> c") == "a &lt;b&gt; c"
