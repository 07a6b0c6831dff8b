"""Fixtures for the browser suite: Debian's Chromium driven by Playwright, the Nu Html
Checker (vnu-jar) and axe-core, all installed by ``.ci/install-browser-tools.sh``.

A missing tool skips the tests that need it with a one-line reason; with
``THREADPRESS_REQUIRE_BROWSER=1`` (set by ``.ci/run``) the skip becomes a failure, so CI
can't pass without having run them.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.factories import ArticleFactory, CommentFactory

# Playwright's sync API runs an asyncio loop in this thread; the ORM calls the tests make
# between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("THREADPRESS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
NODE_MODULES = ROOT / ".ci" / "node" / "node_modules"
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
INSTALL_HINT = "run `bash .ci/install-browser-tools.sh`"


def require(available, reason):
    """Skip locally when a tool is missing; fail in CI (THREADPRESS_REQUIRE_BROWSER=1)."""
    if available:
        return
    if os.environ.get("THREADPRESS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (required in CI: THREADPRESS_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def browser_settings(settings):
    """A browser posts within two seconds of the render, which the spam rules refuse."""
    settings.COMMENTS_MIN_SUBMIT_SECONDS = 0
    settings.COMMENTS_FLOOD_SECONDS = 0
    return settings


def _new_page(browser, live_server, **context_options):
    context_options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(base_url=live_server.url, **context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    return context, page


@pytest.fixture
def new_page(browser, live_server, browser_settings):
    """``new_page(**context_options)`` → a page in a fresh context (own cookies)."""
    contexts = []

    def make(**context_options):
        context, page = _new_page(browser, live_server, **context_options)
        contexts.append(context)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    page = new_page()
    yield page
    assert page.js_errors == [], "JavaScript errors on the page"


@pytest.fixture
def screenshot_dir():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def build_chain(article, depth, *, prefix="Level"):
    """One thread ``depth`` levels deep: ``[top, reply, reply-to-reply, …]``."""
    chain = []
    parent = None
    for level in range(1, depth + 1):
        parent = CommentFactory(
            article=article,
            parent=parent,
            author_name=f"{prefix} {level} author",
            body=f"{prefix} {level}: a reply that says something about the level above.\n\n"
            "It has a second paragraph, long enough to wrap on a phone so the "
            "indentation has to leave room for reading.",
        )
        chain.append(parent)
    return chain


@pytest.fixture
def deep_article(db):
    """A published article with a six-level thread, a sibling branch and a second thread."""
    article = ArticleFactory(
        title="Council approves the riverside park",
        body="The council voted **7 to 2** on Tuesday.\n\nConstruction starts in spring.",
    )
    chain = build_chain(article, 6)
    CommentFactory(article=article, parent=chain[1], author_name="Sibling at depth 3")
    CommentFactory(article=article, author_name="Second thread starter")
    article.chain = chain
    return article


# --- Nu Html Checker ------------------------------------------------------------------


def vnu_errors(documents):
    """Run vnu once over ``{name: html}``; return ``{name: [error message, …]}``."""
    java = shutil.which("java")
    require(java is not None, f"Java not found; {INSTALL_HINT}")
    require(VNU_JAR.is_file(), f"vnu.jar not found at {VNU_JAR}; {INSTALL_HINT}")
    workdir = ROOT / "test-artifacts" / "vnu"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    paths = {}
    for index, (name, html) in enumerate(documents.items()):
        path = workdir / f"page-{index}.html"
        path.write_text(html, encoding="utf-8")
        paths[path.name] = name
    result = subprocess.run(
        [java, "-Xss2m", "-jar", str(VNU_JAR), "--format", "json", "--stdout", *paths],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.stdout.strip(), f"vnu produced no report: {result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    errors = {}
    for message in report["messages"]:
        if message.get("type") in ("error", "non-document-error"):
            url = message.get("url", "")
            name = paths.get(url.rsplit("/", 1)[-1], url)
            where = f"line {message.get('lastLine')}"
            errors.setdefault(name, []).append(
                f"{where}: {message.get('message')} | {message.get('extract', '').strip()}"
            )
    return {name: found for name, found in errors.items() if found}


# --- axe-core ---------------------------------------------------------------------------

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page):
    """axe-core's WCAG 2.1 A/AA violations on the loaded page, as readable lines."""
    require(AXE_JS.is_file(), f"axe-core not found at {AXE_JS}; {INSTALL_HINT}")
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    lines = []
    for violation in result["violations"]:
        for node in violation["nodes"]:
            lines.append(
                f"{violation['id']} ({violation['impact']}): {node['target']} "
                f"{node.get('failureSummary', '').splitlines()[-1:]}"
            )
    return lines


def moderators_group():
    """The Moderators group as migrations 0002 and 0007 make it (the flush after each
    transactional test empties every table, the migrations' data too)."""
    from importlib import import_module

    from django.contrib.auth.models import Group, Permission

    group, _created = Group.objects.get_or_create(name="Moderators")
    for migration in ("0002_moderators_group", "0007_moderators_desk_permissions"):
        for app_label, codename in import_module(f"comments.migrations.{migration}").PERMISSIONS:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    return group
