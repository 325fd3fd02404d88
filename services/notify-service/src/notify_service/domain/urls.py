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


def address_problem(host: str, addresses: Iterable[str], allowlist: frozenset[str]) -> str | None:
    """Why the resolved addresses are refused (private, loopback, link-local...), or None."""
    if host.lower() in allowlist:
        return None
    for raw in addresses:
        ip = ipaddress.ip_address(raw.split("%")[0])
        # not is_global also covers shared (carrier-grade NAT, 100.64.0.0/10), documentation and benchmark ranges
        if not ip.is_global or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved:
            return f"resolves to {ip}, a private, loopback or link-local (or otherwise non-public) address"
    return None
