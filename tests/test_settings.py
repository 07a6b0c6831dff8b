"""Settings: one home for every default (comments/conf.py, documented in README.md), read
from the environment only when set; the client-IP setting's site-level name, with the old
one still honoured and reported by `manage.py check`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import environ
import pytest
from axes.models import AccessAttempt
from django.core.checks import run_checks
from django.test import RequestFactory
from django.urls import reverse

from comments.conf import DEFAULTS, conf, from_environment
from site_config.http import client_ip

ROOT = Path(__file__).resolve().parent.parent


# --- comments/conf.py is the one home of the COMMENTS_* defaults --------------------------
def settings_module_values(**env):
    """The COMMENTS_* attributes the real settings module defines for this environment."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COMMENTS_", "DJANGO_TRUSTED_PROXY_COUNT"))
    }
    environment.update(DJANGO_SETTINGS_MODULE="site_config.settings", DJANGO_DEBUG="1", **env)
    script = (
        "import json; from django.conf import settings; "
        "print(json.dumps({name: getattr(settings, name) for name in dir(settings) "
        "if name.startswith('COMMENTS_') or name == 'TRUSTED_PROXY_COUNT'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_settings_module_sets_no_comments_setting_the_environment_does_not_set():
    """Unset, a COMMENTS_* setting is absent, so ``conf`` serves comments/conf.py's default
    (settings.py used to repeat every default)."""
    assert settings_module_values() == {}


def test_settings_module_reads_a_set_variable_as_the_type_of_its_default():
    assert settings_module_values(
        COMMENTS_MAX_DEPTH="9",
        COMMENTS_REQUIRE_PREVIOUSLY_APPROVED="off",
        COMMENTS_DISALLOWED_KEYS="viagra,casino",
        COMMENTS_CLOSE_AFTER_DAYS="30",
        DJANGO_TRUSTED_PROXY_COUNT="2",
    ) == {
        "COMMENTS_MAX_DEPTH": 9,
        "COMMENTS_REQUIRE_PREVIOUSLY_APPROVED": False,
        "COMMENTS_DISALLOWED_KEYS": ["viagra", "casino"],
        "COMMENTS_CLOSE_AFTER_DAYS": 30,
        "TRUSTED_PROXY_COUNT": 2,
    }


def environment(**variables):
    env = environ.Env()
    env.ENVIRON = variables
    return env


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, {}),
        ({"COMMENTS_FLOOD_SECONDS": "0"}, {"COMMENTS_FLOOD_SECONDS": 0}),
        (
            {"COMMENTS_REQUIRE_PREVIOUSLY_APPROVED": "1"},
            {"COMMENTS_REQUIRE_PREVIOUSLY_APPROVED": True},
        ),
        ({"COMMENTS_MODERATION_KEYS": ""}, {"COMMENTS_MODERATION_KEYS": []}),
        ({"COMMENTS_SPAM_CHECKER": "spam.check"}, {"COMMENTS_SPAM_CHECKER": "spam.check"}),
        ({"COMMENTS_CLOSE_AFTER_DAYS": "7"}, {"COMMENTS_CLOSE_AFTER_DAYS": 7}),
        ({"COMMENTS_CLOSE_AFTER_DAYS": ""}, {"COMMENTS_CLOSE_AFTER_DAYS": None}),
        ({"UNRELATED": "x", "COMMENTS_UNKNOWN": "x"}, {}),
    ],
)  # fmt: skip
def test_from_environment_types_each_set_variable_like_its_default(variables, expected):
    assert from_environment(environment(**variables)) == expected


def test_conf_serves_the_default_when_the_setting_is_absent(settings):
    del settings.COMMENTS_MAX_DEPTH
    assert conf.MAX_DEPTH == 6 == DEFAULTS["COMMENTS_MAX_DEPTH"]
    settings.COMMENTS_MAX_DEPTH = 3
    assert conf.MAX_DEPTH == 3


def readme_table(heading):
    """``{variable: default}`` of the README table that follows the line ``heading``."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            if rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or set(cells[0]) <= {"-", " "} or cells[0] == "Variable":
            continue
        rows[cells[0].strip("`")] = cells[1]
    return rows


def as_documented(value):
    """How the README writes a default."""
    if value is True:
        return "on"
    if value is None:
        return "never"
    if value in ("", []):
        return "empty"
    return f"`{value}`"


def test_readme_documents_every_comments_setting_with_its_default():
    documented = readme_table("Comments:")
    assert documented == {name: as_documented(value) for name, value in DEFAULTS.items()}


# --- the client IP: TRUSTED_PROXY_COUNT, formerly COMMENTS_TRUSTED_PROXY_COUNT -------------
def forwarded_request():
    return RequestFactory().get(
        "/", REMOTE_ADDR="198.51.100.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )


def deprecation_warnings():
    return [message for message in run_checks() if message.id == "threadpress.W001"]


@pytest.fixture
def no_proxy_setting(settings):
    del settings.TRUSTED_PROXY_COUNT
    del settings.COMMENTS_TRUSTED_PROXY_COUNT
    return settings


def test_without_a_proxy_setting_the_client_ip_is_remote_addr(no_proxy_setting):
    assert client_ip(forwarded_request()) == "198.51.100.5"
    assert deprecation_warnings() == []


def test_trusted_proxy_count_picks_the_address_the_proxy_saw(no_proxy_setting):
    no_proxy_setting.TRUSTED_PROXY_COUNT = 1
    assert client_ip(forwarded_request()) == "203.0.113.9"
    assert deprecation_warnings() == []


def test_the_old_name_still_works_and_check_warns_about_it(no_proxy_setting):
    no_proxy_setting.COMMENTS_TRUSTED_PROXY_COUNT = 1
    assert client_ip(forwarded_request()) == "203.0.113.9"
    (warning,) = deprecation_warnings()
    assert "COMMENTS_TRUSTED_PROXY_COUNT is deprecated" in warning.msg
    assert "DJANGO_TRUSTED_PROXY_COUNT" in warning.hint


def test_with_both_names_set_the_new_one_wins(no_proxy_setting):
    no_proxy_setting.TRUSTED_PROXY_COUNT = 2
    no_proxy_setting.COMMENTS_TRUSTED_PROXY_COUNT = 1
    assert client_ip(forwarded_request()) == "6.6.6.6"
    (warning,) = deprecation_warnings()
    assert "TRUSTED_PROXY_COUNT is set too and wins" in warning.hint


@pytest.mark.django_db
def test_admin_login_throttling_sees_the_client_ip_behind_the_proxy(no_proxy_setting, client):
    no_proxy_setting.TRUSTED_PROXY_COUNT = 1
    client.post(
        reverse("admin:login"),
        {"username": "nobody", "password": "wrong"},
        REMOTE_ADDR="198.51.100.5",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.9"]
