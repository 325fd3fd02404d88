"""The services' HTTP APIs through one aiohttp session; every failure becomes the exit code scripts rely on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import aiohttp


class Exit(IntEnum):
    """carectl's exit codes (documented in the README): scripts may rely on them."""

    OK = 0
    ERROR = 1  # unexpected: a bug in carectl
    USAGE = 2  # bad arguments or options, no token, an unreadable config file
    REFUSED = 3  # the API refused the request (4xx other than 404: invalid, forbidden, conflict, unauthorized)
    NOT_FOUND = 4  # the API answered 404
    UNAVAILABLE = 5  # the service cannot be reached, timed out, or answered 5xx


@dataclass
class Failure(Exception):
    """A request that did not succeed: the exit code and what to tell the user."""

    code: Exit
    message: str
    status: int | None = None
    body: Any = None


def _detail(body: Any, text: str) -> str:
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return text[:300] or "no answer body"


class Api:
    """Calls one service (`plan`, `ticket`, `notify`) with the bearer token."""

    def __init__(self, session: aiohttp.ClientSession, urls: dict[str, str], token: str | None) -> None:
        self._session, self._urls, self._token = session, urls, token

    async def call(
        self, service: str, method: str, path: str, *, json_body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        url = f"{self._urls[service].rstrip('/')}{path}"
        query = {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items() if v is not None
        }
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            async with self._session.request(
                method, url, json=json_body, params=query, headers=headers, allow_redirects=False
            ) as answer:
                text = await answer.text()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Failure(
                Exit.UNAVAILABLE, f"{service}-service at {self._urls[service]} cannot be reached: {exc}"
            ) from None
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = None
        if status < 300:
            return body
        detail = _detail(body, text)
        if status == 404:
            raise Failure(Exit.NOT_FOUND, f"not found: {detail}", status, body)
        if status >= 500:
            raise Failure(Exit.UNAVAILABLE, f"{service}-service answered {status}: {detail}", status, body)
        raise Failure(Exit.REFUSED, f"refused ({status}): {detail}", status, body)
