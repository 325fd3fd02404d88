"""URL checks that need DNS: the resolved addresses must not be private, loopback or link-local, when a
subscriber is saved and again whenever something is sent."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

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


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's resolver, refusing private, loopback and link-local answers at send time too (a host that
    resolved to a public address when the subscriber was saved may point inside our network later: DNS
    rebinding). Hosts in `trusted` (the allow-list and the configured platform APIs) are not checked."""

    def __init__(self, trusted: frozenset[str]) -> None:
        self._inner = DefaultResolver()
        self._trusted = trusted

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if host.lower() not in self._trusted:
            problem = address_problem(host, [r["host"] for r in found], frozenset())
            if problem is not None:
                raise OSError(errno.EACCES, f"{host} {problem}; not sent")
        return found

    async def close(self) -> None:
        await self._inner.close()


def delivery_session(settings: Settings) -> aiohttp.ClientSession:
    """The HTTP session every channel sends through: the delivery timeout, no per-host limit, public
    addresses only (except allow-listed and configured platform hosts), and no cookies: a cookie one subscriber's
    endpoint sets must never travel with another subscriber's alerts to the same host (another organisation's,
    perhaps), and no channel's API needs one."""
    configured = (settings.pagerduty_events_url, settings.slack_api_url, settings.lark_api_url)
    trusted = settings.allowlist | {(urlsplit(u).hostname or "").lower() for u in configured}
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.delivery_timeout_s),
        cookie_jar=aiohttp.DummyCookieJar(),
        connector=aiohttp.TCPConnector(
            limit=settings.delivery_concurrency * 2, limit_per_host=0, resolver=PublicOnlyResolver(trusted)
        ),
    )
