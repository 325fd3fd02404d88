"""Decide by the error, against a real broker and Postgres: permanent failures isolate one record, outages are
waited out, and nothing a record carries stops the records behind it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from asyncpg.exceptions import _base as asyncpg_base

from care_schemas.catalogue import PlanCode
from care_schemas.events.deadletter import EventRejected, deadletter_event_adapter
from care_schemas.events.plan import PlanEvent, SupportPlanChanged, plan_event_adapter
from care_schemas.topics import NOTIFY_DEADLETTER, PLAN_EVENTS, Topic
from carekit import parking, redrive
from carekit.consumer import Rejects, subscribe, subscribe_batch
from carekit.kafka import STRUCTURED, Publishers, ensure_topics, make_broker
from carekit.outbox import OutboxRelay, enqueue
from carekit.refusals import TooLarge
from carekit_testing import TopicReader, eventually, plan_changed, raw_producer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
CLOUDEVENTS_JSON = ("content-type", b"application/cloudevents+json")


# --- outbox relay -------------------------------------------------------------------------------------------------


async def test_an_outbox_row_kafka_refuses_is_parked_with_its_reason_and_every_row_after_it_is_published(
    pool: asyncpg.Pool, producer: Publishers, kafka_bootstrap: str, unique: str
) -> None:
    org = f"org-{unique}"
    async with TopicReader(kafka_bootstrap, PLAN_EVENTS, plan_event_adapter) as reader:
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, PLAN_EVENTS, org, plan_changed(org, PlanCode.DEVELOPER, 1))
            # a row over Kafka's message size (written before the size check existed, or by hand)
            await conn.execute(
                "INSERT INTO outbox (topic, key, event_id, event_type, payload) VALUES ($1, $2, $3, $4, $5)",
                PLAN_EVENTS.name,
                org,
                f"huge-{unique}",
                "care.plan.changed.v1",
                b"x" * 2_000_000,
            )
            await enqueue(conn, PLAN_EVENTS, org, plan_changed(org, PlanCode.ENTERPRISE, 2))
        relay = OutboxRelay(pool, producer)
        assert await relay.drain_once() == 3

        records = await reader.for_key(org, 2)
        assert [plan_event_adapter.validate_json(r.value).data.version for r in records] == [1, 2]
        assert all(CLOUDEVENTS_JSON in list(r.headers) for r in records), "structured mode says so in a header"
        [parked] = await parking.parked(pool, loop="outbox-relay")
        assert "MessageSizeTooLargeError" in parked["reason"]
        unsent = await pool.fetchval("SELECT event_id FROM outbox WHERE sent_at IS NULL")
        assert unsent == f"huge-{unique}", "the parked row is kept, not marked sent"
        assert await relay.drain_once() == 0, "a parked row is not tried again on every pass"

        # an operator re-drives it: it is tried once more and, still too large, parked again with its history
        assert await parking.redrive(pool, parked["id"], "ops-1") == "outbox-relay"
        assert await relay.drain_once() == 1
        history = await parking.parked(pool, loop="outbox-relay", include_redriven=True)
        assert [(p["redriven_by"] is None) for p in history] == [True, False]


async def test_an_event_too_large_for_its_topic_is_refused_where_it_is_written(pool: asyncpg.Pool) -> None:
    tiny = Topic(name="plan.events.v1", key="org id", partitions=3, max_message_bytes=300)
    async with pool.acquire() as conn:
        with pytest.raises(TooLarge, match="takes at most 300"):
            await enqueue(conn, tiny, "org-1", plan_changed("org-1", PlanCode.DEVELOPER, 1))
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


# --- consumers ------------------------------------------------------------------------------------------------------

Handle = Callable[[PlanEvent], Awaitable[None]]


@asynccontextmanager
async def consuming(
    kafka: str, unique: str, handle: Handle, *, batched: bool = False
) -> AsyncIterator[tuple[Topic, AIOKafkaProducer, TopicReader[Any]]]:
    """A fresh one-partition topic consumed by `handle` (one by one or in batches), a producer, a dead-letter reader."""
    topic = Topic(name=f"test.isolation.{unique}", key="org id", partitions=1)
    await ensure_topics(kafka, (topic, NOTIFY_DEADLETTER))

    async def handle_many(events: Sequence[PlanEvent]) -> None:
        for event in events:
            await handle(event)

    producer = raw_producer(kafka)  # the test sends records as any upstream emitter would (binary mode included)
    await producer.start()
    broker = make_broker(kafka, client_id="tests")
    rejects = Rejects(Publishers(broker, (topic, NOTIFY_DEADLETTER)), f"test-{unique}", "/tests")
    group = f"g-{unique}"
    if batched:
        subscribe_batch(
            broker, topic=topic, group_id=group, adapter=plan_event_adapter, handle=handle_many, rejects=rejects
        )
    else:
        subscribe(broker, topic=topic, group_id=group, adapter=plan_event_adapter, handle=handle, rejects=rejects)
    dead = TopicReader(kafka, NOTIFY_DEADLETTER, deadletter_event_adapter)
    await dead.start()
    await broker.start()
    try:
        yield topic, producer, dead
    finally:
        await broker.stop()
        await dead.stop()
        await producer.stop()


async def _send(producer: AIOKafkaProducer, topic: Topic, org: str, version: int = 1) -> SupportPlanChanged:
    event = plan_changed(org, PlanCode.DEVELOPER, version)
    await producer.send_and_wait(topic.name, event.to_json_bytes(), key=org.encode(), headers=STRUCTURED)
    return event


async def _rejected(dead: TopicReader[Any], key: str) -> EventRejected:
    [rejected] = await dead.events(key, 1)
    assert isinstance(rejected, EventRejected)
    return rejected


@pytest.mark.parametrize("batched", [False, True], ids=["one-by-one", "batched"])
async def test_a_record_that_can_never_be_stored_is_dead_lettered_at_once_and_the_rest_go_on(
    kafka_bootstrap: str, unique: str, batched: bool
) -> None:
    """The issue's first case, at the kit: asyncpg cannot encode a date (year 0 in UTC) was taken for an outage."""
    handled: list[str] = []
    attempts: dict[str, int] = {}

    async def handle(event: PlanEvent) -> None:
        org = event.data.org_id
        attempts[org] = attempts.get(org, 0) + 1
        if org.startswith("poison"):
            raise asyncpg_base.DataError("invalid input for query argument $6: (date value out of range)")
        handled.append(org)

    async with consuming(kafka_bootstrap, unique, handle, batched=batched) as (topic, producer, dead):
        orgs = [f"good-{i}-{unique}" for i in range(6)]
        orgs.insert(3, f"poison-{unique}")
        for org in orgs:
            await _send(producer, topic, org)

        async def every_good_one_handled() -> bool:
            return sorted(set(handled)) == sorted(o for o in orgs if not o.startswith("poison"))

        await eventually(every_good_one_handled, timeout_s=30)
        rejected = await _rejected(dead, f"poison-{unique}")
        assert rejected.data.reason.startswith("DataError: invalid input for query argument $6")
        assert rejected.data.topic == topic.name
        # not retried: one attempt, or (batched) one per halving of its batch on the way to being alone
        assert attempts[f"poison-{unique}"] <= (1 + len(orgs).bit_length() if batched else 1)
        [raw] = await dead.for_key(f"poison-{unique}", 1)
        assert CLOUDEVENTS_JSON in list(raw.headers)
        assert rejected.data.headers == {"content-type": "application/cloudevents+json"}


