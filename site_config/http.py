"""Request helpers shared by the whole site."""

import ipaddress

from django.conf import settings

# How many reverse proxies in front of the site append to X-Forwarded-For
# (``TRUSTED_PROXY_COUNT``, environment ``DJANGO_TRUSTED_PROXY_COUNT``).
DEFAULT_TRUSTED_PROXY_COUNT = 0
# The setting's name before it served the admin's login throttling too (threadpress.W001).
DEPRECATED_TRUSTED_PROXY_COUNT = "COMMENTS_TRUSTED_PROXY_COUNT"


def trusted_proxy_count() -> int:
    """``TRUSTED_PROXY_COUNT``; else the deprecated ``COMMENTS_TRUSTED_PROXY_COUNT``;
    else the default (no proxy)."""
    for name in ("TRUSTED_PROXY_COUNT", DEPRECATED_TRUSTED_PROXY_COUNT):
        count = getattr(settings, name, None)
        if count is not None:
            return count
    return DEFAULT_TRUSTED_PROXY_COUNT


def client_ip(request) -> str | None:
    """The client's IP address, as far as it can be trusted: the one comments (flood
    control, keys, reports) and the admin's login throttling (django-axes) see.

    ``REMOTE_ADDR`` by default. Behind N trusted reverse proxies
    (``TRUSTED_PROXY_COUNT = N``), the N-th address from the right of
    ``X-Forwarded-For``: everything further left was written by the client and
    may be spoofed, so it is never used.
    """
    remote_addr = request.META.get("REMOTE_ADDR") or None
    hops = trusted_proxy_count()
    if hops > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                return remote_addr
    return remote_addr
