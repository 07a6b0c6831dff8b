"""Deployment: gunicorn's trust in forwarded headers, SITE_URL following the port, the
favicon, and the locked dependency versions every install reads."""

import http.client
import json
import os
import re
import selectors
import socket
import struct
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from django.templatetags.static import static
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.html import NS, parse

ROOT = Path(__file__).resolve().parent.parent
LOCK_EXTRAS = ("postgres", "redis", "test")


# --- gunicorn and forwarded headers ----------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(tmp_path, **overrides):
    """The environment of `make serve`: debug off, production settings, nothing inherited
    from the test run (its settings module, database or proxy flags)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GUNICORN_", "DATABASE_", "CACHE_", "SITE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="site_config.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="deploy-test-" + "k" * 50,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        CACHE_URL="locmemcache://deploy-test",
        GUNICORN_WORKERS="1",
        GUNICORN_ACCESS_LOG="/dev/null",
        GUNICORN_LOG_LEVEL="info",
    )
    env.update(overrides)
    return env


@pytest.fixture
def gunicorn(tmp_path):
    """Start gunicorn with the project's config; yield a function that sends a GET."""
    started = []

    def start(**env_overrides):
        port = free_port()
        env = production_env(tmp_path, GUNICORN_BIND=f"127.0.0.1:{port}", **env_overrides)
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "site_config/gunicorn.conf.py"]
            + ["site_config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        wait_until_listening(process)

        def get(path, headers):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                return response
            finally:
                connection.close()

        return get

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()


def wait_until_listening(process, limit=60):
    """Read gunicorn's log until its socket is bound (requests then queue for the worker)."""
    log = []
    deadline = time.monotonic() + limit
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = process.stderr.readline()
            if not line:
                break
            log.append(line)
            if "Listening at:" in line:
                return
    pytest.fail("gunicorn did not start:\n" + "".join(log))


FORGED = {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "ssl"}


@pytest.mark.slow
@pytest.mark.parametrize("header", sorted(FORGED))
def test_gunicorn_without_a_proxy_ignores_forwarded_https_headers(gunicorn, header):
    """Over plain HTTP a client can't claim HTTPS: it is redirected, and gets no HSTS."""
    get = gunicorn()
    response = get("/healthz", {"Host": "127.0.0.1", header: FORGED[header]})
    assert response.status == 301
    assert response.getheader("Location") == "https://127.0.0.1/healthz"
    assert response.getheader("Strict-Transport-Security") is None


@pytest.mark.slow
def test_gunicorn_behind_a_proxy_honours_x_forwarded_proto_only(gunicorn):
    get = gunicorn(DJANGO_BEHIND_PROXY="1")
    response = get("/healthz", {"Host": "127.0.0.1", "X-Forwarded-Proto": "https"})
    assert response.status == 200
    assert response.getheader("Strict-Transport-Security", "").startswith("max-age=")
    # The proxy sets X-Forwarded-Proto; anything else a client sent through it is not trusted.
    response = get("/healthz", {"Host": "127.0.0.1", "X-Forwarded-Ssl": "on"})
    assert response.status == 301
    assert response.getheader("Strict-Transport-Security") is None


# --- SITE_URL follows the port -----------------------------------------------------------


def site_url_with(**env):
    """SITE_URL as the real settings module computes it for this environment."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PORT", "SITE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(DJANGO_SETTINGS_MODULE="site_config.settings", DJANGO_DEBUG="1", **env)
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SITE_URL)"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8001"}, "http://127.0.0.1:8001"),
        ({"PORT": "8001", "SITE_URL": "https://news.example.com/"}, "https://news.example.com"),
    ],
)
def test_site_url_follows_the_port_unless_it_is_set(env, expected):
    """`make run PORT=8001` (which exports PORT) puts the right port into emailed links."""
    assert site_url_with(**env) == expected


def test_make_passes_its_port_to_the_servers():
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval=print-port: ; @echo $$PORT", "print-port"],
        cwd=ROOT,
        env={key: value for key, value in os.environ.items() if key != "PORT"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "8000"


# --- favicon ---------------------------------------------------------------------------


def icon_sizes(data):
    """The square sizes of the PNG images in an ICO file (raises if it isn't one)."""
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind) == (0, 1) and count >= 1
    sizes = []
    for index in range(count):
        width, height, *_, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * index)
        image = data[offset : offset + length]
        assert image.startswith(b"\x89PNG\r\n\x1a\n")
        assert struct.unpack_from(">II", image, 16) == (width or 256, height or 256)
        sizes.append(width or 256)
    return sizes