async def test_an_outage_is_waited_out_and_never_dead_letters_the_record(kafka_bootstrap: str, unique: str) -> None:
    handled: list[str] = []
    failures = {"left": 5}

    async def handle(event: PlanEvent) -> None:
        if event.data.org_id == f"first-{unique}" and failures["left"]:
            failures["left"] -= 1
            raise ConnectionResetError("connection reset by peer")
        handled.append(event.data.org_id)

    async with consuming(kafka_bootstrap, unique, handle) as (topic, producer, _dead):
        await _send(producer, topic, f"first-{unique}")
        await _send(producer, topic, f"second-{unique}")

        async def both() -> list[str]:
            return handled if len(handled) == 2 else []

        assert await eventually(both, timeout_s=60) == [f"first-{unique}", f"second-{unique}"]
        assert failures["left"] == 0, "five outages in a row were waited out, more than POISON_ATTEMPTS"


async def test_a_record_without_id_or_specversion_is_dead_lettered_naming_them(
    kafka_bootstrap: str, unique: str
) -> None:
    handled: list[str] = []

    async def handle(event: PlanEvent) -> None:
        handled.append(event.data.org_id)

    async with consuming(kafka_bootstrap, unique, handle) as (topic, producer, dead):
        doc = json.loads(plan_changed(f"bare-{unique}", PlanCode.DEVELOPER, 1).to_json_bytes())
        del doc["id"], doc["specversion"]
        await producer.send_and_wait(topic.name, json.dumps(doc).encode(), key=f"bare-{unique}".encode())
        await _send(producer, topic, f"after-{unique}")

        async def after_handled() -> bool:
            return f"after-{unique}" in handled

        await eventually(after_handled, timeout_s=30)
        rejected = await _rejected(dead, f"bare-{unique}")
        assert "specversion: Field required" in rejected.data.reason
        assert "id: Field required" in rejected.data.reason
        assert handled == [f"after-{unique}"], "no default id or specversion was filled in"


