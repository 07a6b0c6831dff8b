"""Reactions: one positive reaction per reader and comment, toggled; only on approved
comments of public articles; never a status change, never a cache key; counts on the
shared page at most ``COMMENTS_REACTION_COUNTS_SECONDS`` stale."""

import threading

import pytest
from django.conf import settings as django_settings
from django.db import IntegrityError, connections
from django.test import Client
from django.urls import reverse

from articles.models import Article
from comments import reactions, threads
from comments.models import Comment, Reaction
from tests.factories import ArticleFactory, CommentFactory, UserFactory
from tests.html import NS, parse, text_of

pytestmark = pytest.mark.django_db

Status = Comment.Status
ENGINE = django_settings.DATABASES["default"]["ENGINE"]


@pytest.fixture
def comment(article):
    return CommentFactory(article=article)


@pytest.fixture
def reader(db):
    return UserFactory(username="reader")


def signed_in(user, **extra):
    client = Client(**extra)
    client.force_login(user)
    return client


def react_url(comment):
    return reverse("comments:react", args=[comment.pk])


def post_json(client, comment, **data):
    return client.post(react_url(comment), data, HTTP_ACCEPT="application/json")


def button_of(doc, comment):
    """The reaction button of ``comment`` as the browser parses the page (or None)."""
    li = doc.find(f".//h:li[@id='comment-{comment.pk}']", NS)
    return li.find(".//h:button[@class='comment-reaction']", NS)


def shown_count(client, comment):
    button = button_of(parse(client.get(comment.article.get_absolute_url())), comment)
    return int(text_of(button.find(".//h:span[@class='comment-reaction-count']", NS)))


@pytest.fixture
def clock(monkeypatch):
    """The reaction counts' clock, moved by hand (no sleeping)."""
    now = [1_000_000.0]
    monkeypatch.setattr(reactions.shared_counts, "clock", lambda: now[0])
    return now


# --- the service ------------------------------------------------------------------------
def test_a_reader_toggles_a_reaction_on_and_off(comment, reader):
    assert reactions.toggle(comment, user=reader) == (True, 1)
    assert Reaction.objects.filter(comment=comment, user=reader).count() == 1
    assert reactions.toggle(comment, user=reader) == (False, 0)
    assert not Reaction.objects.exists()
    comment.refresh_from_db()
    assert comment.reaction_count == 0


def test_asking_for_a_reaction_twice_keeps_one(comment, reader):
    """The script sends the state it wants: the second "on" changes nothing."""
    assert reactions.toggle(comment, user=reader, want=True) == (True, 1)
    assert reactions.toggle(comment, user=reader, want=True) == (True, 1)
    assert reactions.toggle(comment, user=reader, want=False) == (False, 0)
    assert reactions.toggle(comment, user=reader, want=False) == (False, 0)


def test_a_second_reaction_of_one_reader_is_refused_by_the_database(comment, reader):
    Reaction.objects.create(comment=comment, user=reader)
    with pytest.raises(IntegrityError):
        Reaction.objects.create(comment=comment, user=reader)


def test_a_double_click_that_races_past_the_check_counts_once(comment, reader, monkeypatch):
    """Two requests of one reader that both saw "no reaction yet": the second insert
    hits the constraint, and the count is not raised twice."""
    reactions.toggle(comment, user=reader)
    real_exists = type(Reaction.objects.all()).exists
    monkeypatch.setattr(type(Reaction.objects.all()), "exists", lambda qs: False)
    assert reactions.toggle(comment, user=reader, want=True) == (True, 1)
    monkeypatch.setattr(type(Reaction.objects.all()), "exists", real_exists)
    assert Reaction.objects.filter(comment=comment).count() == 1
    comment.refresh_from_db()
    assert comment.reaction_count == 1


def test_many_readers_add_up(comment):
    for n in range(5):
        reactions.toggle(comment, user=UserFactory(username=f"r{n}"))
    comment.refresh_from_db()
    assert comment.reaction_count == 5 == comment.reactions.count()


