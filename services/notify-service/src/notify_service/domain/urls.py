"""Rules for subscriber URLs: short, https, no credentials, not pointing inside our network."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

MAX_URL = 255


def url_problem(url: str, allowlist: frozenset[str]) -> str | None:
    """Why this URL is refused before resolving it, or None."""
    if len(url) > MAX_URL:
        return f"is {len(url)} characters; at most {MAX_URL} are allowed"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "must not contain spaces, line breaks or control characters"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (user:password@)"
    if parts.scheme == "http" and host not in allowlist:
        return "must use https (http is allowed only for allow-listed development hosts)"
    return None


# The blocks of IANA's special-purpose address registries that are not globally reachable, and the exceptions inside
# them, as CPython reads them since 3.11.10 (gh-113171). Written out rather than asked of `ip.is_global`, whose
# answer changed between patch releases of the same Python (before 3.11.10, 6to4 was global and the exceptions were
# not), so that the guard refuses the same addresses whichever interpreter runs it. 6to4 (2002::/16) is refused as a
# whole: IANA says neither way, and 6to4 is deprecated (RFC 7526). So is every IPv6 block that carries an IPv4
# address, whatever the address: IPv4-mapped (::ffff:0:0/96), 6to4, Teredo (2001::/32, inside 2001::/23), local-use
# NAT64 (64:ff9b:1::/48) here; NAT64 (64:ff9b::/96) and IPv4-compatible (::/96) are reserved (::/8, `is_reserved`).
NON_GLOBAL = [
    ipaddress.ip_network(block)
    for block in (
        *("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12"),
        *("192.0.0.0/24", "192.0.0.170/31", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24"),
        *("203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32"),
        *("::1/128", "::/128", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32"),
        *("2002::/16", "fc00::/7", "fe80::/10"),
    )
]
GLOBAL_INSIDE = [
    ipaddress.ip_network(block)
    for block in (
        *("192.0.0.9/32", "192.0.0.10/32"),
        *("2001:1::1/128", "2001:1::2/128", "2001:3::/32", "2001:4:112::/48", "2001:20::/28", "2001:30::/28"),
    )
]


def _non_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # shared (carrier-grade NAT, 100.64.0.0/10), documentation and benchmark ranges are in NON_GLOBAL too
    special = any(ip in block for block in NON_GLOBAL) and not any(ip in block for block in GLOBAL_INSIDE)
    return special or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved


def address_problem(host: str, addresses: Iterable[str], allowlist: frozenset[str]) -> str | None:
    """Why the resolved addresses are refused (private, loopback, link-local..., or an IPv6 address of a block that
    carries an IPv4 address), or None."""
    if host.lower() in allowlist:
        return None
    for raw in addresses:
        ip = ipaddress.ip_address(raw.split("%")[0])
        if _non_global(ip):
            return f"resolves to {ip}, a private, loopback or link-local (or otherwise non-public) address"
    return None
