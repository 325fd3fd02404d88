"""Subscribers API, plan gating from plan events, HTTP alert intake and the delivery log, end to end."""

from __future__ import annotations

import uuid

import pytest

from care_schemas.events.alert import Alert
from carekit_testing import eventually
from tests.fakes.slack_webhook_server import running_slack_webhook
from tests.fakes.webhook_server import alerts_received, running_webhook_receiver
from tests.receivers import Answer, Notify, on_plan, plan_changed, publish, sample_alert, token

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


def hook(url: str, name: str = "hook", project: str = "proj-1") -> dict[str, object]:
    return {"type": "webhook", "name": name, "project_id": project, "config": {"url": url}}


async def test_only_owners_manage_subscribers(notify: Notify, org: str) -> None:
    async with running_webhook_receiver() as receiver, notify.client() as client:
        member = await client.post("/v1/subscribers", headers=token(org, "member"), json=hook(receiver.url))
        billing = await client.get("/v1/subscribers", headers=token(org, "billing_manager"))
        anonymous = await client.get("/v1/subscribers")
        project_owner = await client.post(
            "/v1/subscribers", headers=token(org, "project_owner"), json=hook(f"{receiver.url}/p", project="proj-9")
        )
    assert member.status_code == 403
    assert "org_owner, project_owner" in member.json()["detail"]
    assert billing.status_code == 403
    assert anonymous.status_code == 401
    assert project_owner.status_code == 201
    assert len(receiver.requests) == 1


async def test_secrets_are_masked_in_the_api_encrypted_at_rest_and_kept_out_of_logs(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_slack_webhook() as slack:
        secret = uuid.uuid4().hex
        secret_path = f"/services/T0/B0/{secret}"
        saved = await notify.subscribe(
            org,
            {
                "type": "slack",
                "name": "ops",
                "project_id": "proj-1",
                "config": {"webhook_url": slack.url + secret_path},
            },
        )
        slack.script(secret_path, Answer(404, body=f"no_service for {secret_path}"))
        await notify.alerts(sample_alert(org, f"m-{unique}"))
        await slack.wait_for(2)
        async with notify.client() as client:
            listed = (await client.get("/v1/subscribers", headers=token(org))).json()["subscribers"]
            one = (await client.get(f"/v1/subscribers/{saved['id']}", headers=token(org))).json()
            log = (await client.get("/v1/deliveries", headers=token(org))).json()["deliveries"]
    shown = next(s for s in listed if s["id"] == saved["id"])
    assert shown["config"]["webhook_url"] == one["config"]["webhook_url"]
    assert shown["config"]["webhook_url"].endswith(f"/****{secret[-4:]}")
    assert secret not in str(shown)
    sql = "SELECT secret, display::text AS display FROM subscribers WHERE id = $1"
    [stored] = await notify.fetch(sql, saved["id"])
    assert secret.encode() not in bytes(stored["secret"])
    assert secret not in stored["display"]
    await eventually(lambda: _dead(notify, saved["id"]), timeout_s=10)
    [dead] = await notify.fetch("SELECT reason FROM dead_letters WHERE subscriber_id = $1", saved["id"])
    assert dead["reason"] == "permanent: HTTP 404: no_service for ****"
    assert all(secret not in str(entry) for entry in log)
    assert secret not in notify.service.logs()


async def _dead(notify: Notify, subscriber_id: str) -> bool:
    rows = await notify.fetch("SELECT 1 FROM dead_letters WHERE subscriber_id = $1", subscriber_id)
    return bool(rows)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://10.1.2.3/hook", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("https://100.64.0.1/hook", "private, loopback or link-local"),  # shared (carrier-grade NAT) space
        ("https://user:pw@127.0.0.2/x", "credentials"),
        ("https://hooks.example.com/" + "a" * 250, "at most 255"),
        ("http://hooks.example.com/x", "https"),
    ],
)
async def test_unsafe_urls_are_refused_naming_the_field(notify: Notify, org: str, url: str, says: str) -> None:
    async with notify.client() as client:
        answer = await client.post("/v1/subscribers", headers=token(org), json=hook(url))
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("config.url: ")
    assert says in answer.json()["detail"]


async def test_basic_organisation_is_refused_slack_with_the_plan_that_allows_it(notify: Notify, unique: str) -> None:
    async with running_slack_webhook() as slack, notify.client() as client:
        answer = await client.post(
            "/v1/subscribers",
            headers=token(f"basic-{unique}"),
            json={
                "type": "slack",
                "name": "s",
                "project_id": "p",
                "config": {"webhook_url": f"{slack.url}/services/x"},
            },
        )
    assert answer.status_code == 403
    assert answer.json()["plan_needed"] == "enterprise"
    assert "not included in the Basic plan" in answer.json()["detail"]
    assert slack.requests == []