@pytest.mark.parametrize("status", [Status.PENDING, Status.SPAM, Status.REMOVED])
def test_a_comment_that_is_not_public_takes_no_reaction(article, reader, status):
    hidden = CommentFactory(article=article, status=status)
    with pytest.raises(reactions.NotReactable):
        reactions.toggle(hidden, user=reader)
    assert not Reaction.objects.exists()


def test_a_reaction_never_changes_the_status_or_the_articles_version(comment, reader):
    moderated = comment.moderated_at
    version = Article.objects.get(pk=comment.article_id).comments_version
    reactions.toggle(comment, user=reader)
    reactions.toggle(comment, user=UserFactory(username="other"))
    comment.refresh_from_db()
    assert (comment.status, comment.moderated_at) == (Status.APPROVED, moderated)
    assert Article.objects.get(pk=comment.article_id).comments_version == version


def test_a_reader_cannot_react_to_their_own_comment(article, reader):
    own = CommentFactory(article=article, user=reader)
    with pytest.raises(reactions.ReactionRefused):
        reactions.toggle(own, user=reader)


def test_an_anonymous_reader_needs_the_setting(comment, settings):
    settings.COMMENTS_ANONYMOUS_REACTIONS = False
    with pytest.raises(reactions.ReactionRefused) as refused:
        reactions.toggle(comment, session_key="abc", ip_address="198.51.100.7")
    assert refused.value.code == "sign-in"


def test_anonymous_reactions_are_once_per_session_and_per_network(comment, settings):
    settings.COMMENTS_ANONYMOUS_REACTIONS = True
    assert reactions.toggle(comment, session_key="s1", ip_address="198.51.100.7") == (True, 1)
    # Another session on the same /24: the same reader as far as anyone can tell.
    with pytest.raises(reactions.ReactionRefused) as refused:
        reactions.toggle(comment, session_key="s2", ip_address="198.51.100.99")
    assert refused.value.status == 409
    # The same IPv6 /64, written differently, is one network too.
    assert reactions.toggle(comment, session_key="s3", ip_address="2001:db8:1:2::1")[0]
    with pytest.raises(reactions.ReactionRefused):
        reactions.toggle(comment, session_key="s4", ip_address="2001:db8:1:2:ffff::9")
    # Another network reacts; the first session takes its reaction back.
    assert reactions.toggle(comment, session_key="s5", ip_address="203.0.113.9") == (True, 3)
    assert reactions.toggle(comment, session_key="s1", ip_address="198.51.100.7") == (False, 2)


@pytest.mark.skipif("postgresql" not in ENGINE, reason="row locks and real threads: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_clicks_of_one_reader_make_one_reaction():
    comment = CommentFactory()
    reader = UserFactory(username="clicker")
    barrier = threading.Barrier(6)
    errors = []

    def click():
        try:
            barrier.wait()
            reactions.toggle(comment, user=reader, want=True)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=click) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    comment.refresh_from_db()
    assert comment.reaction_count == 1 == Reaction.objects.filter(comment=comment).count()


def test_the_label_is_a_setting_and_translated_by_default(settings):
    from django.utils import translation

    with translation.override("de"):
        assert reactions.label() != "" and isinstance(reactions.label(), str)
    settings.COMMENTS_REACTION_LABEL = "Like"
    assert reactions.label() == "Like"


# --- the endpoint -----------------------------------------------------------------------
def test_the_script_gets_json(comment, reader):
    client = signed_in(reader)
    response = post_json(client, comment, reacted="true")
    assert response.status_code == 200
    assert response.json() == {"reacted": True, "count": 1}
    assert post_json(client, comment).json() == {"reacted": False, "count": 0}


