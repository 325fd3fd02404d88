"""The Slack form and the Lark request card opened from an alert's Open ticket button: pre-filled from the alert,
which rides along; a Lark alert button's callback as ticket-service reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from care_schemas.events.action import ACK_ACTION, TICKET_ACTION, ChatMessage
from care_schemas.events.alert import AlertRef
from care_schemas.events.ticket import ImPlatform
from ticket_service.adapters import lark, slack
from ticket_service.entrypoints import lark_alerts
from ticket_service.entrypoints.common import alert_of

pytestmark = pytest.mark.unit


def test_the_form_starts_from_the_alert_and_carries_it_to_the_submission() -> None:
    alert = {"org_id": "org-1", "fingerprint": "fp-1", "starts_at": "2026-11-26T08:00:00Z"}
    view = slack.form_view(
        "T1", "C1", "1.2", summary="disk is full", cluster_id="cl-1", description="Alert DiskFull", alert=alert
    )
    initial = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"]}
    assert initial == {
        "summary": "disk is full",
        "severity": None,
        "kind": None,
        "cluster_id": "cl-1",
        "description": "Alert DiskFull",
        "reporter_email": None,
    }
    assert json.loads(view["private_metadata"]) == {"team": "T1", "channel": "C1", "thread_ts": "1.2", "alert": alert}


def test_the_plain_form_has_no_initial_values_and_no_alert() -> None:
    view = slack.form_view("T1", "C1", "1.2")
    assert all("initial_value" not in b["element"] for b in view["blocks"])
    assert json.loads(view["private_metadata"]) == {"team": "T1", "channel": "C1", "thread_ts": "1.2"}


# --- Lark -------------------------------------------------------------------------------------------------------

ALERT = {"org_id": "org-1", "fingerprint": "fp-1", "starts_at": "2026-11-26T08:00:00Z"}
VALUE = {"o": "org-1", "f": "fp-1", "s": "2026-11-26T08:00:00Z", "sub": "sub-1", "m": ["fp-1"], "t": "disk is full"}


def test_the_lark_request_card_starts_from_the_alert_and_its_submit_carries_it() -> None:
    card = lark.request_card(
        "oc_1", "om_alert", summary="disk is full", cluster_id="cl-1", description="Alert DiskFull", alert=ALERT
    )
    form = card["body"]["elements"][0]["elements"]
    initial = {e["name"]: e.get("default_value") for e in form if e["tag"] in ("input", "select_static")}
    assert initial == {
        "summary": "disk is full",
        "severity": None,
        "kind": None,
        "cluster_id": "cl-1",
        "description": "Alert DiskFull",
        "reporter_email": None,
    }
    [submit] = [e for e in form if e["tag"] == "button"]
    value = submit["behaviors"][0]["value"]
    assert value == {"action": lark.SUBMIT_ACTION, "chat_id": "oc_1", "root_id": "om_alert", "alert": ALERT}
    assert alert_of(value) == AlertRef.model_validate(ALERT)
    assert alert_of({"alert": {"org_id": "org-1"}}) is None  # a value it did not write carries no alert


def callback(value: dict[str, Any], **event: Any) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": {"event_id": "ev-1", "event_type": "card.action.trigger", "tenant_key": "tenant-1"},
        "event": {
            "operator": {"open_id": "ou_ada", "tenant_key": "tenant-1"},
            "token": "c-update-token",
            "action": {"value": value, "tag": "button"},
            "context": {"open_message_id": "om_alert", "open_chat_id": "oc_1"},
        }
        | event,
    }


def test_a_lark_alert_button_press_names_the_firing_the_card_its_update_token_and_who() -> None:
    parsed = lark_alerts.parse(callback({"action": ACK_ACTION, **VALUE}))
    assert parsed is not None
    action, button, message, open_id, press = parsed
    assert (action, open_id) == (ACK_ACTION, "ou_ada")
    assert button.alert == AlertRef.model_validate(ALERT)
    assert (button.sub, button.t) == ("sub-1", "disk is full")
    assert message == ChatMessage(
        platform=ImPlatform.LARK,
        workspace="tenant-1",
        channel="oc_1",
        message_id="om_alert",
        update_token="c-update-token",
    )
    assert press == "lark:tenant-1:oc_1:om_alert:ev-1"
    assert lark_alerts.parse(callback({"action": TICKET_ACTION, **VALUE}))[0] == TICKET_ACTION  # type: ignore[index]


def test_a_lark_press_with_a_foreign_value_or_without_its_chat_is_not_taken() -> None:
    assert lark_alerts.parse(callback({"action": ACK_ACTION, "o": "org-1"})) is None
    assert lark_alerts.parse(callback({"action": ACK_ACTION, **VALUE, "extra": 1})) is None
    assert lark_alerts.parse(callback({"action": ACK_ACTION, **VALUE}, context={})) is None
