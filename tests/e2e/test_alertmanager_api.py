"""notify-service as an Alertmanager, end to end: amtool (Alertmanager v0.35.0's own CLI, built from its Go module)
and a Prometheus-style client drive its API v2 with a bearer token; silences and maintenance windows hold back
exactly the matching notifications and release what still fires when they end; the state lives in Postgres, so a
second instance and a restarted one see the same silences; Clinic alerts only reach plans with Clinic."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from carekit_testing import ServiceProcess, eventually
from tests.fakes.webhook_server import alerts_received, running_webhook_receiver
from tests.go_tools import go_tool
from tests.receivers import (
    Notify,
    Receiver,
    on_plan,
    sample_alert,
    start_notify,
    token,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
Amtool = Callable[..., subprocess.CompletedProcess[str]]


@pytest_asyncio.fixture(loop_scope="session")
async def org(notify: Notify, unique: str) -> str:
    name = f"am-{unique}"
    await on_plan(notify.url, notify.kafka, name, "enterprise")
    return name


@pytest_asyncio.fixture(loop_scope="session")
async def receiver(notify: Notify, org: str) -> AsyncIterator[Receiver]:
    """A webhook receiver subscribed to the organisation's project p1."""
    async with running_webhook_receiver() as hook:
        await notify.subscribe(
            org, {"type": "webhook", "name": "ops-hook", "project_id": "p1", "config": {"url": hook.url}}
        )
        yield hook


def amtool_for(url: str, org: str, folder: Path, role: str = "org_owner") -> Amtool:
    """Run amtool against `url` with the organisation's bearer token in an --http.config.file (written into
    `folder`, the test's own temporary directory), as its users do."""
    binary = go_tool("amtool")
    config = folder / f"amtool-{org}-{role}.yml"
    credentials = token(org, role)["Authorization"].split(" ", 1)[1]
    config.write_text(f"authorization:\n  type: Bearer\n  credentials: {credentials}\n")

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(binary), f"--alertmanager.url={url}", f"--http.config.file={config}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if ok:
            assert done.returncode == 0, f"amtool {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    return run


def names(delivered: list[dict[str, Any]], status: str = "firing") -> list[str]:
    return [str(a["labels"]["alertname"]) for a in delivered if a["status"] == status]  # type: ignore[index]


async def delivered_names(receiver: Receiver, marker: str, status: str = "firing") -> list[str]:
    """Alert names delivered, read once `marker` (sent last) has arrived: nothing sent before it is still on its way."""

    async def arrived() -> bool:
        return marker in names(alerts_received(receiver))

    await eventually(arrived, timeout_s=20)
    return names(alerts_received(receiver), status)