def test_without_javascript_the_form_goes_back_to_the_comment(comment, reader):
    response = signed_in(reader).post(react_url(comment), {"csort": "newest"})
    assert response.status_code == 303
    assert response["Location"] == threads.comment_url(comment, sort="newest")
    assert response["Location"].endswith(f"#comment-{comment.pk}")
    assert Reaction.objects.filter(comment=comment, user=reader).exists()


def test_an_anonymous_reader_is_asked_to_sign_in(comment, settings):
    settings.COMMENTS_ANONYMOUS_REACTIONS = False
    response = Client().post(react_url(comment))
    assert response.status_code == 303
    assert response["Location"].startswith(reactions.sign_in_url("")[: -len("?next=")])
    assert "next=" in response["Location"] and f"comment-{comment.pk}" in response["Location"]
    answer = post_json(Client(), comment)
    assert answer.status_code == 403
    assert answer.json()["login_url"] == response["Location"]
    assert not Reaction.objects.exists()


def test_anonymous_reactions_through_the_endpoint(comment, settings):
    settings.COMMENTS_ANONYMOUS_REACTIONS = True
    first = Client(REMOTE_ADDR="198.51.100.7")
    assert post_json(first, comment).json() == {"reacted": True, "count": 1}
    neighbour = Client(REMOTE_ADDR="198.51.100.8")  # a new session, the same /24
    refused = post_json(neighbour, comment)
    assert refused.status_code == 409 and refused.json()["error"]
    # Without JavaScript the refusal is a message at the comment.
    back = neighbour.post(react_url(comment), follow=False)
    assert back.status_code == 303 and back["Location"].endswith(f"#comment-{comment.pk}")
    assert Comment.objects.get(pk=comment.pk).reaction_count == 1
    # The reader who reacted sees their pressed button and the count at once.
    button = button_of(parse(first.get(comment.article.get_absolute_url())), comment)
    assert button.get("aria-pressed") == "true"


@pytest.mark.parametrize("status", [Status.PENDING, Status.REMOVED])
def test_reacting_to_a_comment_that_is_not_public_is_a_404(article, reader, status, settings):
    hidden = CommentFactory(article=article, status=status)
    assert signed_in(reader).post(react_url(hidden)).status_code == 404
    assert post_json(signed_in(reader), hidden).status_code == 404
    settings.COMMENTS_ANONYMOUS_REACTIONS = False
    assert Client().post(react_url(hidden)).status_code == 404  # no hint it exists
    hidden.refresh_from_db()
    assert hidden.status == status and hidden.reaction_count == 0


def test_a_comment_of_an_unpublished_article_takes_no_reaction(reader):
    draft = ArticleFactory(status=Article.Status.DRAFT)
    hidden = CommentFactory(article=draft)
    assert signed_in(reader).post(react_url(hidden)).status_code == 404


def test_reacting_needs_a_post_with_a_csrf_token(comment, reader):
    client = signed_in(reader, enforce_csrf_checks=True)
    assert client.get(react_url(comment)).status_code == 405
    assert post_json(client, comment).status_code == 403
    assert not Reaction.objects.exists()
    # With the token of the page's reactions form, it works.
    doc = parse(client.get(comment.article.get_absolute_url()))
    form = doc.find(".//h:form[@id='comment-reactions']", NS)
    token = form.find(".//h:input[@name='csrfmiddlewaretoken']", NS).get("value")
    response = client.post(
        react_url(comment), {"csrfmiddlewaretoken": token}, HTTP_ACCEPT="application/json"
    )
    assert response.json() == {"reacted": True, "count": 1}


def test_own_comment_is_refused_at_the_endpoint(article, reader):
    own = CommentFactory(article=article, user=reader)
    response = post_json(signed_in(reader), own)
    assert response.status_code == 403
    doc = parse(signed_in(reader).get(article.get_absolute_url()))
    assert button_of(doc, own) is None  # and no button is offered


