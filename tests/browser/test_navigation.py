"""Thread navigation in Chromium, with the keyboard alone: j/k move the focus from comment
to comment (a visible ring, brought into view), p to the parent, c folds the current
comment's replies, ? opens the keys' help (Esc closes it); nothing fires while typing or
with a modifier. Any sub-thread folds and stays folded after a reload; without JavaScript
every comment shows and no button does. The page passes vnu and axe with the help open."""

import pytest
from playwright.sync_api import expect

from comments.models import Comment
from tests.browser.conftest import axe_violations, vnu_errors
from tests.factories import CommentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 375]


def focused_comment(page):
    """The id of the li.comment whose body holds the focus, or None."""
    return page.evaluate(
        "() => { const li = document.activeElement.closest('li.comment');"
        " return li && document.activeElement === li.querySelector(':scope > .comment-body')"
        " ? li.id : null; }"
    )


def in_view(page):
    return page.evaluate(
        "() => { const box = document.activeElement.getBoundingClientRect();"
        " return box.top >= 0 && box.top < window.innerHeight; }"
    )


def open_article(page, article):
    page.goto(article.get_absolute_url())
    page.wait_for_load_state()
    # The keyboard user starts at the top of the page.
    expect(page.locator(".thread-keys-open")).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_j_k_and_p_move_the_focus_through_the_thread(
    new_page, live_server, deep_article, screenshot_dir, width
):
    chain = deep_article.chain
    page = new_page(viewport={"width": width, "height": 800})
    open_article(page, deep_article)

    page.keyboard.press("j")
    assert focused_comment(page) == f"comment-{chain[0].pk}"
    for level in (1, 2, 3):
        page.keyboard.press("j")
        assert focused_comment(page) == f"comment-{chain[level].pk}"
        assert in_view(page)
    page.keyboard.press("k")
    assert focused_comment(page) == f"comment-{chain[2].pk}"
    page.keyboard.press("p")
    assert focused_comment(page) == f"comment-{chain[1].pk}"
    page.keyboard.press("p")
    page.keyboard.press("p")  # the first comment of a thread has no parent: it stays
    assert focused_comment(page) == f"comment-{chain[0].pk}"
    expect(page.locator("#thread-keys-status")).to_have_text("This comment starts its thread.")

    page.keyboard.press("j")
    page.keyboard.press("j")
    ring = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert ring == "solid"  # the focus ring shows where the keys are
    page.screenshot(path=screenshot_dir / f"thread-navigation-keys-{width}.png")
    assert page.js_errors == []


def test_j_goes_on_to_the_next_thread_and_says_when_the_page_ends(page, deep_article):
    second_thread = Comment.objects.get(article=deep_article, author_name="Second thread starter")
    open_article(page, deep_article)
    for _ in range(8):  # six in the chain, the sibling, then the second thread
        page.keyboard.press("j")
    assert focused_comment(page) == f"comment-{second_thread.pk}"
    page.keyboard.press("j")
    assert focused_comment(page) == f"comment-{second_thread.pk}"
    expect(page.locator("#thread-keys-status")).to_have_text(
        "This is the last comment on this page."
    )


def test_c_folds_the_current_comments_replies_and_unfolds_them(page, deep_article):
    chain = deep_article.chain
    open_article(page, deep_article)
    page.keyboard.press("j")
    page.keyboard.press("j")  # chain[1]: five replies under it
    toggle = page.locator(f"li#comment-{chain[1].pk} > button.thread-toggle")
    page.keyboard.press("c")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_text("Show 5 replies")
    expect(page.locator(f"#replies-{chain[1].pk}")).to_be_hidden()
    assert focused_comment(page) == f"comment-{chain[1].pk}"
    page.keyboard.press("j")  # the folded replies are skipped
    assert focused_comment(page) != f"comment-{chain[2].pk}"
    page.keyboard.press("k")
    page.keyboard.press("c")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"li#comment-{chain[2].pk}")).to_be_visible()


def test_c_on_a_comment_without_replies_folds_the_replies_it_is_one_of(page, deep_article):
    chain = deep_article.chain
    open_article(page, deep_article)
    page.locator(f"li#comment-{chain[5].pk} .comment-reply-link").focus()
    page.keyboard.press("c")
    expect(page.locator(f"#replies-{chain[4].pk}")).to_be_hidden()
    assert focused_comment(page) == f"comment-{chain[4].pk}"


def test_question_mark_opens_the_help_and_escape_closes_it(page, deep_article):
    open_article(page, deep_article)
    page.keyboard.press("j")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("j")  # keys wait while the help is open
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert focused_comment(page) == f"comment-{deep_article.chain[0].pk}"  # back where it was


def test_the_keyboard_shortcuts_button_opens_the_help(page, deep_article):
    open_article(page, deep_article)
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_role("dialog")).to_be_hidden()


