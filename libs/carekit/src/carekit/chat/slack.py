"""Slack: request signatures (inbound) and the Web API (chat.postMessage, views.open) through slack_sdk."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from carekit.chat import ChatFailure, retry_after, retryable_status

RETRYABLE_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# slack_sdk logs request details (tokens, webhook URLs) at DEBUG: a logger of its own, never below WARNING.
SDK_LOG = logging.getLogger("carekit.chat.slack_sdk")
SDK_LOG.setLevel(logging.WARNING)


def verified(signing_secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """HMAC-SHA256 of `v0:timestamp:body`, at most 5 minutes old (slack_sdk's verifier on the real clock)."""
    try:
        return SignatureVerifier(signing_secret).is_valid_request(body, dict(headers))
    except ValueError:  # a timestamp that is not a number is as bad as a wrong signature
        return False


class SlackWebApi:
    """The Slack Web API with a bot token at a configurable base URL; failures become `ChatFailure`."""

    def __init__(self, token: str, base_url: str, *, timeout_s: float = 10) -> None:
        self._web = AsyncWebClient(token=token, base_url=base_url, timeout=int(timeout_s), logger=SDK_LOG)
        self._web.retry_handlers = []  # the callers retry (the platform, or a queue with backoff)

    async def post(
        self, channel: str, thread_ts: str | None, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> str:
        """Post a message (in a thread when `thread_ts` is set); return its ts."""
        try:
            response = await self._web.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, blocks=blocks, unfurl_links=False
            )
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _failure("chat.postMessage", exc) from exc
        return str(response.get("ts", ""))

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        try:
            await self._web.views_open(trigger_id=trigger_id, view=view)
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _failure("views.open", exc) from exc


def _failure(method: str, exc: Exception) -> ChatFailure:
    """Slack's error code (never the token) and whether another try can help."""
    if isinstance(exc, SlackApiError):
        status = int(exc.response.status_code)
        error = str(exc.response.get("error", status))
        retry = error in RETRYABLE_ERRORS or retryable_status(status)
        headers = {str(k).lower(): v for k, v in (exc.response.headers or {}).items()}
        wait = retry_after(headers.get("retry-after"))
        return ChatFailure(f"Slack {method} failed: {error}", retryable=retry, status=status, retry_after_s=wait)
    return ChatFailure(f"Slack {method} failed: {type(exc).__name__}", retryable=True)