async def deliveries(notify: Notify, org: str) -> list[dict[str, Any]]:
    async with notify.client() as client:
        answer = await client.get("/v1/deliveries", headers=token(org), params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["deliveries"]
    return found


async def test_amtool_adds_and_queries_alerts_and_adds_queries_and_expires_silences(
    notify: Notify, org: str, receiver: Receiver, tmp_path: Path
) -> None:
    amtool = amtool_for(notify.url, org, tmp_path)
    amtool("alert", "add", "DiskFull", "project_id=p1", "cluster_id=c1", "severity=critical",
           "--annotation=summary=disk is full", "--generator-url=http://prometheus.local/graph")  # fmt: skip
    assert await delivered_names(receiver, "DiskFull") == ["DiskFull"]
    [sent] = alerts_received(receiver)
    assert sent["annotations"]["summary"] == "disk is full"  # type: ignore[index]
    assert sent["generatorURL"] == "http://prometheus.local/graph"

    queried = json.loads(amtool("alert", "query", "-o", "json").stdout)
    assert [(a["labels"]["alertname"], a["status"]["state"]) for a in queried] == [("DiskFull", "active")]
    assert queried[0]["receivers"] == [{"name": "ops-hook"}]

    silence_id = amtool("silence", "add", 'alertname=~"Disk.*"', "-c", "disk swap", "-d", "1h", "-a", "ops").stdout
    silence_id = silence_id.strip()
    [listed] = json.loads(amtool("silence", "query", "-o", "json").stdout)
    assert listed["id"] == silence_id
    assert listed["matchers"] == [{"name": "alertname", "value": "Disk.*", "isRegex": True, "isEqual": True}]
    assert (listed["comment"], listed["createdBy"], listed["status"]["state"]) == ("disk swap", "ops", "active")
    assert amtool("silence", "query", "-q", "alertname=~Disk.*").stdout.split() == [silence_id]

    amtool("alert", "add", "DiskSlow", "project_id=p1", "cluster_id=c1")
    amtool("alert", "add", "CpuHigh", "project_id=p1", "cluster_id=c1")  # matches no silence: the marker
    assert await delivered_names(receiver, "CpuHigh") == ["DiskFull", "CpuHigh"], "DiskSlow is held back"
    active = [a["labels"]["alertname"] for a in json.loads(amtool("alert", "query", "-o", "json").stdout)]
    assert sorted(active) == ["CpuHigh"], "amtool's default query shows only active (not silenced) alerts"
    shown = {
        a["labels"]["alertname"]: a["status"] for a in json.loads(amtool("alert", "query", "-s", "-o", "json").stdout)
    }
    assert shown["DiskSlow"]["state"] == "suppressed"
    assert shown["DiskSlow"]["silencedBy"] == [silence_id]
    held = [d for d in await deliveries(notify, org) if d["outcome"] == "silenced"]
    assert held
    assert silence_id in held[0]["answer"]["detail"]

    amtool("silence", "update", silence_id, "--duration=3h", "--comment=disk swap, longer")
    [updated] = json.loads(amtool("silence", "query", "-o", "json").stdout)
    assert (updated["id"], updated["comment"]) == (silence_id, "disk swap, longer"), "extended in place, same id"

    expired_at = time.monotonic()
    amtool("silence", "expire", silence_id)
    await receiver.wait_for(4, timeout_s=10)
    assert names(alerts_received(receiver)) == ["DiskFull", "CpuHigh", "DiskSlow"], "released when it ends"
    assert time.monotonic() - expired_at < 10
    [gone] = json.loads(amtool("silence", "query", "--expired", "-o", "json").stdout)
    assert (gone["id"], gone["status"]["state"]) == (silence_id, "expired")
    assert amtool("silence", "query", "-q").stdout.strip() == ""


async def test_a_prometheus_client_posting_every_interval_gets_one_notification_then_the_resolution(
    notify: Notify, org: str, receiver: Receiver
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=3)
    alert = {
        "labels": {"alertname": "NodeMemoryHigh", "project_id": "p1", "instance": "tikv-0:20180", "job": "tikv",
                   "severity": "warning"},
        "annotations": {"summary": "memory above 70% for 10 minutes", "runbook_url": "https://runbooks.local/mem"},
        "startsAt": started.isoformat(),
        "generatorURL": "http://prometheus.local/graph?g0.expr=mem",
    }  # fmt: skip
    headers = {**token(org), "User-Agent": "Prometheus/3.5.0", "Content-Type": "application/json"}
    async with notify.client() as client:
        for _ in range(3):  # each evaluation interval, with endsAt pushed ahead (Prometheus: 4x the resend delay)
            ends = datetime.now(UTC) + timedelta(minutes=4)
            answer = await client.post("/api/v2/alerts", headers=headers, json=[{**alert, "endsAt": ends.isoformat()}])
            assert answer.status_code == 200, answer.text
            await asyncio.sleep(0.4)
        marker = {**alert, "labels": {**alert["labels"], "alertname": "Marker"}}  # type: ignore[dict-item]
        assert (await client.post("/api/v2/alerts", headers=headers, json=[marker])).status_code == 200
        assert await delivered_names(receiver, "Marker") == ["NodeMemoryHigh", "Marker"], "a re-send is no new alert"

        resolved = {**alert, "endsAt": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}
        assert (await client.post("/api/v2/alerts", headers=headers, json=[resolved])).status_code == 200
        await receiver.wait_for(4, timeout_s=10)
    assert names(alerts_received(receiver), "resolved") == ["NodeMemoryHigh"]
    [first] = [a for a in alerts_received(receiver) if a["labels"]["alertname"] == "NodeMemoryHigh"][:1]  # type: ignore[index]
    assert first["labels"]["instance"] == "tikv-0:20180"  # type: ignore[index]
    assert first["generatorURL"] == "http://prometheus.local/graph?g0.expr=mem"


async def test_alerts_posted_without_a_project_are_refused_with_alertmanagers_error_naming_the_label(
    notify: Notify, org: str
) -> None:
    async with notify.client() as client:
        answer = await client.post("/api/v2/alerts", headers=token(org), json=[{"labels": {"alertname": "X"}}])
        bad_filter = await client.get("/api/v2/alerts", headers=token(org), params={"filter": 'a=~"(x"'})
        past = await client.post(
            "/api/v2/silences",
            headers=token(org),
            json={
                "matchers": [{"name": "alertname", "value": "X", "isRegex": False}],
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "2026-01-01T01:00:00Z",
                "createdBy": "me",
                "comment": "old",
            },
        )
        everything = await client.post(
            "/api/v2/silences",
            headers=token(org),
            json={
                "matchers": [{"name": "alertname", "value": ".*", "isRegex": True}],
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "createdBy": "me",
                "comment": "all",
            },
        )
    assert answer.status_code == 400
    assert "labels.project_id" in answer.json()
    assert bad_filter.status_code == 400
    assert "invalid regular expression" in bad_filter.json()
    assert past.status_code == 400
    assert past.json() == "Failed to create silence: end time can't be in the past"
    assert everything.status_code == 400
    assert "must not match the empty string" in everything.json()


async def test_silences_and_alerts_are_the_organisations_own(
    notify: Notify, org: str, unique: str, tmp_path: Path
) -> None:
    other = f"am-other-{unique}"
    amtool = amtool_for(notify.url, org, tmp_path)
    silence_id = amtool("silence", "add", "alertname=Mine", "-c", "mine", "-d", "1h").stdout.strip()
    async with notify.client() as client:
        seen = await client.get(f"/api/v2/silence/{silence_id}", headers=token(other))
        expired = await client.delete(f"/api/v2/silence/{silence_id}", headers=token(other))
        listed = await client.get("/api/v2/silences", headers=token(other))
        mine = await client.get(f"/api/v2/silence/{silence_id}", headers=token(org))
    assert (seen.status_code, expired.status_code) == (404, 404)
    assert listed.json() == []
    assert mine.json()["status"]["state"] == "active", "another organisation could not expire it"


async def test_a_maintenance_window_holds_matching_alerts_until_it_closes_by_itself(
    notify: Notify, org: str, receiver: Receiver
) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    opened = datetime.now(tokyo).replace(tzinfo=None, microsecond=0) - timedelta(seconds=60)
    closes_at = datetime.now(UTC) + timedelta(seconds=8)
    async with notify.client() as client:
        created = await client.post(
            "/v1/maintenance-windows",
            headers=token(org),
            json={
                "name": "db-upgrade",
                "rrule": "FREQ=DAILY",
                "starts": opened.isoformat(),
                "timezone": "Asia/Tokyo",
                "duration": "PT68S",
                "matchers": ['cluster_id="c-maint"'],
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["open"] is True
        for name, cluster in (("Upgrading", "c-maint"), ("Elsewhere", "c-live")):
            alert = {"labels": {"alertname": name, "project_id": "p1", "cluster_id": cluster}}
            assert (await client.post("/api/v2/alerts", headers=token(org), json=[alert])).status_code == 200
        assert await delivered_names(receiver, "Elsewhere") == ["Elsewhere"]
        [held] = (
            await client.get("/api/v2/alerts", headers=token(org), params={"filter": "alertname=Upgrading"})
        ).json()
        assert held["status"] == {"state": "suppressed", "silencedBy": [], "inhibitedBy": [], "mutedBy": ["db-upgrade"]}
    await receiver.wait_for(3, timeout_s=20)  # the subscriber's test message, Elsewhere, then Upgrading
    assert names(alerts_received(receiver)) == ["Elsewhere", "Upgrading"]
    assert datetime.now(UTC) >= closes_at - timedelta(seconds=1), "not before the window closed"


async def test_silences_hold_on_every_instance_and_survive_a_restart(
    kafka_bootstrap: str, database_url: str, unique: str, tmp_path: Path
) -> None:
    log_dir = tmp_path
    first = await start_notify(kafka_bootstrap, database_url, log_dir)
    env = {**first.service.env}
    second = ServiceProcess("notify_service", env)
    org = f"am-multi-{unique}"
    try:
        second.start(log_dir)
        await second.wait_ready()
        await on_plan(first.url, kafka_bootstrap, org, "enterprise")
        async with running_webhook_receiver() as hook:
            await first.subscribe(
                org, {"type": "webhook", "name": "h", "project_id": "p1", "config": {"url": hook.url}}
            )
            silence_id = amtool_for(first.url, org, tmp_path)(
                "silence", "add", "alertname=Held", "-c", "x", "-d", "1h"
            ).stdout.strip()
            on_second = amtool_for(second.url, org, tmp_path)
            assert on_second("silence", "query", "-q").stdout.split() == [silence_id]
            on_second("alert", "add", "Held", "project_id=p1")
            on_second("alert", "add", "Free", "project_id=p1")
            assert await delivered_names(hook, "Free") == ["Free"]

            second.stop()  # a restart: the silence is in Postgres, not in a process
            second = ServiceProcess("notify_service", env)
            second.start(log_dir)
            await second.wait_ready()
            restarted = amtool_for(second.url, org, tmp_path)
            shown = json.loads(restarted("alert", "query", "-s", "-o", "json", "alertname=Held").stdout)
            assert [a["status"]["silencedBy"] for a in shown] == [[silence_id]]
            restarted("silence", "expire", silence_id)
            await hook.wait_for(3, timeout_s=15)
            assert names(alerts_received(hook)) == ["Free", "Held"]
    finally:
        second.stop()
        first.service.stop()


async def test_clinic_alerts_reach_only_plans_with_clinic(notify: Notify, unique: str) -> None:
    basic, enterprise = f"clinic-basic-{unique}", f"clinic-ent-{unique}"
    await on_plan(notify.url, notify.kafka, enterprise, "enterprise")
    clinic = {"labels": {"alertname": "SlowQueries", "project_id": "p1", "source": "clinic"}}
    mail = {"type": "email", "name": "m", "project_id": "proj-1", "config": {"address": f"ops-{unique}@example.com"}}
    await notify.subscribe(basic, mail)  # Basic includes email alerts, not Clinic
    async with running_webhook_receiver() as hook, notify.client() as client:
        await notify.subscribe(
            enterprise, {"type": "webhook", "name": "h", "project_id": "p1", "config": {"url": hook.url}}
        )
        refused = await client.post("/api/v2/alerts", headers=token(basic), json=[clinic])
        one = sample_alert(basic, f"cl-{unique}", source="clinic").model_dump(mode="json")
        native = await client.post("/v1/alerts", headers=token(basic), json=one)
        marker = sample_alert(basic, f"plain-{unique}")  # a platform alert of the same organisation: it is queued
        await notify.alerts(sample_alert(basic, f"cl-k-{unique}", source="clinic"), marker)
        taken = await client.post("/api/v2/alerts", headers=token(enterprise), json=[clinic])
        assert taken.status_code == 200
        assert await delivered_names(hook, "SlowQueries") == ["SlowQueries"]

        async def recorded() -> list[dict[str, Any]]:
            answer = await client.get("/v1/intake-rejections", headers=token(basic))
            return [r for r in answer.json()["rejections"] if r["source"] == "kafka"]

        [kafka] = await eventually(recorded)

    async def queued(fingerprint: str) -> bool:
        sql = "SELECT 1 FROM notifications WHERE org_id = $1 AND fingerprint = $2"
        return bool(await notify.fetch(sql, basic, fingerprint))

    await eventually(lambda: queued(f"plain-{unique}"))
    assert not await queued(f"cl-k-{unique}"), "the Clinic alert was recorded but not queued"
    assert refused.status_code == 400
    assert "Clinic" in refused.json()
    assert "Basic plan" in refused.json()
    assert "Enterprise" in refused.json()
    assert native.status_code == 403
    assert (native.json()["plan"], native.json()["plan_needed"]) == ("basic", "enterprise")
    assert "recorded, not delivered" in kafka["reason"]
    assert "Basic plan" in kafka["reason"]
    sql = "SELECT status FROM alerts WHERE org_id = $1 AND fingerprint = $2"
    assert [r["status"] for r in await notify.fetch(sql, basic, f"cl-k-{unique}")] == ["firing"]
