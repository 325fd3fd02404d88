"""Every channel end to end: a subscriber saved through the API (after its test message), then an alert
published on alert.events.v1 reaches the platform's local stand-in in that platform's format."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest

from care_schemas.events.alert import AlertStatus
from carekit_testing import eventually
from tests.fakes.lark_webhook_server import LarkWebhookServer, running_lark_webhook
from tests.fakes.slack_webhook_server import running_slack_webhook
from tests.fakes.webhook_server import alerts_received, running_webhook_receiver
from tests.fakes.zoom_server import ZoomServer, running_zoom
from tests.receivers import Notify, sample_alert, token

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
PD_KEY = "0123456789abcdef0123456789abcdef"


async def test_webhook_subscriber_is_tested_with_dry_run_then_gets_its_groups_like_alertmanager(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_webhook_receiver() as hook:
        saved = await notify.subscribe(
            org,
            {"type": "webhook", "name": "ops-hook", "project_id": "proj-1", "config": {"url": f"{hook.url}/am"}},
        )
        [test] = hook.requests
        assert test.json()["dryRun"] is True
        assert saved["config"]["url"].startswith("http://127.0.0.1:")
        assert "/am" not in saved["config"]["url"]
        alone = await notify.subscribe(
            org,
            {
                "type": "webhook",
                "name": "one-by-one",
                "project_id": "proj-1",
                "config": {"url": f"{hook.url}/alone"},
                "group_by": ["..."],
            },
        )
        assert alone["group_by"] == ["..."]

        # two alerts of one cluster and one of another: grouped by cluster (the default), or each alone
        other = sample_alert(org, f"c-{unique}", cluster_id="cl-2")
        await notify.alerts(sample_alert(org, f"a-{unique}"), sample_alert(org, f"b-{unique}"), other)
        await hook.wait_for(4, path="/alone")

        async def all_grouped() -> bool:
            return len(alerts_received(hook, "/am")) >= 3

        await eventually(all_grouped, timeout_s=20)
        grouped = [r.json() for r in hook.at("/am")[1:]]
        by_cluster: dict[str, list[str]] = {}
        for body in grouped:
            assert body["version"] == "4"
            assert "dryRun" not in body
            assert body["receiver"] == "ops-hook"
            cluster = body["groupLabels"]["cluster_id"]
            assert {a["labels"]["cluster_id"] for a in body["alerts"]} == {cluster}
            assert body["groupKey"] == f'{{}}:{{cluster_id="{cluster}"}}'
            by_cluster.setdefault(cluster, []).extend(a["fingerprint"] for a in body["alerts"])
        assert sorted(by_cluster.get("cl-1", [])) == [f"a-{unique}", f"b-{unique}"]
        assert by_cluster.get("cl-2") == [f"c-{unique}"]
        singles = [r.json() for r in hook.at("/alone")[1:]]
        assert all(len(b["alerts"]) == 1 for b in singles)
        assert sorted(b["alerts"][0]["fingerprint"] for b in singles) == [f"a-{unique}", f"b-{unique}", f"c-{unique}"]
    async with notify.client() as client:
        metrics = (await client.get("/metrics")).text
    assert 'notify_notifications_delivered_total{channel="webhook"}' in metrics
    assert 'notify_alerts_received_total{source="kafka"}' in metrics
    assert "notify_delivery_latency_seconds_bucket" in metrics


async def test_flashduty_gets_alertmanager_json_and_resolved_after_firing(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_webhook_receiver() as flashduty:
        await notify.subscribe(
            org,
            {
                "type": "flashduty",
                "name": "duty",
                "project_id": "proj-1",
                "config": {"webhook_url": f"{flashduty.url}/alertmanager?integration_key=k1"},
            },
        )
        firing = sample_alert(org, f"fd-{unique}")
        resolved = sample_alert(org, f"fd-{unique}", status="resolved", ends_at=firing.starts_at)
        await notify.alerts(firing, resolved)
        await flashduty.wait_for(3)
        # the marker: another alert to the same subscriber, queued once the resolved notice arrived; a second firing
        # or resolved notice queued before it would be sent before it, or in the same request
        await notify.alerts(sample_alert(org, f"fd-mark-{unique}"))

        async def marker() -> list[str]:
            fingerprints = [a["fingerprint"] for a in alerts_received(flashduty)]
            return fingerprints if f"fd-mark-{unique}" in fingerprints else []

        await eventually(marker, timeout_s=20)
        mine = [a["status"] for a in alerts_received(flashduty) if a["fingerprint"] == f"fd-{unique}"]
        assert mine == ["firing", "resolved"], "exactly one firing and one resolved notice"


async def test_slack_gets_block_kit_through_the_webhook(notify: Notify, org: str, unique: str) -> None:
    async with running_slack_webhook() as slack:
        await notify.subscribe(
            org,
            {
                "type": "slack",
                "name": "ops",
                "project_id": "proj-1",
                "config": {"webhook_url": f"{slack.url}/services/T0/B0/{unique}"},
            },
        )
        await notify.alerts(sample_alert(org, f"sl-{unique}"))
        await slack.wait_for(2)
        body = slack.requests[1].json()
        assert body["blocks"][0]["type"] == "header"
        assert "node_memory_above_70pct_10m" in body["text"]
        assert f"sl-{unique}" in body["blocks"][1]["text"]["text"]


async def test_zoom_gets_the_verification_token_in_authorization(notify: Notify, org: str, unique: str) -> None:
    async with running_zoom() as zoom:
        assert isinstance(zoom, ZoomServer)
        url = zoom.endpoint(unique, token="zoom-token-123456")
        await notify.subscribe(
            org,
            {
                "type": "zoom",
                "name": "zoom-ops",
                "project_id": "proj-1",
                "config": {"endpoint_url": url, "verification_token": "zoom-token-123456"},
            },
        )
        await notify.alerts(sample_alert(org, f"zm-{unique}"))
        [_test, message] = await zoom.wait_for(2)
        assert message.headers["Authorization"] == "zoom-token-123456"
        assert message.query == {"format": "full"}
        assert f"zm-{unique}" in message.json()["body"][0]["text"]


async def test_zoom_with_a_wrong_token_is_not_saved_and_says_what_zoom_answered(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_zoom() as zoom:
        url = zoom.endpoint(unique, token="right-token")
        async with notify.client() as client:
            answer = await client.post(
                "/v1/subscribers",
                headers=token(org),
                json={
                    "type": "zoom",
                    "name": "z",
                    "project_id": "proj-1",
                    "config": {"endpoint_url": url, "verification_token": "wrong-token"},
                },
            )
            listed = await client.get("/v1/subscribers", headers=token(org))
    assert answer.status_code == 422
    assert answer.json()["endpoint_status"] == 401
    assert "Invalid authorization token" in answer.json()["detail"]
    assert all(s["type"] != "zoom" for s in listed.json()["subscribers"])


async def test_lark_gets_a_signed_card_the_bot_accepts(notify: Notify, org: str, unique: str) -> None:
    async with running_lark_webhook() as lark:
        assert isinstance(lark, LarkWebhookServer)
        url = lark.hook(unique, secret="lark-signing-secret")
        await notify.subscribe(
            org,
            {
                "type": "lark",
                "name": "lark-ops",
                "project_id": "proj-1",
                "config": {"webhook_url": url, "signing_secret": "lark-signing-secret"},
            },
        )
        await notify.alerts(sample_alert(org, f"lk-{unique}"))
        await lark.wait_for(2)
        assert len(lark.signed_ok()) == 2
        card = lark.requests[1].json()["card"]
        assert card["header"]["template"] == "red"
        assert f"lk-{unique}" in card["elements"][0]["text"]["content"]


async def test_pagerduty_triggers_and_resolves_with_the_fingerprint_as_dedup_key(
    notify: Notify, org: str, unique: str
) -> None:
    assert notify.pagerduty is not None
    sub = {"type": "pagerduty", "name": "pd", "project_id": "proj-1", "config": {"integration_key": PD_KEY}}
    saved = await notify.subscribe(org, sub)
    test_key = f"connected-care-test-{saved['id']}"
    tests = [r.json() for r in notify.pagerduty.requests if r.json().get("dedup_key") == test_key]
    assert [e["event_action"] for e in tests] == ["trigger", "resolve"], "the test incident is resolved at once"
    assert tests[0]["payload"]["severity"] == "info"
    firing = sample_alert(org, f"pd-{unique}")
    await notify.alerts(firing)
    await notify.alerts(sample_alert(org, f"pd-{unique}", status=AlertStatus.RESOLVED, ends_at=firing.starts_at))

    async def mine() -> list[dict[str, Any]]:
        events = [r.json() for r in notify.pagerduty.requests]  # type: ignore[union-attr]
        found = [e for e in events if e.get("dedup_key") == f"pd-{unique}"]
        return found if len(found) >= 2 else []

    events = await eventually(mine, timeout_s=20)
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert events[0]["payload"]["severity"] == "critical"
    assert events[0]["routing_key"] == PD_KEY
    assert events[0]["payload"]["summary"].startswith("node_memory_above_70pct_10m")


async def test_email_reaches_an_smtp_server_on_basic(notify: Notify, unique: str) -> None:
    org = f"basic-{unique}"  # never told of a plan: Basic, which includes email only
    address = f"ops-{unique}@example.com"
    await notify.subscribe(
        org, {"type": "email", "name": "ops mail", "project_id": "proj-1", "config": {"address": address}}
    )
    await notify.alerts(sample_alert(org, f"em-{unique}"))

    async def delivered() -> list[EmailMessage]:
        return [m for m in notify.mail if m["To"] == address]

    mails = await eventually(lambda: _at_least(delivered, 2), timeout_s=20)
    assert "Test message" in mails[0].get_content()
    assert f"em-{unique}" in mails[1].get_content()
    assert "node_memory_above_70pct_10m" in mails[1]["Subject"]


async def _at_least(source: Any, n: int) -> Any:
    found = await source()
    return found if len(found) >= n else None