@pytest.mark.django_db
def test_favicon_ico_leads_to_an_icon(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0][0] == static("favicon.ico")
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert 32 in icon_sizes(b"".join(response.streaming_content))


@pytest.mark.django_db
def test_every_page_links_icons_that_exist(client, article):
    doc = parse(client.get(article.get_absolute_url()))
    links = [
        link for link in doc.iter(f"{{{NS['h']}}}link") if "icon" in link.get("rel", "").split()
    ]
    assert {link.get("type") for link in links} >= {"image/svg+xml"}
    for link in links:
        response = client.get(link.get("href"))
        assert response.status_code == 200
        assert response["Content-Type"].startswith("image/")


# --- locked versions -------------------------------------------------------------------

PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)(?:\s*;\s*(?P<marker>[^\\]+))?")


def locked(path):
    """``{normalized name: (version, number of hashes)}`` of a requirements lock."""
    pins, current = {}, None
    for line in (ROOT / path).read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match["name"])
            pins[current] = [match["version"], 0]
        elif line.strip().startswith("--hash=sha256:") and current:
            pins[current][1] += 1
    return {name: tuple(pin) for name, pin in pins.items()}


def declared(*extras):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return [Requirement(text) for text in requirements]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements/run.txt", ("postgres", "redis")), ("requirements/test.txt", LOCK_EXTRAS)],
)
def test_every_declared_dependency_is_locked_within_its_range(lock, extras):
    pins = locked(lock)
    for requirement in declared(*extras):
        version, hashes = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
    assert all(hashes for _, hashes in pins.values()), "every pin needs its hashes"


def test_the_run_lock_is_the_test_lock_without_the_test_tools():
    """Production and CI install the same versions of everything they share."""
    run, test = locked("requirements/run.txt"), locked("requirements/test.txt")
    assert {name: test[name][0] for name in run} == {name: pin[0] for name, pin in run.items()}
    assert "pytest" in test and "pytest" not in run


def test_installs_read_the_locks_with_hashes_and_reinstall_when_they_change():
    """`make -n -W LOCK STAMP`: what make would run if only that lock had changed."""
    for lock, stamp in [
        ("requirements/run.txt", ".venv/.installed"),
        ("requirements/test.txt", ".venv/.installed-test"),
    ]:
        commands = subprocess.run(
            ["make", "-n", "--no-print-directory", "-W", lock, stamp],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert re.search(r"pip install .*pip==\d+(\.\d+)+\b", commands)
        assert f"pip install --quiet --require-hashes -r {lock}" in commands
        assert "pip install --quiet --no-deps -e ." in commands


def test_the_npm_test_tools_are_pinned_exactly():
    package = json.loads((ROOT / ".ci/tools/package.json").read_text())
    lock = json.loads((ROOT / ".ci/tools/package-lock.json").read_text())["packages"]
    assert set(package["dependencies"]) == {"vnu-jar", "axe-core"}
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} must be an exact version"
        assert lock[f"node_modules/{name}"]["version"] == version
        assert lock[f"node_modules/{name}"]["integrity"].startswith("sha512-")


def test_gunicorns_access_log_leaves_out_the_live_polls_only(monkeypatch):
    import runpy
    from types import SimpleNamespace

    from gunicorn import glogging
    from gunicorn.config import Config

    monkeypatch.delenv("GUNICORN_LOG_POLLS", raising=False)
    conf = runpy.run_path(str(ROOT / "site_config" / "gunicorn.conf.py"))
    logged = []
    monkeypatch.setattr(
        glogging.Logger, "access", lambda self, resp, req, *args: logged.append(req.path)
    )
    logger = conf["logger_class"](Config())
    for path in ("/comments/live/12/", "/comments/live/12/new/", "/healthz", "/articles/x/"):
        logger.access(None, SimpleNamespace(path=path), {}, None)
    assert logged == ["/comments/live/12/new/", "/healthz", "/articles/x/"]
    monkeypatch.setenv("GUNICORN_LOG_POLLS", "1")
    assert "logger_class" not in runpy.run_path(str(ROOT / "site_config" / "gunicorn.conf.py"))
