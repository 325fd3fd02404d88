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


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: local-use translation, never global
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, 6to4 (2002::/16), Teredo (2001::/32, server and
    client), NAT64 (64:ff9b::/96) and IPv4-compatible (::/96)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


# The blocks of IANA's special-purpose address registries that are not globally reachable, and the exceptions inside
# them, as CPython reads them since 3.11.10 (gh-113171). Written out rather than asked of `ip.is_global`, whose
# answer changed between patch releases of the same Python (before 3.11.10, 6to4 was global and the exceptions were
# not), so that the guard refuses the same addresses whichever interpreter runs it. 6to4 (2002::/16) is refused as a
# whole: IANA says neither way, and 6to4 is deprecated (RFC 7526).
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
    """Why the resolved addresses are refused (private, loopback, link-local..., or an IPv6 address that embeds
    one), or None."""
    if host.lower() in allowlist:
        return None
    for raw in addresses:
        ip = ipaddress.ip_address(raw.split("%")[0])
        if _non_global(ip):
            return f"resolves to {ip}, a private, loopback or link-local (or otherwise non-public) address"
        if isinstance(ip, ipaddress.IPv6Address):
            if ip in NAT64_LOCAL:
                return f"resolves to {ip}, a local-use NAT64 address (64:ff9b:1::/48), not a public one"
            inner = next((v4 for v4 in embedded_ipv4(ip) if _non_global(v4)), None)
            if inner is not None:
                return f"resolves to {ip}, which embeds {inner}, a private, loopback or otherwise non-public address"
    return None
