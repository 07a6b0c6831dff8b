"""What a sanction targets, and which sanctions apply to a poster now.

A sanction (``comments.models.Sanction``) targets one of:

* an **email address**, in the one spelling ``normalize_email`` gives it (trimmed,
  case-folded: "Troll@Example.com" is "troll@example.com");
* an **IP address or network** (CIDR), stored as its first and last address, each as 32
  hex digits of the IPv6 form with IPv4 mapped (``::ffff:a.b.c.d``), so "is this
  address inside" is one string comparison on every database;
* an **email domain**, lower-case, Unicode or ``xn--`` spelling alike; it also covers
  the domain's subdomains ("spam.example" covers "mail.spam.example").

``in_force_for(email, ip_address)`` finds every sanction restricting a poster in ONE
query, cached under a version that every change of a sanction replaces
(``bump_version``: called by ``comments.moderation`` and by the ``post_save`` receiver
below, so no write path can forget). A suspension that has ended stops applying by
itself: cached results are filtered by their end again on every read.

The write functions (ban, suspend, lift…) are in ``comments.moderation``.
"""

import hashlib
import ipaddress
import logging
import uuid
from typing import NamedTuple

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator, validate_email
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from comments.cachefailures import log_cache_failure
from comments.models import Sanction, normalize_email

logger = logging.getLogger("threadpress")

Kind = Sanction.Kind
Target = Sanction.Target

VERSION_KEY = "comments:sanctions:version"
CACHE_SECONDS = 3600  # only bounds memory: a change replaces the version at once
# The widest networks a moderator may ban: a typo like "10.0.0.0/1" would ban half the
# internet.
MIN_PREFIX = {4: 8, 6: 16}
# Strictest first: what a refusal or the rules read first.
_STRICTNESS = {Kind.BAN: 0, Kind.SUSPENSION: 1, Kind.PREMODERATION: 2, Kind.WARNING: 3}


class ParsedTarget(NamedTuple):
    target_type: str
    target: str
    network_start: str = ""
    network_end: str = ""


# --- targets -------------------------------------------------------------------------
def address_hex(ip_address):
    """``ip_address`` (text or an ``ipaddress`` object) as the 32 hex digits of its IPv6
    form, IPv4 mapped into ``::ffff:0:0/96``; None when it is not an IP address."""
    try:
        address = ipaddress.ip_address(str(ip_address).strip())
    except ValueError:
        return None
    if address.version == 4:
        address = ipaddress.IPv6Address(f"::ffff:{address}")
    return f"{int(address):032x}"


def _network(text):
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not an IP address or network (like 203.0.113.7 or 2001:db8::/48)."),
            code="invalid_network",
            params={"value": text},
        ) from None
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise ValidationError(
            _("The network %(value)s is too wide: the widest allowed is /%(prefix)d."),
            code="network_too_wide",
            params={"value": str(network), "prefix": MIN_PREFIX[network.version]},
        )
    single = network.num_addresses == 1
    target = str(network.network_address) if single else str(network)
    first, last = network.network_address, network.broadcast_address
    return ParsedTarget(Target.NETWORK, target, address_hex(first), address_hex(last))


def normalize_domain(text):
    """A domain in the one spelling sanctions store: lower-case Unicode (an ``xn--``
    label decoded), without a leading "@" or a trailing dot. Raises ``UnicodeError``
    for a label IDNA can't encode."""
    domain = (text or "").strip().lstrip("@").rstrip(".").casefold()
    if "xn--" in domain:
        domain = domain.encode("ascii").decode("idna")
    domain.encode("idna")  # every label must be encodable
    return domain


def _domain(text):
    invalid = ValidationError(
        _("“%(value)s” is not an email domain (like example.com)."),
        code="invalid_domain",
        params={"value": text},
    )
    try:
        domain = normalize_domain(text)
        DomainNameValidator(accept_idna=True)(domain)
    except (UnicodeError, ValidationError):
        raise invalid from None
    if "." not in domain:
        raise invalid
    return ParsedTarget(Target.DOMAIN, domain)


def _email(text):
    email = normalize_email(text)
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            _("“%(value)s” is not an email address."),
            code="invalid_email",
            params={"value": text},
        ) from None
    return ParsedTarget(Target.EMAIL, email)


