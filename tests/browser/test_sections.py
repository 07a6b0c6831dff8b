"""Section and tag pages, and the article page and home list showing them, are valid
HTML (Nu Html Checker) with no WCAG 2.1 A/AA violations (axe-core in Chromium), at
desktop and phone widths."""

import pytest

from articles.models import Section, Tag
from tests.browser.conftest import axe_violations, vnu_errors
from tests.factories import ArticleFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def filed(db):
    """Two tagged articles in a described section; returns the URLs to check."""
    news = Section.objects.create(
        name="News", slug="news", description="What happened, checked and explained."
    )
    transport = Tag.objects.create(name="Transport", slug="transport")
    energy = Tag.objects.create(name="Energy", slug="energy")
    first = ArticleFactory(section=news, title="Night buses")
    first.tags.add(transport, energy)
    ArticleFactory(section=news, title="Bike lanes").tags.add(transport)
    return {
        "home": "/",
        "section": news.get_absolute_url(),
        "tag": transport.get_absolute_url(),
        "article": first.get_absolute_url(),
    }


@pytest.mark.django_db
def test_section_tag_article_and_home_pages_are_valid_html(client, filed):
    documents = {}
    for kind, url in filed.items():
        response = client.get(url)
        assert response.status_code == 200
        documents[kind] = response.content.decode()
    errors = vnu_errors(documents)
    assert errors == {}, "\n".join(
        f"{kind}: {message}" for kind, messages in errors.items() for message in messages
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
@pytest.mark.parametrize("kind", ["home", "section", "tag", "article"])
def test_section_tag_article_and_home_pages_have_no_accessibility_violations(
    new_page,
    live_server,
    filed,
    kind,
    width,
):
    # axe is injected as an inline script, which the site's CSP (rightly) forbids.
    page = new_page(bypass_csp=True, viewport={"width": width, "height": 900})
    page.goto(filed[kind])
    violations = axe_violations(page)
    assert violations == [], "\n".join(violations)
