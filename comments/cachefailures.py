"""A dead cache is logged once a minute for each thing it costs, not once per request.

Flood control, sanctions and the word lists each fall back to the database when the
cache fails; each says so in the log (``threadpress``) at most once a minute.
"""

import logging
import time

logger = logging.getLogger("threadpress")

INTERVAL_SECONDS = 60

# {what falls back: when it was last logged (time.monotonic())}
last_logged = {}


def log_cache_failure(fallback):
    """Warn "Cache unavailable: <fallback>" unless that was said in the last minute."""
    now = time.monotonic()
    if now - last_logged.get(fallback, -INTERVAL_SECONDS - 1) > INTERVAL_SECONDS:
        last_logged[fallback] = now
        logger.warning("Cache unavailable: %s", fallback)