async def test_a_binary_mode_record_is_read_from_its_ce_headers(kafka_bootstrap: str, unique: str) -> None:
    received: list[PlanEvent] = []

    async def handle(event: PlanEvent) -> None:
        received.append(event)

    async with consuming(kafka_bootstrap, unique, handle) as (topic, producer, dead):
        event = plan_changed(f"binary-{unique}", PlanCode.ENTERPRISE, 4)
        assert event.time is not None
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", event.id.encode()),
            ("ce_source", b"/upstream/emitter"),
            ("ce_type", event.type.encode()),
            ("ce_time", event.time.isoformat().encode()),
            ("ce_subject", event.subject.encode()),
            ("ce_traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),  # an extension
            ("content-type", b"application/json; charset=utf-8"),
        ]
        data = event.data.model_dump_json().encode()
        await producer.send_and_wait(topic.name, data, key=f"binary-{unique}".encode(), headers=headers)
        # binary mode without ce_id: refused like a structured record without id
        no_id = [h for h in headers if h[0] != "ce_id"]
        await producer.send_and_wait(topic.name, data, key=f"no-id-{unique}".encode(), headers=no_id)

        async def got_one() -> list[PlanEvent]:
            return received

        [got] = await eventually(got_one, timeout_s=30)
        assert isinstance(got, SupportPlanChanged)
        assert (got.id, got.source, got.data.version) == (event.id, "/upstream/emitter", 4)
        rejected = await _rejected(dead, f"no-id-{unique}")
        assert "id: Field required" in rejected.data.reason
        assert rejected.data.headers is not None
        assert rejected.data.headers["ce_source"] == "/upstream/emitter"


async def test_an_operator_lists_a_dead_lettered_record_and_publishes_it_again_once_the_cause_is_fixed(
    kafka_bootstrap: str, unique: str
) -> None:
    handled: list[str] = []
    fixed = {"yet": False}

    async def handle(event: PlanEvent) -> None:
        if event.data.org_id.startswith("stuck") and not fixed["yet"]:
            raise asyncpg.exceptions.CheckViolationError("violates check constraint plan_known")
        handled.append(event.data.org_id)

    async with consuming(kafka_bootstrap, unique, handle) as (topic, producer, dead):
        await _send(producer, topic, f"stuck-{unique}")
        rejected = await _rejected(dead, f"stuck-{unique}")
        [listed] = await redrive.rejected(kafka_bootstrap, consumer=f"test-{unique}")
        assert (listed.data.topic, listed.data.offset) == (topic.name, rejected.data.offset)
        assert "CheckViolationError" in listed.data.reason

        fixed["yet"] = True  # the cause is fixed (a migration, a catalogue change...): publish it again
        offset = await redrive.again(kafka_bootstrap, topic.name, rejected.data.partition, rejected.data.offset)
        assert offset > rejected.data.offset

        async def taken_in() -> bool:
            return f"stuck-{unique}" in handled

        await eventually(taken_in, timeout_s=30)
        with pytest.raises(LookupError, match="no longer in the topic"):
            await redrive.again(kafka_bootstrap, topic.name, 0, offset + 100)
