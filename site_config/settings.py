"""threadpress settings: one module, every value read from the environment.

Every variable is documented with its default in README.md ("Configuration"). The
comments app's defaults live in comments/conf.py: a COMMENTS_* variable is read here
only when it is set.
Safe by default: debug is off unless DJANGO_DEBUG is set, and with debug off the
site refuses to start without DJANGO_SECRET_KEY.
"""

from pathlib import Path

import environ
from django.conf.locale import LANG_INFO
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_noop

from comments.conf import from_environment as comments_from_environment
from site_config.release import source_fingerprint

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random string, "
            "or set DJANGO_DEBUG=1 for local development (never in production)."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "mptt",
    "axes",
    "django_tasks",
    "django_tasks_db",
    # Reader accounts: sign up, email verification, sign in, password reset (no social
    # logins). Its templates are overridden in comments/templates/ (the site's layout).
    "allauth",
    "allauth.account",
    "articles",
    "comments",
    "site_config",  # the site's own system checks
]

MIDDLEWARE = [
    # First, so that no other middleware (CSRF reads the POST) touches an oversized body.
    "site_config.middleware.RequestBodyLimitMiddleware",
    # Sees every cookie and Cache-Control the others add: xkey and Surrogate-Control for
    # the edge cache, ESI includes for the per-reader parts of the pages it shares.
    "site_config.edge.EdgeCacheMiddleware",
    # Which database the request reads (a replica for anonymous page views); removes
    # itself when no replica is configured (site_config/dbrouter.py).
    "site_config.dbrouter.ReplicaMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The reader's language: the set_language cookie, else Accept-Language (adds Vary).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Django's, plus a cookie-less comment post checked by the browser's own headers.
    "site_config.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "site_config.middleware.DatabaseUnavailableMiddleware",
    "axes.middleware.AxesMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # A signed-in reader's pages are theirs: Cache-Control: private.
    "comments.accounts.PersonalPagesMiddleware",
    "site_config.pagecache.FragmentMiddleware",
]

ROOT_URLCONF = "site_config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "site_config.context_processors.site",
                "site_config.context_processors.shared_page_csrf_token",
            ],
        },
    },
    {
        # The comment thread (comments/thread.html, comments/comment.html): Jinja2 renders
        # a 1,000-comment thread several times faster than Django templates
        # (docs/performance.md). The site's templates/ comes first, so a site overrides
        # them by name (docs/theming.md); Django templates are found by the engine above.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates", BASE_DIR / "comments" / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "site_config.jinja2.environment"},
    },
]

WSGI_APPLICATION = "site_config.wsgi.application"

# --- Database ---------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run while one writer writes; IMMEDIATE transactions take the
    # write lock up front so concurrent writers queue (busy timeout) instead of
    # failing half way with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=20),
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
            ),
        }
    )
# Persistent, health-checked connections (a SQLite connection costs a file open and the
# PRAGMAs above; a PostgreSQL one a round trip and authentication).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": env.str("DJANGO_TEST_DATABASE_NAME", default=None)}

# Read replicas (site_config/dbrouter.py): anonymous readers' page views read from them,
# with the primary's connection options; writes, the admin, signed-in readers, whoever
# wrote in the last DATABASE_PIN_SECONDS and everything outside a request use the primary.
# A replica more than DATABASE_REPLICA_MAX_LAG_SECONDS behind, or down, is skipped.
DATABASE_REPLICA_URLS = env.list("DATABASE_REPLICA_URLS", default=[])
DATABASE_REPLICAS = []
for _number, _url in enumerate(DATABASE_REPLICA_URLS):
    _replica = env.db_url_config(_url)
    if _replica["ENGINE"] == "django.db.backends.postgresql":
        # A replica that drops packets must not hold a request for the TCP timeout.
        _replica.setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    _replica["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    _replica["CONN_HEALTH_CHECKS"] = True
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_number}"] = _replica
    DATABASE_REPLICAS.append(f"replica_{_number}")
DATABASE_ROUTERS = ["site_config.dbrouter.ReplicaRouter"]
DATABASE_PIN_SECONDS = env.int("DATABASE_PIN_SECONDS", default=5)
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=2.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://threadpress")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Fail fast when Redis is down: the site keeps serving uncached pages.
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": 0.25, "socket_timeout": 0.5}
    )
CACHES["default"].setdefault("KEY_PREFIX", env.str("CACHE_KEY_PREFIX", default="threadpress"))

# Rendered pages and threads (site_config/pagecache.py). Their keys hold the release, so a
# deploy never serves the previous release's markup: THREADPRESS_RELEASE, or else a hash
# of the code computed once at startup (site_config/release.py).
THREADPRESS_RELEASE = env.str("THREADPRESS_RELEASE", default="") or source_fingerprint(BASE_DIR)
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=3600)
# Each worker's own copy of the pages and threads it served last, in front of Redis.
PROCESS_CACHE_SECONDS = env.int("PROCESS_CACHE_SECONDS", default=5)
PROCESS_CACHE_MAX_MB = env.int("PROCESS_CACHE_MAX_MB", default=32)
# The edge cache (Varnish, deploy/varnish/threadpress.vcl; site_config/edge.py): how long
# it keeps a shared page (purged on change, bounded by scheduled changes), and where the
# purges go (each Varnish's URL; empty: no purging).
EDGE_CACHE_SECONDS = env.int("EDGE_CACHE_SECONDS", default=3600)
# A new reader's page (no CSRF cookie) is kept whole, the form's signed timestamp in
# place, for this long (site_config/edge.py): the timestamp stays as fresh as this.
EDGE_NEW_READER_SECONDS = env.int("EDGE_NEW_READER_SECONDS", default=1)
EDGE_PURGE_URLS = env.list("EDGE_PURGE_URLS", default=[])
EDGE_PURGE_TIMEOUT_SECONDS = env.float("EDGE_PURGE_TIMEOUT_SECONDS", default=2.0)

SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Email and background tasks -------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="threadpress <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Unless set, links in emails follow the port that `make run PORT=…` / `make serve` serve on.
_local_site_url = f"http://127.0.0.1:{env.int('PORT', default=8000)}"
SITE_URL = env.str("SITE_URL", default=_local_site_url).rstrip("/")

TASKS = {
    "default": {
        "BACKEND": env.str(
            "TASKS_BACKEND", default="django_tasks.backends.immediate.ImmediateBackend"
        ),
    }
}

# --- Auth, login throttling ----------------------------------------------------
# Axes first: a locked-out username or address is refused before any backend checks a
# password. Staff sign in to the admin by username (ModelBackend); readers sign in on
# the site by email (allauth's backend; its adapter turns staff away:
# comments.accounts.ReaderAccountAdapter).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"  # readers; the admin has its own login page
LOGIN_REDIRECT_URL = "comments:account"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_LOCKOUT_TEMPLATE = "axes_lockout.html"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "site_config.http.client_ip"
# The admin's login form posts "username", allauth's "login" (an email address, passed
# on as "email"): one callable reads both, so failed reader logins lock out as the
# admin's do (docs/security.md).
AXES_USERNAME_CALLABLE = "comments.accounts.axes_username"
# The client IP behind N reverse proxies, for login throttling and comments alike
# (site_config/http.py holds the default, 0). COMMENTS_TRUSTED_PROXY_COUNT, the old
# name, still works and is reported by `manage.py check` (threadpress.W001).
if "DJANGO_TRUSTED_PROXY_COUNT" in env.ENVIRON:
    TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT")
if "COMMENTS_TRUSTED_PROXY_COUNT" in env.ENVIRON:
    COMMENTS_TRUSTED_PROXY_COUNT = env.int("COMMENTS_TRUSTED_PROXY_COUNT")

# --- Internationalisation -------------------------------------------------------
# The languages readers can choose (docs/translation.md). The first one is the site's
# default, for a browser that asks for none of them and for emails sent outside a request.
_language_codes = [code.lower() for code in env.list("DJANGO_LANGUAGES", default=["en", "de"])]
_unknown_languages = [code for code in _language_codes if code not in LANG_INFO]
if not _language_codes or _unknown_languages:
    raise ImproperlyConfigured(
        f"DJANGO_LANGUAGES must list language codes Django knows, like 'en,de' "
        f"(unknown: {', '.join(_unknown_languages) or 'none given'})."
    )
LANGUAGES = [(code, LANG_INFO[code]["name"]) for code in _language_codes]
LANGUAGE_CODE = _language_codes[0]
LOCALE_PATHS = [BASE_DIR / "locale"]  # one catalogue for the whole site, compiled .mo committed
# Date formats per language; English keeps "November 10, 2026" (Django's own is "Nov. 10, 2026").
FORMAT_MODULE_PATH = ["site_config.formats"]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env.bool("DJANGO_PLAIN_STATIC", default=False)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security -------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("DJANGO_BEHIND_PROXY", default=False) else None
)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "site_config.views.csrf_failure"  # a stale token keeps a comment's text
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# A comment post is a few kilobytes. A larger Content-Length is refused with 413 before the
# body is read (site_config.middleware.RequestBodyLimitMiddleware); no upload ever goes to a
# temporary file, and no form takes more than one file.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", default=262144)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
DATA_UPLOAD_MAX_NUMBER_FILES = 1

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "https:", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Logging --------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="WARNING")},
    "loggers": {
        "threadpress": {"level": env.str("THREADPRESS_LOG_LEVEL", default="INFO")},
        "django.request": {"level": "ERROR"},
    },
}

# --- Site -----------------------------------------------------------------------
SITE_NAME = env.str("SITE_NAME", default="threadpress")
# The default tagline is in the catalogue (shown translated); a custom one is shown as set.
SITE_TAGLINE = env.str("SITE_TAGLINE", default=gettext_noop("News, and the argument about it."))
ARTICLES_PER_PAGE = env.int("ARTICLES_PER_PAGE", default=10)

# --- Reader accounts (django-allauth) --------------------------------------------
# Email and password, the address verified before the first sign-in; nothing says
# whether an address has an account (signup, sign-in and password reset answer alike,
# and a reset for an unknown address sends no mail). Rate limits are allauth's
# defaults, kept in the cache (Redis in production, so every worker counts together).
ACCOUNT_ADAPTER = "comments.accounts.ReaderAccountAdapter"
ACCOUNT_SIGNUP_FORM_CLASS = "comments.forms.ReaderSignupForm"  # adds the display name
ACCOUNT_USER_DISPLAY = "comments.accounts.display_name"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"  # generated; staff sign in by username
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
# allauth's own limits, all on (failed sign-ins: 10 a minute per IP address and 5 in
# 5 minutes per email address; signups 20 a minute per IP; password resets 20 a minute
# per IP and 5 per address; a verification email once in 3 minutes per address).
ACCOUNT_RATE_LIMITS = {}

# --- Comments ------------------------------------------------------------------
# Each COMMENTS_* variable is set here only when the environment sets it; the defaults
# live in comments/conf.py (documented in README.md), and nowhere else.
globals().update(comments_from_environment(env))

# SQLite cannot defer unique constraints; the tree constraints are enforced on PostgreSQL.
# security.W003 wants Django's CSRF middleware by name; the site runs a subclass of it
# (site_config.csrf), and threadpress.W002 (site_config/checks.py) checks for either.
SILENCED_SYSTEM_CHECKS = ["models.W038", "security.W003"]
