"""Acknowledge and Open ticket under the alerts of an interactive Slack message (pure rendering, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from notify_helpers import settings, target

from care_schemas.catalogue import ChannelType
from care_schemas.events.action import ACK_ACTION, TICKET_ACTION, AlertButton
from care_schemas.events.alert import Alert, AlertStatus
from notify_service.adapters.channels import slack
from notify_service.domain.alert_buttons import VALUE_CHARS, Acknowledgement

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
