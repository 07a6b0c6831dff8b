"""gunicorn settings for threadpress (``make serve``; ``gunicorn -c site_config/gunicorn.conf.py
site_config.wsgi``). Every value can be overridden from the environment.

Sync workers: a request is CPU-bound Python plus short database calls, so a worker
per core (plus one) keeps the CPUs busy without threads; the heavy part of an
article page (the comment thread) comes from the shared cache.
"""

import multiprocessing
import os

import environ
from gunicorn import glogging


def _int(name, default):
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1)
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"

# A request that takes longer than this is stuck (a page renders in milliseconds):
# the worker is restarted rather than left to hold a connection forever.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)

# Logs to stdout/stderr for the process manager (systemd, a container runtime) to collect.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# Forwarded headers decide whether a request came over HTTPS (the HTTPS redirect, HSTS,
# secure cookies), so they are trusted only behind a proxy, as Django trusts them: with
# DJANGO_BEHIND_PROXY=1, X-Forwarded-Proto from the proxy's addresses (list a proxy on
# another host in GUNICORN_FORWARDED_ALLOW_IPS). Otherwise no address and no header is
# trusted: gunicorn's own defaults would take X-Forwarded-Proto, X-Forwarded-Ssl and
# X-Forwarded-Protocol from 127.0.0.1, so any local client could claim HTTPS.
if environ.Env().bool("DJANGO_BEHIND_PROXY", default=False):
    forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
    secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
else:
    forwarded_allow_ips = ""
    secure_scheme_headers = {}
proc_name = "threadpress"


class QuietPollsLogger(glogging.Logger):
    """The access log without the live-updates polls (``/comments/live/<pk>/``): every
    open article page asks every 15 seconds, which would drown the log (2,000 readers
    make 133 lines a second) and cost each poll a formatted line. Set
    ``GUNICORN_LOG_POLLS=1`` to log them too."""

    def access(self, resp, req, environ, request_time):
        if req.path.startswith("/comments/live/") and req.path.count("/") == 4:
            return
        super().access(resp, req, environ, request_time)


if not environ.Env().bool("GUNICORN_LOG_POLLS", default=False):
    logger_class = QuietPollsLogger