async def test_cluster_scope_and_severity_and_rule_filters_choose_what_a_subscriber_gets(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_webhook_receiver() as receiver:
        await notify.subscribe(
            org,
            {
                "type": "webhook",
                "name": "narrow",
                "project_id": "proj-f",
                "cluster_id": "cl-2",
                "severities": ["critical"],
                "rules": ["cpu_above_80pct_10m"],
                "config": {"url": f"{receiver.url}/narrow"},
                "group_by": [],  # one group: whatever was queued for it by the marker comes with the marker
            },
        )

        def alert(name: str, **changes: str) -> Alert:
            base = {"project_id": "proj-f", "cluster_id": "cl-2", "rule": "cpu_above_80pct_10m", "severity": "critical"}
            return sample_alert(org, f"{name}-{unique}", **{**base, **changes})

        await notify.alerts(
            alert("other-cluster", cluster_id="cl-1"),
            alert("warning", severity="warning"),
            alert("other-rule", rule="storage_above_80pct"),
            alert("other-project", project_id="proj-g"),
            alert("match"),  # the marker: last in the organisation's partition, so queued last and due no earlier
        )

        async def marker() -> bool:
            return f"match-{unique}" in [a["fingerprint"] for a in alerts_received(receiver)]

        await eventually(marker, timeout_s=20)
    assert [a["fingerprint"] for a in alerts_received(receiver)] == [f"match-{unique}"]


async def test_update_retests_a_changed_url_and_delete_removes(notify: Notify, org: str) -> None:
    async with running_webhook_receiver() as receiver, notify.client() as client:
        saved = await notify.subscribe(org, hook(f"{receiver.url}/one"))
        renamed = await client.patch(f"/v1/subscribers/{saved['id']}", headers=token(org), json={"name": "renamed"})
        assert renamed.json()["name"] == "renamed"
        assert len(receiver.requests) == 1, "a rename sends no test"
        receiver.script("/two", Answer(410, body="gone"))
        refused = await client.patch(
            f"/v1/subscribers/{saved['id']}", headers=token(org), json={"config": {"url": f"{receiver.url}/two"}}
        )
        assert refused.status_code == 422
        assert refused.json()["endpoint_status"] == 410
        moved = await client.patch(
            f"/v1/subscribers/{saved['id']}", headers=token(org), json={"config": {"url": f"{receiver.url}/three"}}
        )
        assert moved.status_code == 200
        assert [r.path for r in receiver.requests] == ["/one", "/two", "/three"]
        other_org = await client.get(f"/v1/subscribers/{saved['id']}", headers=token("someone-else"))
        assert other_org.status_code == 404
        assert (await client.delete(f"/v1/subscribers/{saved['id']}", headers=token(org))).status_code == 204
        assert (await client.get(f"/v1/subscribers/{saved['id']}", headers=token(org))).status_code == 404


async def test_downgrade_suspends_slack_and_cancels_its_queue_and_upgrade_resumes(notify: Notify, unique: str) -> None:
    org = f"gate-{unique}"
    await on_plan(notify.url, notify.kafka, org, "enterprise", version=1)
    async with running_slack_webhook() as slack:
        saved = await notify.subscribe(
            org,
            {
                "type": "slack",
                "name": "ops",
                "project_id": "proj-1",
                "config": {"webhook_url": f"{slack.url}/services/g"},
            },
        )
        email = await notify.subscribe(
            org, {"type": "email", "name": "m", "project_id": "proj-1", "config": {"address": f"{unique}@example.com"}}
        )
        slack.script("/services/g", *[Answer(503, body="busy")] * 50)
        await notify.alerts(sample_alert(org, f"q-{unique}"))
        await slack.wait_for(2)

        await publish(notify.kafka, "plan.events.v1", org, plan_changed(org, "basic", 2))

        async def suspended() -> dict[str, object] | None:
            async with notify.client() as client:
                one = (await client.get(f"/v1/subscribers/{saved['id']}", headers=token(org))).json()
            return one if one["state"] == "suspended" else None

        shown = await eventually(suspended, timeout_s=20)
        assert "Basic plan does not include slack" in str(shown["state_reason"])
        [queued] = await notify.fetch(
            "SELECT state, last_error FROM notifications WHERE subscriber_id = $1", saved["id"]
        )
        assert queued["state"] == "cancelled"
        assert "Basic plan does not include slack" in queued["last_error"]
        [mail] = await notify.fetch("SELECT state FROM subscribers WHERE id = $1", email["id"])
        assert mail["state"] == "active"

        slack.scripts.clear()
        before = len(slack.requests)
        await notify.alerts(sample_alert(org, f"while-basic-{unique}"))
        sql = "SELECT 1 FROM alerts WHERE fingerprint = $1"
        await eventually(lambda: notify.fetch(sql, f"while-basic-{unique}"), timeout_s=20)  # taken in while on Basic
        await publish(notify.kafka, "plan.events.v1", org, plan_changed(org, "enterprise", 3))
        await eventually(lambda: _state(notify, saved["id"], "active"), timeout_s=20)
        await notify.alerts(sample_alert(org, f"after-{unique}"))
        await slack.wait_for(before + 1)
        texts = " ".join(r.body.decode() for r in slack.requests[before:])
        assert f"after-{unique}" in texts
        assert f"while-basic-{unique}" not in texts


async def _state(notify: Notify, subscriber_id: str, state: str) -> bool:
    rows = await notify.fetch("SELECT state FROM subscribers WHERE id = $1", subscriber_id)
    return bool(rows) and rows[0]["state"] == state


async def test_http_intake_accepts_native_alerts_and_alertmanager_payloads(
    notify: Notify, org: str, unique: str
) -> None:
    async with running_webhook_receiver() as receiver, notify.client() as client:
        await notify.subscribe(org, hook(f"{receiver.url}/in"))
        native = await client.post(
            "/v1/alerts",
            headers=token(org, "member"),
            json=[
                sample_alert(org, f"n1-{unique}").model_dump(mode="json"),
                sample_alert(org, f"n2-{unique}").model_dump(mode="json"),
            ],
        )
        assert native.status_code == 202
        assert native.json()["accepted"] == 2
        am = await client.post(
            "/v1/alerts/alertmanager",
            headers=token(org, "member"),
            json={
                "version": "4",
                "status": "firing",
                "receiver": "care",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "TiKVDiskFull", "project_id": "proj-1", "severity": "critical"},
                        "annotations": {"summary": "disk above 80%"},
                        "startsAt": "2026-11-26T08:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prometheus/graph",
                        "fingerprint": f"am-{unique}",
                    }
                ],
            },
        )
        assert am.status_code == 202

        async def all_three() -> bool:  # grouped by cluster: one request may carry several of them
            return len(alerts_received(receiver)) >= 3

        await eventually(all_three, timeout_s=20)
    got = {a["fingerprint"]: a for a in alerts_received(receiver)}
    assert set(got) == {f"n1-{unique}", f"n2-{unique}", f"am-{unique}"}
    assert got[f"am-{unique}"]["labels"]["alertname"] == "TiKVDiskFull"
    assert got[f"am-{unique}"]["labels"]["source"] == "prometheus"


