"""URL checks that need DNS: the resolved addresses must not be private, loopback or link-local when a subscriber
is saved (`url_refusal`), and the delivery client, which checks them again on every connection it opens."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import urlsplit

from notify_service.adapters.http1 import Http1Client
from notify_service.config import Settings
from notify_service.domain.subscribers import URL_FIELDS
from notify_service.domain.urls import address_problem, url_problem


async def url_refusal(config: dict[str, Any], allowlist: frozenset[str]) -> tuple[str, str] | None:
    """(field, why) for the first URL in the configuration that is refused, or None."""
    for field in sorted(URL_FIELDS & config.keys()):
        url = str(config[field])
        problem = url_problem(url, allowlist)
        if problem is None:
            host = urlsplit(url).hostname or ""
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError:
                return field, f"host {host!r} does not resolve"
            problem = address_problem(host, [str(info[4][0]) for info in infos], allowlist)
        if problem is not None:
            return field, problem
    return None


def delivery_session(settings: Settings) -> Http1Client:
    """The HTTP client every channel sends through: the delivery timeout, and public addresses only at every new
    connection (a host that resolved to a public address when the subscriber was saved may point inside our network
    later: DNS rebinding), except allow-listed and configured platform hosts. It keeps no cookies: a cookie one
    subscriber's endpoint sets must never travel with another subscriber's alerts to the same host (another
    organisation's, perhaps), and no channel's API needs one."""
    configured = (settings.pagerduty_events_url, settings.slack_api_url, settings.lark_api_url)
    trusted = settings.allowlist | {(urlsplit(u).hostname or "").lower() for u in configured}
    return Http1Client(
        timeout_s=settings.delivery_timeout_s, trusted=frozenset(trusted), max_idle=settings.delivery_concurrency * 2
    )
