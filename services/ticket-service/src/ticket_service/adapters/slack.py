"""Slack: request verification, Web API calls (chat.postMessage, views.open) and the Block Kit we send."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from care_schemas.catalogue import Severity
from care_schemas.events.ticket import TicketKind
from ticket_service.adapters.chat import PlatformUnavailable

RAISE_ACTION = "raise_request"
FORM_CALLBACK = "raise_request_form"
FIELDS = ("summary", "severity", "kind", "cluster_id", "description", "reporter_email")


def verified(signing_secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """HMAC-SHA256 of `v0:timestamp:body`, at most 5 minutes old (slack_sdk's verifier on the real clock)."""
    try:
        return SignatureVerifier(signing_secret).is_valid_request(body, dict(headers))
    except ValueError:  # a timestamp that is not a number is as bad as a wrong signature
        return False


class SlackClient:
    """The Slack Web API at a configurable base URL."""

    def __init__(self, token: str, base_url: str) -> None:
        self._web = AsyncWebClient(token=token, base_url=base_url, timeout=10)

    async def post(
        self, channel: str, thread_ts: str | None, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> str:
        """Post a message (in a thread when `thread_ts` is set); return its ts."""
        try:
            response = await self._web.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise PlatformUnavailable(f"Slack chat.postMessage failed: {_reason(exc)}") from exc
        return str(response.get("ts", ""))

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        try:
            await self._web.views_open(trigger_id=trigger_id, view=view)
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise PlatformUnavailable(f"Slack views.open failed: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """Slack's error code (never the token), or the exception type."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", exc.response.status_code))
    return type(exc).__name__


def raise_button(thread_ts: str) -> list[dict[str, Any]]:
    """The bot's answer to a mention: a 'Raise request' button."""
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Need help from support? Raise a request and we will answer here."},
        },
        {
            "type": "actions",
            "block_id": "raise",
            "elements": [
                {
                    "type": "button",
                    "action_id": RAISE_ACTION,
                    "text": {"type": "plain_text", "text": "Raise request"},
                    "style": "primary",
                    "value": thread_ts,
                }
            ],
        },
    ]


def _options(values: list[str]) -> list[dict[str, Any]]:
    return [{"text": {"type": "plain_text", "text": v}, "value": v} for v in values]


def _input(block_id: str, label: str, element: dict[str, Any], optional: bool = False) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": {**element, "action_id": block_id},
    }


def notice_view(text: str) -> dict[str, Any]:
    """A modal that only says something (no form, no submit button)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Raise a support request"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": text}}],
    }


def form_view(team: str, channel: str, thread_ts: str) -> dict[str, Any]:
    """The modal that `views.open` shows: summary, severity, kind, cluster, description, reporter email."""
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": json.dumps({"team": team, "channel": channel, "thread_ts": thread_ts}),
        "title": {"type": "plain_text", "text": "Raise a support request"},
        "submit": {"type": "plain_text", "text": "Create"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input("summary", "Summary", {"type": "plain_text_input", "max_length": 255}),
            _input("severity", "Severity", {"type": "static_select", "options": _options([s.value for s in Severity])}),
            _input("kind", "Kind", {"type": "static_select", "options": _options([k.value for k in TicketKind])}),
            _input("cluster_id", "Cluster", {"type": "plain_text_input"}, optional=True),
            _input("description", "Description", {"type": "plain_text_input", "multiline": True}, optional=True),
            _input("reporter_email", "Reporter email", {"type": "email_text_input"}),
        ],
    }


def form_values(view: Mapping[str, Any]) -> dict[str, str]:
    """The submitted values by field name (text inputs and selects), empty ones left out."""
    values: dict[str, str] = {}
    state = _object(_object(view.get("state")).get("values"))
    for block_id, actions in state.items():
        for element in map(_object, _object(actions).values()):
            value = element.get("value")
            if value is None:
                value = _object(element.get("selected_option")).get("value")
            if isinstance(value, str) and value.strip():
                values[block_id] = value
    return values


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
