"""The comments app's settings, with their defaults, in one place.

Each is documented in README.md ("Configuration"). Read them through ``conf``
(``conf.MAX_DEPTH``) so tests can override the Django setting.
"""

from django.conf import settings

DEFAULTS = {
    "COMMENTS_MAX_DEPTH": 6,
    "COMMENTS_THREADS_PER_PAGE": 50,
    "COMMENTS_PER_PAGE": 250,
    "COMMENTS_EDIT_MINUTES": 15,
    "COMMENTS_CLOSE_AFTER_DAYS": None,
    "COMMENTS_MIN_SUBMIT_SECONDS": 2,
    "COMMENTS_FORM_MAX_AGE_SECONDS": 7200,
    "COMMENTS_MAX_LINKS": 2,
    "COMMENTS_REQUIRE_PREVIOUSLY_APPROVED": True,
    "COMMENTS_DISALLOWED_KEYS": [],
    "COMMENTS_MODERATION_KEYS": [],
    "COMMENTS_FLOOD_SECONDS": 15,
    "COMMENTS_TRUSTED_PROXY_COUNT": 0,
    "COMMENTS_REPORT_THRESHOLD": 3,
    "COMMENTS_SPAM_CHECKER": "",
    "COMMENTS_CACHE_SECONDS": 3600,
}


class _Conf:
    def __getattr__(self, name):
        key = f"COMMENTS_{name}"
        if key not in DEFAULTS:
            raise AttributeError(name)
        return getattr(settings, key, DEFAULTS[key])


conf = _Conf()
