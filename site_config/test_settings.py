"""Settings for the test suite: the real settings, made fast and deterministic.

DATABASE_URL and CACHE_URL still come from the environment, so the same suite
runs on SQLite + local memory (``make test``) and PostgreSQL + Redis (CI).
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")

from site_config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SECURE_SSL_REDIRECT = False
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
AXES_ENABLED = True
LOGGING["root"]["level"] = "ERROR"  # noqa: F405

# Two read replicas for tests/test_dbrouter.py: mirrors of the test database, each a
# connection of its own. The router ignores them until a test lists them in
# DATABASE_REPLICAS, so the rest of the suite reads and writes default only, whatever
# DATABASE_REPLICA_URLS says.
for _alias in ("replica_0", "replica_1"):
    DATABASES[_alias] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
DATABASE_REPLICAS = []
