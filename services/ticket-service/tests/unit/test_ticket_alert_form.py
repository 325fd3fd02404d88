"""The Slack form opened from an alert's Open ticket button: pre-filled from the alert, which rides along."""

from __future__ import annotations

import json

import pytest

from ticket_service.adapters import slack

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
