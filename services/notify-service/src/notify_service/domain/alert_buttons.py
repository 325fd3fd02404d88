"""Acknowledge and Open ticket under each alert of an interactive Slack message or Lark card (pure): the buttons
carry an `AlertButton` (care_schemas.events.action) back to ticket-service; an acknowledged alert shows who and when
instead, a ticket opened from it shows the ticket."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from care_schemas.events.action import ACK_ACTION, TICKET_ACTION, AlertButton
from care_schemas.events.alert import Alert, AlertStatus
from notify_service.domain.text import line

MAX_ALERTS = 10  # alerts per interactive message (two blocks each, within Slack's 50)


@dataclass(frozen=True)
class Acknowledgement:
    by: str
    by_name: str | None
    at: datetime

    def says(self) -> str:
        who = f"<@{self.by}>" if not self.by_name else f"{self.by_name} (<@{self.by}>)"
        return f":white_check_mark: Acknowledged by {who} at {self.at:%Y-%m-%d %H:%M} UTC"

    def says_lark(self) -> str:
        """Lark markdown: the member is mentioned by open id (`<at id=...>`)."""
        who = f"<at id={self.by}></at>" + (f" ({self.by_name})" if self.by_name else "")
        return f"✅ Acknowledged by {who} at {self.at:%Y-%m-%d %H:%M} UTC"


VALUE_CHARS = 2000  # Slack's limit on a button's value


def button(alert: Alert, subscriber_id: str, shown: Sequence[Alert]) -> str:
    """The button's value: which firing, and what a ticket opened from it starts with (summary, cluster, and a
    description naming the rule, labels and link), cut to fit Slack's 2000 characters."""
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    about = f"Alert {alert.rule} (fingerprint {alert.fingerprint}) firing since {alert.starts_at:%Y-%m-%d %H:%M} UTC"
    about += f"\nLabels: {labels}" if labels else ""
    about += f"\n{alert.link}" if alert.link else ""
    value = AlertButton(
        o=alert.org_id,
        f=alert.fingerprint,
        s=alert.starts_at,
        sub=subscriber_id,
        m=[a.fingerprint for a in shown],
        t=alert.summary[:255],
        c=alert.cluster_id,
        d=about[:1000],
    )
    text = value.model_dump_json()
    while len(text) > VALUE_CHARS and value.d:  # long labels or fingerprints: the description gives way first
        value = value.model_copy(update={"d": value.d[: max(0, len(value.d) - (len(text) - VALUE_CHARS) - 10)]})
        text = value.model_dump_json()
    return text


def slack_blocks(
    alerts: Sequence[Alert],
    subscriber_id: str,
    acks: Mapping[str, Acknowledgement],
    tickets: Mapping[str, tuple[str, str]],
) -> list[dict[str, Any]]:
    """A section per alert, then its buttons (firing, not yet acknowledged) or what was done with it."""
    shown = list(alerts[:MAX_ALERTS])
    blocks: list[dict[str, Any]] = []
    for alert in shown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line(alert, markdown=True)[:2900]}})
        done: list[str] = []
        if (ack := acks.get(alert.fingerprint)) is not None:
            done.append(ack.says())
        if (ticket := tickets.get(alert.fingerprint)) is not None:
            done.append(f":ticket: Ticket <{ticket[1]}|{ticket[0]}> opened")
        if done:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(done)}]})
        if alert.status is AlertStatus.FIRING and (ack is None or ticket is None):
            value = button(alert, subscriber_id, shown)
            elements = []
            if ack is None:
                elements.append(_button("Acknowledge", ACK_ACTION, value, "primary"))
            if ticket is None:
                elements.append(_button("Open ticket", TICKET_ACTION, value))
            blocks.append({"type": "actions", "block_id": f"alert:{alert.fingerprint}"[:255], "elements": elements})
    return blocks


def lark_elements(
    alerts: Sequence[Alert],
    subscriber_id: str,
    acks: Mapping[str, Acknowledgement],
    tickets: Mapping[str, tuple[str, str]],
) -> list[dict[str, Any]]:
    """Lark card JSON 2.0: the alert's line, what was done with it, then its buttons (callback behaviours whose
    value is the `AlertButton` plus `action`)."""
    shown = list(alerts[:MAX_ALERTS])
    elements: list[dict[str, Any]] = []
    for alert in shown:
        elements.append({"tag": "markdown", "content": line(alert, style="markdown")[:4000]})
        done: list[str] = []
        if (ack := acks.get(alert.fingerprint)) is not None:
            done.append(ack.says_lark())
        if (ticket := tickets.get(alert.fingerprint)) is not None:
            done.append(f"🎫 Ticket [{ticket[0]}]({ticket[1]}) opened")
        if done:
            elements.append({"tag": "markdown", "content": " · ".join(done)})
        if alert.status is AlertStatus.FIRING and (ack is None or ticket is None):
            value = json.loads(button(alert, subscriber_id, shown))
            columns = []
            if ack is None:
                columns.append(_lark_button("Acknowledge", ACK_ACTION, value, "primary"))
            if ticket is None:
                columns.append(_lark_button("Open ticket", TICKET_ACTION, value, "default"))
            elements.append(
                {
                    "tag": "column_set",
                    "flex_mode": "none",
                    "columns": [{"tag": "column", "width": "auto", "elements": [c]} for c in columns],
                }
            )
    return elements


def _lark_button(text: str, action: str, value: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        "tag": "button",
        "name": f"{action}:{value['f']}"[:100],
        "text": {"tag": "plain_text", "content": text},
        "type": kind,
        "behaviors": [{"type": "callback", "value": {"action": action, **value}}],
    }


def _button(text: str, action: str, value: str, style: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action,
        "value": value,
    }
    if style:
        found["style"] = style
    return found
