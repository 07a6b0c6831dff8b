"""The comments app's settings, with their defaults, in one place.

Each is documented in README.md ("Configuration"; a test holds the two together).
Read them through ``conf`` (``conf.MAX_DEPTH``) so tests can override the Django
setting. ``site_config/settings.py`` sets one only when its environment variable is
set (``from_environment``), so a default is written here and nowhere else.
"""

from django.conf import settings

DEFAULTS = {
    "COMMENTS_MAX_DEPTH": 6,
    "COMMENTS_THREADS_PER_PAGE": 50,
    "COMMENTS_PER_PAGE": 250,
    "COMMENTS_EDIT_MINUTES": 15,
    "COMMENTS_CLOSE_AFTER_DAYS": None,
    # The site's defaults for an article's discussion settings (its own choice wins);
    # read by the articles app too (articles.models.site_discussion_default).
    "COMMENTS_PREMODERATE_ALL": False,
    "COMMENTS_ALLOW_LINKS": True,
    "COMMENTS_MIN_SUBMIT_SECONDS": 2,
    "COMMENTS_FORM_MAX_AGE_SECONDS": 7200,
    "COMMENTS_MAX_LINKS": 2,
    "COMMENTS_REQUIRE_PREVIOUSLY_APPROVED": True,
    "COMMENTS_TRUSTED_AFTER": 1,
    "COMMENTS_PREMODERATE_ABOVE_REJECTION": 0.5,
    "COMMENTS_DISALLOWED_KEYS": [],
    "COMMENTS_MODERATION_KEYS": [],
    "COMMENTS_FLOOD_SECONDS": 15,
    "COMMENTS_REPORT_THRESHOLD": 3,
    "COMMENTS_APPEAL_DAYS": 183,
    "COMMENTS_SPAM_CHECKER": "",
    "COMMENTS_CACHE_SECONDS": 3600,
    # Only signed-in readers comment (comments.accounts): anonymous readers get the
    # sign-in and sign-up links instead of the form.
    "COMMENTS_REQUIRE_ACCOUNT": False,
    # Reactions (comments.reactions): the button's label ("Respect" is translated), anonymous
    # readers reacting once per session and network, how stale the counts anonymous readers
    # see may be, and how often the "most reactions" order is recomputed.
    "COMMENTS_REACTION_LABEL": "Respect",
    "COMMENTS_ANONYMOUS_REACTIONS": False,
    "COMMENTS_REACTION_COUNTS_SECONDS": 10,
    "COMMENTS_REACTION_SORT_SECONDS": 60,
    # Live updates (comments.live, comments/live.js): the article page asks every this
    # many seconds whether new comments were approved (doubling on a quiet article).
    "COMMENTS_LIVE_POLL_SECONDS": 15,
    # Following a discussion (comments.follows): how long a confirmation link works.
    "COMMENTS_FOLLOW_CONFIRM_DAYS": 7,
    # A reader's own data (comments.privacy): IP addresses and user agents older than this
    # many days are cleared by ``manage.py clear_old_ips`` (0: kept).
    "COMMENTS_IP_RETENTION_DAYS": 90,
}


class _Conf:
    def __getattr__(self, name):
        key = f"COMMENTS_{name}"
        if key not in DEFAULTS:
            raise AttributeError(name)
        return getattr(settings, key, DEFAULTS[key])


conf = _Conf()


def from_environment(env):
    """The ``COMMENTS_*`` settings the environment sets, read with ``env`` (a
    django-environ ``Env``) as the type of their default: a flag for ``True``/``False``,
    a whole number, a decimal number, a comma-separated list, text. A variable that is
    not set is left out, so its default above applies. ``COMMENTS_CLOSE_AFTER_DAYS``
    (default ``None``, never) is a whole number; set empty, it is ``None`` again.
    """
    values = {}
    for name, default in DEFAULTS.items():
        if name not in env.ENVIRON:
            continue
        if isinstance(default, bool):
            values[name] = env.bool(name)
        elif isinstance(default, list):
            values[name] = env.list(name)
        elif isinstance(default, str):
            values[name] = env.str(name)
        elif default is None:
            values[name] = env.int(name) if env.str(name).strip() else None
        elif isinstance(default, float):
            values[name] = env.float(name)
        else:
            values[name] = env.int(name)
    return values
