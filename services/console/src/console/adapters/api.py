"""The one HTTP client of the console (aiohttp): calls a service's API with the signed-in user's token and turns
every failure into an `ApiError` a page can show (never raw JSON, never a stack trace)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)
Json = dict[str, Any]
MAX_ANSWER = 300


@dataclass
class ApiError(Exception):
    """A service refused or could not be reached; `message` is what the page shows."""

    status: int
    message: str
    service: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    plan: str | None = None
    plan_needed: str | None = None
    endpoint_status: int | None = None
    endpoint_answer: str | None = None

    def __str__(self) -> str:
        return self.message


def segment(value: str) -> str:
    """A path segment as sent: ids typed by a person or taken from a URL cannot change the path."""
    return quote(value, safe="")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ANSWER else text[: MAX_ANSWER - 1] + "…"


def _sentence(text: str) -> str:
    """A service's message as the start of a sentence on the page."""
    return text[:1].upper() + text[1:]


def error_of(status: int, body: bytes, service: str) -> ApiError:
    """The readable error of a non-2xx answer: the `ErrorBody` detail and fields, or a sentence naming the status."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("detail"), str):
        fields = [
            (str(e.get("field", "")), str(e.get("message", "")))
            for e in parsed.get("errors") or []
            if isinstance(e, dict)
        ]
        answer = parsed.get("endpoint_answer")
        tested = parsed.get("endpoint_status") if isinstance(parsed.get("endpoint_status"), int) else None
        if isinstance(answer, str) and tested is not None:
            answer = answer.removeprefix(f"HTTP {tested}: ")  # the page names the status itself
        return ApiError(
            status=status,
            message=_sentence(_short(parsed["detail"]) if not fields else parsed["detail"]),
            service=service,
            fields=fields,
            plan=parsed.get("plan") if isinstance(parsed.get("plan"), str) else None,
            plan_needed=parsed.get("plan_needed") if isinstance(parsed.get("plan_needed"), str) else None,
            endpoint_status=tested,
            endpoint_answer=_short(answer) if isinstance(answer, str) else None,
        )
    if status == 503:
        return ApiError(status, f"{service} is unavailable right now; try again in a moment", service)
    return ApiError(status, f"{service} answered HTTP {status}; try again, or tell support if it persists", service)


class Api:
    """One service's API: JSON in, JSON out, with the caller's bearer token."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, service: str, timeout_s: float) -> None:
        self._session, self._base, self.service = session, base_url.rstrip("/"), service
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def call(
        self,
        method: str,
        path: str,
        token: str,
        *,
        body: Any = None,
        params: dict[str, str | int] | None = None,
    ) -> Any:
        """The parsed JSON answer (None for 204), or `ApiError`."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        query = {k: str(v) for k, v in (params or {}).items() if v not in (None, "")}
        try:
            async with self._session.request(
                method,
                f"{self._base}{path}",
                headers=headers,
                json=body,
                params=query,
                timeout=self._timeout,
                allow_redirects=False,
            ) as answer:
                raw = await answer.read()
                if answer.status >= 300:
                    raise error_of(answer.status, raw, self.service)
                return json.loads(raw) if raw else None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("%s %s%s: %s", method, self.service, path, type(exc).__name__)
            raise ApiError(
                503, f"{self.service} cannot be reached right now; try again in a moment", self.service
            ) from exc
        except ValueError as exc:  # a 2xx that is not JSON: a proxy in the way, never the service
            raise ApiError(502, f"{self.service} gave an answer the console cannot read", self.service) from exc

    async def get(self, path: str, token: str, params: dict[str, str | int] | None = None) -> Any:
        return await self.call("GET", path, token, params=params)

    async def post(self, path: str, token: str, body: Any = None) -> Any:
        return await self.call("POST", path, token, body=body)


@dataclass
class Apis:
    """The services the console calls."""

    plan: Api
    ticket: Api
    notify: Api
