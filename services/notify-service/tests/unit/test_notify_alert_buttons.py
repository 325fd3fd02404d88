"""Acknowledge and Open ticket under the alerts of an interactive Slack message, and on the cards of an interactive
Lark subscriber (the Connected Care Lark app posts them into its chat): pure rendering and configuration, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from notify_helpers import settings, target
from pydantic import ValidationError

from care_schemas.catalogue import ChannelType
from care_schemas.events.action import ACK_ACTION, TICKET_ACTION, AlertButton
from care_schemas.events.alert import Alert, AlertStatus
from notify_service.adapters.channels import lark, slack
from notify_service.domain.alert_buttons import VALUE_CHARS, Acknowledgement
from notify_service.domain.subscribers import LarkConfig, target_label

pytestmark = pytest.mark.unit
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
INTERACTIVE = target(ChannelType.SLACK, {"webhook_url": "http://127.0.0.1/services/T/B/x", "interactive": True})


def alert(fingerprint: str, **changes: Any) -> Alert:
    base: dict[str, Any] = {
        "fingerprint": fingerprint,
        "org_id": "org-1",
        "project_id": "proj-1",
        "cluster_id": "cl-1",
        "cluster_plan": "dedicated",
        "rule": "DiskFull",
        "severity": "critical",
        "status": "firing",
        "starts_at": START,
        "summary": "disk is full",
        "labels": {"instance": "tikv-0"},
        "link": "https://prometheus.example/graph",
    }
    return Alert.model_validate(base | changes)


def buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str, AlertButton]]:
    return [
        (b["block_id"], e["action_id"], AlertButton.model_validate_json(e["value"]))
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def test_each_firing_alert_gets_acknowledge_and_open_ticket_carrying_its_firing_and_what_a_ticket_starts_with() -> None:
    rendered = slack.render([alert("fp-1"), alert("fp-2", summary="second")], INTERACTIVE, settings(), test=False)
    found = buttons(rendered.payload["blocks"])
    assert [(block, action) for block, action, _ in found] == [
        ("alert:fp-1", ACK_ACTION),
        ("alert:fp-1", TICKET_ACTION),
        ("alert:fp-2", ACK_ACTION),
        ("alert:fp-2", TICKET_ACTION),
    ]
    value = found[0][2]
    assert (value.o, value.f, value.s, value.sub, value.m) == ("org-1", "fp-1", START, "sub-1", ["fp-1", "fp-2"])
    assert (value.t, value.c) == ("disk is full", "cl-1")
    for part in ("DiskFull", "instance=tikv-0", "https://prometheus.example/graph"):
        assert part in value.d
    assert rendered.covered == 2


def test_a_plain_subscriber_and_a_test_message_get_no_buttons() -> None:
    plain = target(ChannelType.SLACK, {"webhook_url": "http://127.0.0.1/services/T/B/x"})
    assert buttons(slack.render([alert("fp-1")], plain, settings(), test=False).payload["blocks"]) == []
    assert buttons(slack.render([alert("fp-1")], INTERACTIVE, settings(), test=True).payload["blocks"]) == []


def test_a_resolved_alert_gets_no_buttons() -> None:
    rendered = slack.render([alert("fp-1", status=AlertStatus.RESOLVED)], INTERACTIVE, settings(), test=False)
    assert buttons(rendered.payload["blocks"]) == []


def test_once_acted_on_the_message_says_who_acknowledged_and_which_ticket_and_the_spent_buttons_go() -> None:
    ack = Acknowledgement("U42", "ada", datetime(2026, 11, 26, 8, 5, tzinfo=UTC))
    rendered = slack.render_interactive(
        [alert("fp-1"), alert("fp-2")], INTERACTIVE, {"fp-1": ack}, {"fp-2": ("T-9", "https://support/t/T-9")}
    )
    blocks = rendered.payload["blocks"]
    said = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert said == [
        ":white_check_mark: Acknowledged by ada (<@U42>) at 2026-11-26 08:05 UTC",
        ":ticket: Ticket <https://support/t/T-9|T-9> opened",
    ]
    assert [(block, action) for block, action, _ in buttons(blocks)] == [
        ("alert:fp-1", TICKET_ACTION),
        ("alert:fp-2", ACK_ACTION),
    ]


def test_a_message_of_many_alerts_carries_ten_with_buttons_and_says_how_many_more() -> None:
    alerts = [alert(f"fp-{i}") for i in range(14)]
    rendered = slack.render(alerts, INTERACTIVE, settings(), test=False)
    blocks = rendered.payload["blocks"]
    assert rendered.covered == 10
    assert len(blocks) <= 50
    assert len({block for block, _, _ in buttons(blocks)}) == 10
    assert "4 more" in blocks[-1]["elements"][0]["text"]


def test_a_button_value_fits_slack_limit_with_long_fingerprints_summaries_and_labels() -> None:
    labels = {f"label_{i}": "v" * 100 for i in range(40)}
    alerts = [alert(f"{i}".ljust(128, "f"), summary="s" * 1000, labels=labels) for i in range(10)]
    values = [e["value"] for b in slack.render(alerts, INTERACTIVE, settings(), test=False).payload["blocks"]
              if b["type"] == "actions" for e in b["elements"]]  # fmt: skip
    assert len(values) == 20
    for value in values:
        assert len(value) <= VALUE_CHARS
        assert len(AlertButton.model_validate_json(value).m) == 10


# --- Lark ----------------------------------------------------------------------------------------------------

LARK_INTERACTIVE = target(ChannelType.LARK, {"interactive": True, "chat_id": "oc_ops"})


def pressable(card: dict[str, Any]) -> list[tuple[str, AlertButton]]:
    """(action, value) of every callback button on the card, in order."""
    found: list[tuple[str, AlertButton]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("tag") == "button":
                for b in node["behaviors"]:
                    value = dict(b["value"])
                    found.append((value.pop("action"), AlertButton.model_validate(value)))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(card)
    return found


def said(card: dict[str, Any]) -> list[str]:
    return [e["content"] for e in card["body"]["elements"] if e["tag"] == "markdown" and "ed by" in e["content"]]


def test_each_firing_alert_of_an_interactive_card_gets_both_buttons_carrying_its_firing() -> None:
    rendered = lark.render([alert("fp-1"), alert("fp-2", summary="second")], LARK_INTERACTIVE, settings(), test=False)
    card = rendered.payload["card"]
    assert rendered.payload["msg_type"] == "interactive"
    assert card["schema"] == "2.0"
    assert card["config"]["update_multi"] is True
    found = pressable(card)
    assert [(action, value.f) for action, value in found] == [
        (ACK_ACTION, "fp-1"),
        (TICKET_ACTION, "fp-1"),
        (ACK_ACTION, "fp-2"),
        (TICKET_ACTION, "fp-2"),
    ]
    value = found[0][1]
    assert (value.o, value.s, value.sub, value.m) == ("org-1", START, "sub-1", ["fp-1", "fp-2"])
    assert (value.t, value.c) == ("disk is full", "cl-1")
    for part in ("DiskFull", "instance=tikv-0", "https://prometheus.example/graph"):
        assert part in value.d
    assert "disk is full" in card["body"]["elements"][0]["content"]


def test_a_custom_bot_a_test_message_and_a_resolved_alert_get_no_buttons() -> None:
    plain = target(ChannelType.LARK, {"webhook_url": "http://127.0.0.1/hook/x", "signing_secret": "s" * 16})
    assert pressable(lark.render([alert("fp-1")], plain, settings(), test=False).payload["card"]) == []
    assert pressable(lark.render([alert("fp-1")], LARK_INTERACTIVE, settings(), test=True).payload["card"]) == []
    resolved = lark.render([alert("fp-1", status=AlertStatus.RESOLVED)], LARK_INTERACTIVE, settings(), test=False)
    assert pressable(resolved.payload["card"]) == []


def test_once_acted_on_the_card_says_who_acknowledged_and_which_ticket_and_the_spent_buttons_go() -> None:
    ack = Acknowledgement("ou_ada", None, datetime(2026, 11, 26, 8, 5, tzinfo=UTC))
    card = lark.render_interactive(
        [alert("fp-1"), alert("fp-2")], LARK_INTERACTIVE, {"fp-1": ack}, {"fp-2": ("T-9", "https://support/t/T-9")}
    ).payload["card"]
    assert said(card) == ["✅ Acknowledged by <at id=ou_ada></at> at 2026-11-26 08:05 UTC"]
    assert "🎫 Ticket [T-9](https://support/t/T-9) opened" in [e.get("content") for e in card["body"]["elements"]]
    assert [(action, value.f) for action, value in pressable(card)] == [(TICKET_ACTION, "fp-1"), (ACK_ACTION, "fp-2")]


def test_a_card_of_many_alerts_carries_ten_with_buttons_and_says_how_many_more() -> None:
    rendered = lark.render([alert(f"fp-{i}") for i in range(14)], LARK_INTERACTIVE, settings(), test=False)
    card = rendered.payload["card"]
    assert rendered.covered == 10
    assert len({value.f for _, value in pressable(card)}) == 10
    assert "4 more" in card["body"]["elements"][-1]["content"]


def test_an_interactive_lark_subscriber_names_its_chat_and_no_webhook() -> None:
    assert LarkConfig.model_validate({"interactive": True, "chat_id": "oc_ops"}).chat_id == "oc_ops"
    with pytest.raises(ValidationError, match="needs chat_id"):
        LarkConfig.model_validate({"interactive": True})
    with pytest.raises(ValidationError, match="no webhook_url"):
        LarkConfig.model_validate({"interactive": True, "chat_id": "oc_ops", "webhook_url": "http://127.0.0.1/h"})
    with pytest.raises(ValidationError, match="needs webhook_url and signing_secret"):
        LarkConfig.model_validate({"webhook_url": "http://127.0.0.1/h"})
    with pytest.raises(ValidationError, match="chat_id is for an interactive"):
        LarkConfig.model_validate({"webhook_url": "http://127.0.0.1/h", "signing_secret": "s" * 16, "chat_id": "x"})
    assert target_label(ChannelType.LARK, {"interactive": True, "chat_id": "oc_ops"}) == "lark:chat:oc_ops"
