"""The German site end to end in Chromium: a reader whose browser asks for German posts,
meets an error, replies; a moderator approves in the German admin; a reader switches
language in the footer. The German pages are valid HTML too."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from comments.models import Comment
from tests.browser.conftest import axe_violations, vnu_errors
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GERMAN_BROWSER = {"locale": "de-DE"}  # Accept-Language: de-DE
READER = {"name": "Grete Leserin", "email": "grete@example.org"}


def comment_li(page, pk):
    return page.locator(f"li#comment-{pk}")


def fill_reader(page):
    page.fill("#id_name", READER["name"])
    page.fill("#id_email", READER["email"])


def posted_comment(page, *, after=None):
    """The comment the page landed on after a post (its URL ends in #comment-<pk>)."""
    landed = re.compile(r"#comment-(\d+)$")
    if after is not None:
        expect(page).not_to_have_url(re.compile(rf"#comment-{after.pk}$"))
    expect(page).to_have_url(landed)
    return Comment.objects.get(pk=int(landed.search(page.url).group(1)))


def test_a_german_reader_posts_meets_an_error_and_replies(new_page, live_server, deep_article):
    page = new_page(**GERMAN_BROWSER)
    page.goto(deep_article.get_absolute_url())
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("#comments-title")).to_have_text(f"8 Antworten auf „{deep_article.title}“")
    expect(page.locator("#reply-title")).to_have_text("Schreiben Sie einen Kommentar")

    # An error: nothing written.
    fill_reader(page)
    page.get_by_role("button", name="Kommentar abschicken").click()
    expect(page.locator("#comment-form-errors")).to_have_text(
        "Bitte korrigieren Sie die Fehler unten; Ihr Text bleibt erhalten."
    )
    expect(page.locator("#comment-form-errors")).to_be_focused()
    expect(page.locator("#id_body_error")).to_have_text("Bitte schreiben Sie einen Kommentar.")
    expect(page.locator("#id_name")).to_have_value(READER["name"])

    # Posted: the reader's own comment, waiting for a moderator.
    page.fill("#id_body", "Ein erster Kommentar.")
    page.get_by_role("button", name="Kommentar abschicken").click()
    own = posted_comment(page)
    assert own.body == "Ein erster Kommentar."
    expect(comment_li(page, own.pk).locator(".comment-awaiting-moderation")).to_have_text(
        "Ihr Kommentar wartet auf Moderation."
    )

    # A reply: the script moves the form and retitles it with the page's German labels.
    target = deep_article.chain[1]
    link = comment_li(page, target.pk).locator("> .comment-body .comment-reply-link")
    expect(link).to_have_text(re.compile(r"^Antworten"))
    link.click()
    expect(comment_li(page, target.pk).locator("> #respond")).to_be_visible()
    expect(page.locator("#reply-title")).to_have_text(f"Antwort an {target.author_name}")
    page.get_by_role("link", name="Antwort abbrechen").click()
    expect(page.locator("#reply-title")).to_have_text("Schreiben Sie einen Kommentar")
    link.click()
    expect(page.locator("#id_body")).to_be_focused()
    page.keyboard.type("Eine Antwort darauf.")
    fill_reader(page)  # not remembered: the box was left unticked
    page.locator("#respond").get_by_role("button", name="Kommentar abschicken").click()
    reply = posted_comment(page, after=own)
    assert reply.parent_id == target.pk
    assert reply.body == "Eine Antwort darauf."
    nested = page.locator(f"li#comment-{target.pk} > ol.children > li#comment-{reply.pk}")
    expect(nested).to_be_visible()
    assert page.js_errors == []


def test_a_german_moderator_approves_and_is_told_so_in_german(new_page, live_server, deep_article):
    reader = new_page(**GERMAN_BROWSER)
    reader.goto(f"{deep_article.get_absolute_url()}?replyto={deep_article.chain[0].pk}#respond")
    expect(reader.locator("#reply-title")).to_have_text(
        f"Antwort an {deep_article.chain[0].author_name}"
    )
    reader.fill("#id_body", "Bitte freigeben.")
    fill_reader(reader)
    reader.get_by_role("button", name="Kommentar abschicken").click()
    pending = posted_comment(reader)
    assert pending.status == Comment.Status.PENDING

    UserFactory(username="moderatorin", is_staff=True, is_superuser=True)
    moderator = new_page(**GERMAN_BROWSER)
    moderator.goto("/admin/login/")
    expect(moderator.locator("html")).to_have_attribute("lang", "de")
    moderator.fill("#id_username", "moderatorin")
    moderator.fill("#id_password", "correct horse battery staple")
    moderator.get_by_role("button", name="Anmelden").click()
    expect(moderator.locator("#moderation-queue")).to_have_text(
        "1 Kommentar wartet in der Moderationswarteschlange."
    )
    moderator.goto(reverse("admin:comments_comment_changelist"))
    row = moderator.locator("#result_list tbody tr").first
    expect(row.locator("input[name=_selected_action]")).to_have_value(str(pending.pk))
    row.locator("input[name=_selected_action]").check()
    moderator.locator("select[name=action]").select_option(label="Ausgewählte Kommentare freigeben")
    moderator.locator("button[name=index]").first.click()
    expect(moderator.locator("ul.messagelist")).to_have_text("1 Kommentar wurde freigegeben.")
    pending.refresh_from_db()
    assert pending.status == Comment.Status.APPROVED

    reader.reload()
    expect(reader.locator("#comments-title")).to_have_text(
        f"9 Antworten auf „{deep_article.title}“"
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_footer_chooser_switches_an_english_browser_to_german(
    new_page, live_server, deep_article, javascript
):
    """On the page the anonymous cache shares (filled here through another spelling of
    its address): the reader's own CSRF token, and back to the page's own path."""
    new_page(locale="en-US").goto(f"{deep_article.get_absolute_url()}?cpage=1")
    page = new_page(locale="en-US", java_script_enabled=javascript)
    page.goto(deep_article.get_absolute_url())
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("Language").select_option("de")
    page.get_by_role("button", name="Change language").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(deep_article.get_absolute_url())}$"))
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("#reply-title")).to_have_text("Schreiben Sie einen Kommentar")
    page.get_by_label("Sprache").select_option("en")
    page.get_by_role("button", name="Sprache wechseln").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_german_pages_are_valid_html_and_accessible(client, new_page, live_server, deep_article):
    german = {"HTTP_ACCEPT_LANGUAGE": "de"}
    post_url = reverse("comments:post", args=[deep_article.slug])
    documents = {
        "home": client.get("/", **german),
        "article": client.get(deep_article.get_absolute_url(), **german),
        "reply-no-js": client.get(
            f"{deep_article.get_absolute_url()}?replyto={deep_article.chain[2].pk}", **german
        ),
        "form-errors": client.post(post_url, {"body": ""}, **german),
        "not-found": client.get("/no-such-page/", **german),
    }
    errors = vnu_errors({name: r.content.decode() for name, r in documents.items()})
    assert errors == {}, "\n".join(
        f"{name}: {message}" for name, messages in errors.items() for message in messages
    )
    page = new_page(bypass_csp=True, **GERMAN_BROWSER)
    page.goto(deep_article.get_absolute_url())
    assert axe_violations(page) == []
