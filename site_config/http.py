"""Request helpers shared by the whole site."""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """The client's IP address, as far as it can be trusted.

    ``REMOTE_ADDR`` by default. Behind N trusted reverse proxies
    (``COMMENTS_TRUSTED_PROXY_COUNT = N``), the N-th address from the right of
    ``X-Forwarded-For``: everything further left was written by the client and
    may be spoofed, so it is never used.
    """
    remote_addr = request.META.get("REMOTE_ADDR") or None
    hops = settings.COMMENTS_TRUSTED_PROXY_COUNT
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
