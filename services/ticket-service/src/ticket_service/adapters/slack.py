"""Slack: the Block Kit ticket-service sends (button, form, notices); the client and verification are the kit's."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from care_schemas.catalogue import Severity
from care_schemas.events.ticket import TicketKind

RAISE_ACTION = "raise_request"
FORM_CALLBACK = "raise_request_form"
FIELDS = ("summary", "severity", "kind", "cluster_id", "description", "reporter_email")


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


def _initial(element: dict[str, Any], value: str | None) -> dict[str, Any]:
    return {**element, "initial_value": value} if value else element


def form_view(
    team: str,
    channel: str,
    thread_ts: str,
    *,
    summary: str | None = None,
    cluster_id: str | None = None,
    description: str | None = None,
    alert: object = None,
) -> dict[str, Any]:
    """The modal that `views.open` shows: summary, severity, kind, cluster, description, reporter email. Opened from
    a thread the assistant answered in, the summary and description start as the question and the conversation;
    from an alert's Open ticket button, the text fields start from the alert and `alert` (JSON-able) rides along to
    the submission, so that the ticket carries it."""
    meta: dict[str, Any] = {"team": team, "channel": channel, "thread_ts": thread_ts}
    if alert is not None:
        meta["alert"] = alert
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": "Raise a support request"},
        "submit": {"type": "plain_text", "text": "Create"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input("summary", "Summary", _initial({"type": "plain_text_input", "max_length": 255}, summary)),
            _input("severity", "Severity", {"type": "static_select", "options": _options([s.value for s in Severity])}),
            _input("kind", "Kind", {"type": "static_select", "options": _options([k.value for k in TicketKind])}),
            _input("cluster_id", "Cluster", _initial({"type": "plain_text_input"}, cluster_id), optional=True),
            _input(
                "description",
                "Description",
                _initial({"type": "plain_text_input", "multiline": True, "max_length": 3000}, description),
                optional=True,
            ),
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