def parse_target(target_type, text):
    """``text`` as a sanction of ``target_type`` stores it: a ``ParsedTarget``
    (target_type, target, network_start, network_end).

    Emails are normalised; an IP address or CIDR network gets its range (a host address
    in a network, "10.1.2.3/16", means its network, 10.1.0.0/16); a domain is
    lower-case. Raises ``ValidationError`` (with a message for the moderator) when
    ``text`` is none of these.
    """
    text = (text or "").strip()
    if target_type == Target.EMAIL:
        return _email(text)
    if target_type == Target.NETWORK:
        return _network(text)
    if target_type == Target.DOMAIN:
        return _domain(text)
    raise ValidationError(
        _("Unknown kind of target: %(value)s."),
        code="invalid_target_type",
        params={"value": target_type},
    )


def _domains_covering(email):
    """The domain of ``email`` and its parent domains (never a bare top-level one), spelt
    as domain sanctions are stored (``normalize_domain``: an ``xn--`` label in Unicode)."""
    domain = email.rpartition("@")[2]
    try:
        domain = normalize_domain(domain)
    except UnicodeError:
        return [domain] if domain else []
    labels = domain.split(".")
    return [".".join(labels[start:]) for start in range(len(labels) - 1)]


# --- sanctions in force ---------------------------------------------------------------
def _query(email, ip_hex, now):
    matches = Q()
    if email:
        matches |= Q(target_type=Target.EMAIL, target=email)
        domains = _domains_covering(email)
        if domains:
            matches |= Q(target_type=Target.DOMAIN, target__in=domains)
    if ip_hex:
        matches |= Q(target_type=Target.NETWORK, network_start__lte=ip_hex, network_end__gte=ip_hex)
    if not matches:
        return []
    return list(Sanction.objects.in_force(now).filter(matches))


def _strictest_first(sanctions, now):
    in_force = [s for s in sanctions if s.ends_at is None or s.ends_at > now]
    # Within a kind: no end first, then the latest end, then the newest.
    return tuple(
        sorted(
            in_force,
            key=lambda s: (
                _STRICTNESS[s.kind],
                s.ends_at is not None,
                -s.ends_at.timestamp() if s.ends_at else 0,
                -s.pk,
            ),
        )
    )


def _log_cache_failure_once():
    log_cache_failure("sanctions are read from the database")


def _version():
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    return version


def _cache_key(version, email, ip_hex):
    digest = hashlib.sha256(f"{email}\n{ip_hex or ''}".encode()).hexdigest()[:32]
    return f"comments:sanctions:{version}:{digest}"


def in_force_for(email, ip_address, *, now=None):
    """The sanctions restricting a poster of ``email`` from ``ip_address`` now (bans,
    suspensions, pre-moderation; never warnings), strictest first: bans, then
    suspensions ending last first, then pre-moderation. A tuple, empty for most posters.

    Matches the address (normalised), its domain and parent domains, and every network
    containing the IP address, in one query; a repeat comes from the cache (no query)
    until a sanction changes. Without a working cache, it is the query every time.
    """
    now = now or timezone.now()
    email = normalize_email(email)
    ip_hex = address_hex(ip_address) if ip_address else None
    try:
        key = _cache_key(_version(), email, ip_hex)
        found = cache.get(key)
    except Exception:
        _log_cache_failure_once()
        return _strictest_first(_query(email, ip_hex, now), now)
    if found is None:
        found = _query(email, ip_hex, now)
        try:
            cache.set(key, found, timeout=CACHE_SECONDS)
        except Exception:
            _log_cache_failure_once()
    return _strictest_first(found, now)


def bump_version():
    """Forget every cached ``in_force_for`` answer: now, and again after the current
    transaction commits (a reader between the two may have cached what it saw before the
    commit)."""

    def bump():
        try:
            cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        except Exception:
            _log_cache_failure_once()

    bump()
    transaction.on_commit(bump, robust=True)


@receiver(post_save, sender=Sanction, dispatch_uid="comments.sanctions.saved")
@receiver(post_delete, sender=Sanction, dispatch_uid="comments.sanctions.deleted")
def _sanction_changed(sender, **kwargs):
    bump_version()