# --- the page ---------------------------------------------------------------------------
def test_each_public_comment_has_a_labelled_toggle_button_posting_the_sections_form(comment):
    doc = parse(Client().get(comment.article.get_absolute_url()))
    button = button_of(doc, comment)
    assert button.get("type") in (None, "submit")
    assert button.get("aria-pressed") == "false"
    assert button.get("formaction") == react_url(comment)
    assert text_of(button) == "Respect: 0"  # its accessible name, the colon for screen readers
    form = doc.find(f".//h:form[@id='{button.get('form')}']", NS)
    assert form.get("method") == "post"
    assert form.find(".//h:input[@name='csrfmiddlewaretoken']", NS).get("value")
    assert "tp-keyed" not in Client().get(comment.article.get_absolute_url()).content.decode()


def test_a_signed_in_reader_sees_their_pressed_state_and_the_exact_count(comment, reader):
    client = signed_in(reader)
    assert shown_count(client, comment) == 0
    client.post(react_url(comment))
    doc = parse(client.get(comment.article.get_absolute_url()))
    assert button_of(doc, comment).get("aria-pressed") == "true"
    assert shown_count(client, comment) == 1
    # Nobody else's button is pressed by it.
    others = parse(Client().get(comment.article.get_absolute_url()))
    assert button_of(others, comment).get("aria-pressed") == "false"


def test_reactions_never_re_render_the_cached_page(comment, reader, monkeypatch, settings):
    """A hot thread receiving reactions keeps serving its cached page: same key, no render."""
    settings.COMMENTS_REACTION_COUNTS_SECONDS = 0  # the counts come fresh; the page stays
    url = comment.article.get_absolute_url()
    Client().get(url)  # the shared page and the thread are cached
    version = Article.objects.public_version(comment.article.slug)
    key_before = version.key("page")
    renders = []
    real_render = threads.render_thread
    monkeypatch.setattr(
        threads, "render_thread", lambda *a, **k: renders.append(1) or real_render(*a, **k)
    )
    for n in range(5):
        reactions.toggle(comment, user=UserFactory(username=f"fan{n}"))
        assert shown_count(Client(), comment) == n + 1
    assert renders == []
    assert Article.objects.public_version(comment.article.slug).key("page") == key_before


def test_anonymous_counts_are_at_most_the_setting_stale(comment, reader, clock, settings):
    settings.COMMENTS_REACTION_COUNTS_SECONDS = 10
    assert shown_count(Client(), comment) == 0  # the counts are read (t = 0)
    reactions.toggle(comment, user=reader)
    clock[0] += 9.9
    assert shown_count(Client(), comment) == 0  # within 10 s: still the map of t = 0
    clock[0] += 0.1
    assert shown_count(Client(), comment) == 1  # 10 s after they were read: fresh


def test_a_shared_page_hit_reads_no_counts_from_the_database(
    comment, django_assert_num_queries, settings
):
    settings.COMMENTS_REACTION_COUNTS_SECONDS = 10
    Client().get(comment.article.get_absolute_url())
    with django_assert_num_queries(1):  # the article's version, as before reactions
        response = Client().get(comment.article.get_absolute_url())
    assert text_of(button_of(parse(response), comment)) == "Respect: 0"


def test_the_label_setting_shows_on_the_button(comment, settings):
    settings.COMMENTS_REACTION_LABEL = "Good point"
    doc = parse(Client().get(comment.article.get_absolute_url()))
    assert text_of(button_of(doc, comment)) == "Good point: 0"


def test_a_comment_that_is_not_public_has_no_button(article, reader, comment_data, settings):
    settings.COMMENTS_FLOOD_SECONDS = 0
    client = Client()
    client.post(reverse("comments:post", args=[article.slug]), comment_data(body="Mine"))
    mine = Comment.objects.get()
    assert mine.status == Status.PENDING
    doc = parse(client.get(article.get_absolute_url()))
    assert doc.find(f".//h:li[@id='comment-{mine.pk}']", NS) is not None
    assert button_of(doc, mine) is None
