"""URL checks that need DNS: the resolved addresses must not be private, loopback or link-local."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import urlsplit

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
