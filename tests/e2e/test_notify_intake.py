"""The HTTP alert intake against a running notify-service: alerts are stored before the answer; when Postgres
cannot take them they go through alert.events.v1 and are still delivered; one organisation's concurrent requests
take turns instead of deadlocking."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from care_schemas.events.alert import alert_event_adapter
from care_schemas.topics import ALERT_EVENTS
from carekit_testing import TopicReader, eventually
from tests.fakes.webhook_server import alerts_received, running_webhook_receiver
from tests.receivers import Notify, sample_alert, token

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


def _native(org: str, fingerprint: str) -> dict[str, object]:
    return sample_alert(org, fingerprint).model_dump(mode="json")


async def _deferred(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    found = re.search(r"^notify_alerts_deferred_total (\S+)$", text, re.MULTILINE)
    assert found is not None, "notify_alerts_deferred_total is not served"
    return float(found.group(1))


@asynccontextmanager
async def _refused_once(notify: Notify, org: str, unique: str) -> AsyncIterator[None]:
    """Postgres refuses the first write of this organisation's alerts (a sequence is not rolled back with the
    transaction, so the next write goes through), as a failure at intake would."""
    name = "refuse_" + re.sub(r"\W", "_", unique)
    await notify.fetch(f"CREATE SEQUENCE {name}")
    await notify.fetch(
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF NEW.org_id = '{org}' AND nextval('{name}') = 1 THEN RAISE EXCEPTION 'refused for the test'; END IF;"
        " RETURN NEW; END $$"
    )
    await notify.fetch(f"CREATE TRIGGER {name} BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION {name}()")
    try:
        yield
    finally:
        await notify.fetch(f"DROP TRIGGER {name} ON alerts")
        await notify.fetch(f"DROP FUNCTION {name}()")
        await notify.fetch(f"DROP SEQUENCE {name}")


async def test_an_accepted_alert_is_stored_before_the_answer(notify: Notify, org: str, unique: str) -> None:
    async with notify.client() as client:
        answer = await client.post("/v1/alerts", headers=token(org), json=_native(org, f"now-{unique}"))
    assert answer.status_code == 202, answer.text
    [event_id] = answer.json()["event_ids"]
    rows = await notify.fetch(
        "SELECT event_id FROM alerts WHERE org_id = $1 AND fingerprint = $2", org, f"now-{unique}"
    )
    assert [r["event_id"] for r in rows] == [event_id]


async def test_alerts_postgres_refuses_at_intake_go_through_the_topic_and_are_delivered(
    notify: Notify, org: str, unique: str
) -> None:
    async with (
        running_webhook_receiver() as receiver,
        notify.client() as client,
        TopicReader(notify.kafka, ALERT_EVENTS, alert_event_adapter) as topic,
    ):
        hook = {"type": "webhook", "name": "hook", "project_id": "proj-1", "config": {"url": f"{receiver.url}/in"}}
        await notify.subscribe(org, hook)
        before = await _deferred(client)
        async with _refused_once(notify, org, unique):
            answer = await client.post("/v1/alerts", headers=token(org), json=_native(org, f"late-{unique}"))
            assert answer.status_code == 202, answer.text
            [record] = await topic.for_key(org, 1)
            assert ("content-type", b"application/cloudevents+json") in list(record.headers)
            assert alert_event_adapter.validate_json(record.value).id == answer.json()["event_ids"][0]
            assert await _deferred(client) == before + 1

            async def delivered() -> list[str]:
                return [a["fingerprint"] for a in alerts_received(receiver)]

            assert await eventually(delivered, timeout_s=30) == [f"late-{unique}"]


async def test_concurrent_requests_of_one_organisation_are_all_stored_at_once(
    notify: Notify, org: str, unique: str
) -> None:
    """Eight requests at once carry the same 40 alerts in different orders: without the organisation's intake lock
    their upserts wait on each other crosswise and Postgres ends one as a deadlock (it would then go the slow way,
    through the topic)."""
    fingerprints = [f"c{i}-{unique}" for i in range(40)]
    bodies = []
    for seed in range(8):
        order = fingerprints[:]
        random.Random(seed).shuffle(order)
        bodies.append([_native(org, f) for f in order])
    async with notify.client() as client:
        before = await _deferred(client)
        answers = await asyncio.gather(*(client.post("/v1/alerts", headers=token(org), json=b) for b in bodies))
        assert [a.status_code for a in answers] == [202] * 8
        assert await _deferred(client) == before
    rows = await notify.fetch("SELECT fingerprint FROM alerts WHERE org_id = $1", org)
    assert sorted(r["fingerprint"] for r in rows) == sorted(fingerprints)