async def test_http_intake_refuses_bad_input_naming_the_field_and_other_organisations(
    notify: Notify, org: str, unique: str
) -> None:
    alert = sample_alert(org, f"x-{unique}").model_dump(mode="json")
    async with notify.client() as client:
        bad_severity = await client.post("/v1/alerts", headers=token(org), json={**alert, "severity": "apocalyptic"})
        missing_label = await client.post(
            "/v1/alerts/alertmanager",
            headers=token(org),
            json={
                "version": "4",
                "alerts": [{"status": "firing", "labels": {"alertname": "X"}, "startsAt": "2026-11-26T08:00:00Z"}],
            },
        )
        foreign = await client.post("/v1/alerts", headers=token("another-org"), json=alert)
        staff = await client.post("/v1/alerts", headers=token("vendor", "support_engineer"), json=alert)
        nobody = await client.post("/v1/alerts", json=alert)
    assert bad_severity.status_code == 422
    assert bad_severity.json()["detail"].startswith("severity:")
    assert missing_label.status_code == 422
    assert missing_label.json()["detail"].startswith("alerts[0].labels.project_id")
    assert foreign.status_code == 403
    assert staff.status_code == 202
    assert nobody.status_code == 401


async def test_owner_reads_the_delivery_log_of_their_organisation_only(notify: Notify, org: str, unique: str) -> None:
    async with running_webhook_receiver() as receiver:
        saved = await notify.subscribe(org, hook(f"{receiver.url}/log"))
        receiver.script("/log", Answer(500, body="boom"))
        await notify.alerts(sample_alert(org, f"log-{unique}"))
        await receiver.wait_for(3)

        async def two_attempts() -> list[dict[str, object]]:
            async with notify.client() as client:
                found = (
                    await client.get("/v1/deliveries", headers=token(org), params={"fingerprint": f"log-{unique}"})
                ).json()["deliveries"]
            return found if len(found) >= 2 else []

        entries = await eventually(two_attempts, timeout_s=15)
    assert [e["attempt"] for e in entries] == [2, 1]
    assert [e["outcome"] for e in entries] == ["delivered", "retry"]
    assert entries[1]["answer"] == {"status": 500, "detail": "HTTP 500: boom"}
    assert entries[0]["subscriber_id"] == saved["id"]
    assert all(isinstance(e["latency_ms"], float) for e in entries)
    async with notify.client() as client:
        other = await client.get("/v1/deliveries", headers=token(f"other-{unique}"))
        member = await client.get("/v1/deliveries", headers=token(org, "member"))
    assert other.json()["deliveries"] == []
    assert member.status_code == 403
