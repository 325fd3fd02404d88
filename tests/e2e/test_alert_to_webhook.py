"""Walking skeleton: an alert on Kafka reaches a webhook subscriber through notify-service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from care_schemas.events.alert import AlertFiring, alert_event
from care_schemas.events.deadletter import EventRejected, deadletter_event_adapter
from care_schemas.topics import ALERT_EVENTS, NOTIFY_DEADLETTER
from carekit_testing import eventually
from tests.receivers import Notify, Receiver, on_plan, running_receiver, sample_alert

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


async def add_webhook(notify: Notify, receiver: Receiver, org: str, url: str) -> None:
    """Register the webhook through the subscribers API (Enterprise org, owner token); drop its dry-run test."""
    await on_plan(notify.url, notify.kafka, org, "enterprise")
    await notify.subscribe(org, {"type": "webhook", "name": "ops-hook", "project_id": "proj-1", "config": {"url": url}})
    [test] = await receiver.wait_for(1)
    assert test.json()["dryRun"] is True
    receiver.requests.clear()


async def test_alert_event_reaches_webhook_as_alertmanager_json(
    notify: Notify, receiver: Receiver, kafka_producer: AIOKafkaProducer, unique: str
) -> None:
    org = f"org-{unique}"
    await add_webhook(notify, receiver, org, f"{receiver.url}/hook")
    event = alert_event(sample_alert(org, f"fp-{unique}"), source="/tests")
    await kafka_producer.send_and_wait(ALERT_EVENTS.name, event.to_json_bytes(), key=org.encode())

    [request] = await receiver.wait_for(1)
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "version": "4",
        "groupKey": '{}:{cluster_id="cl-1"}',  # grouped by cluster, the default (a subscriber's group_by)
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "ops-hook",
        "groupLabels": {"cluster_id": "cl-1"},
        "commonLabels": {
            "instance": "tikv-0",
            "alertname": "node_memory_above_70pct_10m",
            "severity": "critical",
            "org_id": org,
            "project_id": "proj-1",
            "source": "platform",
            "cluster_id": "cl-1",
        },
        "commonAnnotations": {"summary": "TiKV memory above 70% for 10 minutes", "description": "tikv-0 at 83%"},
        "externalURL": "http://127.0.0.1:8083",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "instance": "tikv-0",
                    "alertname": "node_memory_above_70pct_10m",
                    "severity": "critical",
                    "org_id": org,
                    "project_id": "proj-1",
                    "source": "platform",
                    "cluster_id": "cl-1",
                },
                "annotations": {"summary": "TiKV memory above 70% for 10 minutes", "description": "tikv-0 at 83%"},
                "startsAt": "2026-11-26T08:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://console.example/a/1",
                "fingerprint": f"fp-{unique}",
            }
        ],
    }
    conn = await asyncpg.connect(notify.db)
    try:
        stored = await eventually(
            lambda: conn.fetchrow(
                "SELECT state, attempts FROM notifications WHERE org_id = $1 AND state = 'delivered'", org
            )
        )
        assert dict(stored) == {"state": "delivered", "attempts": 1}
    finally:
        await conn.close()


async def test_malformed_event_is_dead_lettered_and_next_alert_still_delivered(
    notify: Notify,
    receiver: Receiver,
    kafka_producer: AIOKafkaProducer,
    kafka_bootstrap: str,
    unique: str,
) -> None:
    org = f"org-{unique}"
    await add_webhook(notify, receiver, org, f"{receiver.url}/hook")
    dead = AIOKafkaConsumer(
        NOTIFY_DEADLETTER.name,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="latest",
        group_id=f"dl-watch-{unique}",
    )
    await dead.start()
    try:
        await eventually(lambda: _assigned(dead))
        bad = json.loads(alert_event(sample_alert(org, f"bad-{unique}"), source="/tests").model_dump_json())
        bad["data"]["severity"] = "apocalyptic"
        await kafka_producer.send_and_wait(ALERT_EVENTS.name, json.dumps(bad).encode(), key=org.encode())
        await kafka_producer.send_and_wait(ALERT_EVENTS.name, b"{not json", key=org.encode())
        # valid JSON, but Postgres cannot store NUL: it must be refused, not stall the intake for everyone
        nul = json.loads(alert_event(sample_alert(org, f"nul-{unique}"), source="/tests").model_dump_json())
        nul["data"]["summary"] = "disk \u0000 full"
        await kafka_producer.send_and_wait(ALERT_EVENTS.name, json.dumps(nul).encode(), key=org.encode())
        good = alert_event(sample_alert(org, f"good-{unique}"), source="/tests")
        assert isinstance(good, AlertFiring)
        await kafka_producer.send_and_wait(ALERT_EVENTS.name, good.to_json_bytes(), key=org.encode())

        [request] = await receiver.wait_for(1)
        assert request.json()["alerts"][0]["fingerprint"] == f"good-{unique}"

        rejected: list[EventRejected] = []

        async def collect() -> bool:
            batch = await dead.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    if r.key != org.encode():
                        continue  # the topic is shared with other test runs on this broker
                    event = deadletter_event_adapter.validate_json(r.value)
                    if isinstance(event, EventRejected) and event.data.key == org:
                        rejected.append(event)
            return len(rejected) >= 3

        await eventually(collect, timeout_s=20)
        reasons = sorted(e.data.reason for e in rejected)
        assert any("data.severity" in r and "critical" in r for r in reasons), reasons
        assert any("Invalid JSON" in r for r in reasons), reasons
        assert any("data.summary" in r and "NUL" in r for r in reasons), reasons
        assert all(e.data.topic == ALERT_EVENTS.name and e.data.consumer.endswith(".intake") for e in rejected)
    finally:
        await dead.stop()


async def _assigned(consumer: AIOKafkaConsumer) -> bool:
    await consumer.getmany(timeout_ms=200)
    return bool(consumer.assignment())
