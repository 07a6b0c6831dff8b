"""The admin's article list and moderation queue fit the window, on a desktop and a phone.

Filled with the longest things real data holds (long titles, names, emails and IPv6
addresses), each page must need no sideways scrolling and its result table must end
inside its box; at 1280 px the queue's IP address column is wholly visible.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from comments.models import Comment
from tests.factories import ArticleFactory, CommentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
VIEWPORTS = {"desktop": (1280, 800), "phone": (375, 812)}
LONG_TITLE = (
    "Council approves the riverside park after a nine-hour meeting, "
    "and the opposition promises a referendum on the whole development plan {n}"
)
LONG_URL_TITLE = (
    "Read the plan at https://council.example.org/documents/riverside-park-development-plan-{n}"
)


@pytest.fixture
def crowded_site(db):
    """30 articles with long titles; 30 pending comments with long names, emails, IPv6."""
    now = timezone.now()
    author = UserFactory(username="maximiliane.featherstonehaugh-cholmondeley@newsroom.example")
    articles = [
        ArticleFactory(
            title=(LONG_TITLE if n % 2 else LONG_URL_TITLE).format(n=n),
            author=author,
            published_at=now - timedelta(days=n + 1),
        )
        for n in range(30)
    ]
    for n in range(30):
        CommentFactory(
            article=articles[n % 3],
            status=Comment.Status.PENDING,
            author_name=f"Maximiliane Rosalind Featherstonehaugh-Cholmondeley {n}",
            author_email=f"maximiliane.featherstonehaugh-cholmondeley.{n}@subdomain.example.org",
            ip_address=f"2001:0db8:85a3:1234:5678:8a2e:0370:{n:04x}",
            body="A comment with a first sentence long enough to wrap in the excerpt column "
            "and a second one that makes the excerpt reach its eighty-character limit.",
            report_count=n % 2,
            created_at=now - timedelta(minutes=n),
        )
    UserFactory(username="layout-admin", is_staff=True, is_superuser=True)
    return articles


def log_in(page):
    page.goto("/admin/login/")
    page.fill("#id_username", "layout-admin")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name=re.compile("log in", re.IGNORECASE)).click()
    expect(page.locator("#user-tools")).to_contain_text(re.compile("log out", re.IGNORECASE))


def layout(page):
    return page.evaluate(
        """() => {
            const table = document.querySelector('#result_list');
            const box = table.parentElement;
            return {
                scrollWidth: document.documentElement.scrollWidth,
                innerWidth: window.innerWidth,
                tableRight: table.getBoundingClientRect().right,
                boxRight: box.getBoundingClientRect().right,
                boxScrolls: box.scrollWidth > box.clientWidth,
                rows: table.querySelectorAll('tbody tr').length,
            };
        }"""
    )


def assert_fits(page, name):
    measured = layout(page)
    assert measured["rows"] >= 30, measured
    assert measured["scrollWidth"] <= measured["innerWidth"], f"{name} scrolls sideways: {measured}"
    assert measured["tableRight"] <= measured["boxRight"] + 0.5, f"{name} overflows: {measured}"
    assert not measured["boxScrolls"], f"{name}'s table scrolls inside its box: {measured}"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_article_changelist_fits_the_window(
    new_page, live_server, crowded_site, screenshot_dir, viewport
):
    width, height = VIEWPORTS[viewport]
    page = new_page(viewport={"width": width, "height": height})
    log_in(page)
    page.goto("/admin/articles/article/")
    page.screenshot(path=screenshot_dir / f"admin-articles-{width}.png")
    assert_fits(page, "the article list")
    assert page.js_errors == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_comment_queue_fits_the_window(
    new_page, live_server, crowded_site, screenshot_dir, viewport
):
    width, height = VIEWPORTS[viewport]
    page = new_page(viewport={"width": width, "height": height})
    log_in(page)
    page.goto("/admin/comments/comment/")
    page.screenshot(path=screenshot_dir / f"admin-queue-{width}.png")
    assert_fits(page, "the moderation queue")
    assert page.js_errors == []


def test_queue_ip_address_column_is_wholly_visible_at_1280(new_page, live_server, crowded_site):
    page = new_page(viewport={"width": 1280, "height": 800})
    log_in(page)
    page.goto("/admin/comments/comment/")
    # Wherever the queue's priority puts it.
    cell = page.locator("#result_list tbody td.field-ip_address").filter(
        has_text=re.compile(r"^2001:db8:85a3:1234:5678:8a2e:370:0$")
    )
    expect(cell).to_have_count(1)
    visible = cell.evaluate(
        """cell => {
            const box = cell.getBoundingClientRect();
            const frame = cell.closest('.results').getBoundingClientRect();
            return box.width > 0 && box.left >= frame.left - 0.5
                && box.right <= Math.min(frame.right, window.innerWidth) + 0.5
                && cell.scrollWidth <= cell.clientWidth;
        }"""
    )
    assert visible, "the IP address cell is cut off"