def test_keys_do_nothing_while_typing_or_with_a_modifier(page, deep_article):
    open_article(page, deep_article)
    body = page.locator("#comment-form textarea[name=body]")
    body.focus()
    page.keyboard.type("jkpcn?")
    expect(body).to_have_value("jkpcn?")
    expect(body).to_be_focused()
    expect(page.get_by_role("dialog")).to_be_hidden()
    name = page.locator("#comment-form input[name=name]")
    name.focus()
    page.keyboard.type("j")
    expect(name).to_have_value("j")

    page.locator("h1").click()  # out of the field
    page.keyboard.press("Alt+j")
    page.keyboard.press("Control+j")
    assert focused_comment(page) is None
    page.keyboard.press("j")
    assert focused_comment(page) == f"comment-{deep_article.chain[0].pk}"


def test_a_parent_link_followed_leaves_the_focus_on_the_parent(page, deep_article):
    chain = deep_article.chain
    open_article(page, deep_article)
    link = page.locator(f"li#comment-{chain[3].pk} > article .comment-parent")
    expect(link).to_have_accessible_name(f"Parent comment by {chain[2].author_name}")
    link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{page.url.split('#')[0]}#comment-{chain[2].pk}")
    page.wait_for_function(
        "id => document.activeElement.closest('li.comment')?.id === id",
        arg=f"comment-{chain[2].pk}",
    )
    page.keyboard.press("j")
    assert focused_comment(page) == f"comment-{chain[3].pk}"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_folded_sub_thread_at_depth_3_stays_folded_after_a_reload(
    new_page, live_server, deep_article, screenshot_dir, width
):
    chain = deep_article.chain
    page = new_page(viewport={"width": width, "height": 900})
    open_article(page, deep_article)
    toggle = page.locator(f"li#comment-{chain[2].pk} > button.thread-toggle")
    expect(toggle).to_have_text("Hide 3 replies")
    toggle.click()
    expect(toggle).to_have_text("Show 3 replies")
    expect(page.locator(f"li#comment-{chain[3].pk}")).to_be_hidden()

    page.reload()
    page.wait_for_load_state()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_text("Show 3 replies")
    expect(page.locator(f"li#comment-{chain[3].pk}")).to_be_hidden()
    expect(page.locator(f"li#comment-{chain[2].pk}")).to_be_visible()  # only its replies fold
    page.locator(f"li#comment-{chain[0].pk}").screenshot(
        path=screenshot_dir / f"thread-folded-depth-3-{width}.png"
    )

    toggle.click()  # unfolded, and remembered so
    page.reload()
    page.wait_for_load_state()
    expect(page.locator(f"li#comment-{chain[3].pk}")).to_be_visible()
    assert page.js_errors == []


def test_a_permalink_into_a_folded_sub_thread_unfolds_it(page, deep_article):
    chain = deep_article.chain
    open_article(page, deep_article)
    page.locator(f"li#comment-{chain[1].pk} > button.thread-toggle").click()
    page.goto(f"/comments/{chain[4].pk}/")
    expect(page.locator(f"li#comment-{chain[4].pk}")).to_be_visible()
    expect(page.locator(f"li#comment-{chain[4].pk}")).to_be_in_viewport()


def test_without_javascript_every_comment_shows_and_no_button_does(new_page, deep_article):
    page = new_page(java_script_enabled=False)
    page.goto(deep_article.get_absolute_url())
    for comment in deep_article.chain:
        expect(page.locator(f"li#comment-{comment.pk}")).to_be_visible()
    expect(page.locator("button.thread-toggle:visible")).to_have_count(0)
    expect(page.locator(".thread-keys-open")).to_be_hidden()
    expect(page.locator("#comments-new")).to_be_hidden()
    # The links are there, and work as links.
    page.locator(f"li#comment-{deep_article.chain[4].pk} > article .comment-root").click()
    expect(page).to_have_url(f"{page.url.split('#')[0]}#comment-{deep_article.chain[0].pk}")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_article_page_with_the_help_open_passes_vnu_and_axe(
    new_page, live_server, deep_article, screenshot_dir, width
):
    CommentFactory(article=deep_article, parent=deep_article.chain[0], author_name="Late reply")
    # axe-core is injected as an inline script, which the site's CSP refuses.
    page = new_page(viewport={"width": width, "height": 900}, bypass_csp=True)
    open_article(page, deep_article)
    page.locator(f"li#comment-{deep_article.chain[1].pk} > button.thread-toggle").click()
    page.keyboard.press("j")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.screenshot(path=screenshot_dir / f"thread-keys-help-{width}.png")
    # The document as the scripts left it (the dialog open, the marks made), before
    # axe's own script joins it.
    assert vnu_errors({"article page, help open": page.content()}) == {}
    assert axe_violations(page) == []
