"""Hostile records into every consumer, against the real broker (hypothesis): wrong types, missing fields, dates
out of range, huge strings, lone surrogates, NUL, unknown types, future versions, not JSON at all.

For each example a good event is sent right behind the bad one with the same key (same partition): it must be
applied within seconds (no consumer stalls), and the bad one must be dead-lettered with its reason by every
consumer of its topic. Bounded: a few examples per topic, no deadline.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from care_schemas.catalogue import PlanCode, Severity
from care_schemas.envelope import CloudEvent
from care_schemas.events.alert import alert_event
from care_schemas.events.chat import ChatQuestionAsked, ChatThread
from care_schemas.events.deadletter import EventRejected, deadletter_event_adapter
from care_schemas.events.plan import Tam
from care_schemas.events.ticket import ImPlatform, TicketChannel, TicketKind, TicketOpened, TicketOpenedData
from care_schemas.topics import ALERT_EVENTS, CHAT_EVENTS, NOTIFY_DEADLETTER, PLAN_EVENTS, TICKET_EVENTS, Topic
from carekit.kafka import ensure_topics
from carekit_testing import ServiceProcess, commit_group_at_end, create_database, plan_changed, question_asked
from tests.receivers import sample_alert
from tests.service_env import service_env

pytestmark = pytest.mark.e2e
EXAMPLES = 12  # per topic
APPLIED_WITHIN_S = 20.0


@dataclass
class Consumers:
    """notify-, ticket- and assistant-service as processes, their databases, and a dead-letter reader."""

    loop: asyncio.AbstractEventLoop
    kafka: str
    notify_db: str
    ticket_db: str
    assistant_db: str
    groups: dict[str, list[str]]  # topic -> the consumer groups that read it
    producer: AIOKafkaProducer
    dead: AIOKafkaConsumer

    def run(self, coro: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(coro)


@pytest.fixture(scope="module")
def consumers(kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consumers]:
    loop = asyncio.new_event_loop()
    stamp = uuid.uuid4().hex[:8]
    notify_prefix, ticket_prefix, assistant_prefix = f"hx-notify-{stamp}", f"hx-ticket-{stamp}", f"hx-assist-{stamp}"
    groups = {
        ALERT_EVENTS.name: [f"{notify_prefix}.intake"],
        TICKET_EVENTS.name: [f"{notify_prefix}.tickets"],
        PLAN_EVENTS.name: [f"{notify_prefix}.plans", f"{ticket_prefix}.plans", f"{assistant_prefix}.plans"],
        CHAT_EVENTS.name: [f"{assistant_prefix}.chat", f"{ticket_prefix}.chat", f"{notify_prefix}.chat"],
    }
    topics = {t.name: t for t in (ALERT_EVENTS, TICKET_EVENTS, PLAN_EVENTS, CHAT_EVENTS)}
    log_dir = Path(tmp_path_factory.mktemp("hostile"))
    processes: list[ServiceProcess] = []

    async def start() -> Consumers:
        await ensure_topics(kafka_bootstrap)
        for topic, names in groups.items():
            for group in names:
                await commit_group_at_end(kafka_bootstrap, group, topics[topic])
        notify_db = await create_database(database_url, "notify")
        ticket_db = await create_database(database_url, "ticket")
        assistant_db = await create_database(database_url, "assistant")
        for module, db, prefix in (
            ("notify_service", notify_db, notify_prefix),
            ("ticket_service", ticket_db, ticket_prefix),
            ("assistant_service", assistant_db, assistant_prefix),
        ):
            process = ServiceProcess(
                module, service_env(module, kafka=kafka_bootstrap, database_url=db, group_prefix=prefix)
            )
            process.start(log_dir)
            processes.append(process)
        for process in processes:
            await process.wait_ready()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=2_000_000)
        await producer.start()
        dead = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
        await dead.start()
        parts = [TopicPartition(NOTIFY_DEADLETTER.name, p) for p in range(NOTIFY_DEADLETTER.partitions)]
        dead.assign(parts)
        for tp, end in (await dead.end_offsets(parts)).items():
            dead.seek(tp, end)
        return Consumers(loop, kafka_bootstrap, notify_db, ticket_db, assistant_db, groups, producer, dead)

    running = loop.run_until_complete(start())
    try:
        yield running
    finally:
        loop.run_until_complete(running.producer.stop())
        loop.run_until_complete(running.dead.stop())
        for process in processes:
            process.stop()
        loop.close()


# --- hostile documents: a valid event with one thing broken, each invalid by construction ---------------------------

LONG = "x" * 300_000
BAD_TIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:00-01:00", "1969-07-20T20:17:00Z", "not a time", -1]
Mutation = Callable[[dict[str, Any]], None]


def _strings(doc: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(container, key) of every string in the event's data (not enum-like fields: they would only be 'unknown')."""
    found = []
    for key, value in doc["data"].items():
        if isinstance(value, str) and key not in ("severity", "status", "plan", "reason", "kind", "channel"):
            found.append((doc["data"], key))
    return found


def mutations(times: list[str]) -> st.SearchStrategy[tuple[str, Mutation]]:
    """A named change that makes a valid event invalid."""

    def drop(name: str) -> Mutation:
        return lambda doc: doc.pop(name)

    def in_string(text: str) -> Mutation:
        def apply(doc: dict[str, Any]) -> None:
            box, key = _strings(doc)[0]
            box[key] = box[key] + text

        return apply

    def set_top(name: str, value: Any) -> Mutation:
        return lambda doc: doc.__setitem__(name, value)

    def set_data(name: str, value: Any) -> Mutation:
        return lambda doc: doc["data"].__setitem__(name, value)

    choices: list[tuple[str, Mutation]] = [
        *[(f"missing {n}", drop(n)) for n in ("id", "specversion", "type", "source", "subject", "data")],
        ("NUL in text", in_string("\x00")),
        ("lone surrogate in text", in_string("\ud800")),
        ("huge string", in_string(LONG)),
        ("unknown type", set_top("type", "care.nothing.happened.v1")),
        ("future version", lambda doc: doc.__setitem__("type", doc["type"].removesuffix("v1") + "v2")),
        ("future specversion", set_top("specversion", "2.0")),
        ("data of the wrong type", set_top("data", ["not", "an", "object"])),
        ("id of the wrong type", set_top("id", 12345)),
        ("unknown data field", set_data("surprise", 1)),
    ]
    choices += [(f"{field} = {when!r}", set_data(field, when)) for field in times for when in BAD_TIMES]
    return st.sampled_from(choices)


def _encode(doc: dict[str, Any]) -> bytes:
    # json.dumps escapes lone surrogates as \\ud800 (as a JSON sender could); NUL as \\u0000
    return json.dumps(doc).encode()


async def _send(c: Consumers, topic: Topic, key: str, value: bytes) -> None:
    await c.producer.send_and_wait(topic.name, value, key=key.encode())


async def _wait(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + APPLIED_WITHIN_S
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} was not applied within {APPLIED_WITHIN_S:.0f}s: a consumer stalled")
        await asyncio.sleep(0.1)


async def _row(db: str, sql: str, *args: Any) -> bool:
    conn = await asyncpg.connect(db)
    try:
        return bool(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def _dead_letters(c: Consumers, key: str, groups: list[str]) -> dict[str, EventRejected]:
    """The dead letters of `key` from each of `groups` (waits for all of them)."""
    found: dict[str, EventRejected] = {}
    deadline = time.monotonic() + APPLIED_WITHIN_S
    while set(found) != set(groups) and time.monotonic() < deadline:
        for records in (await c.dead.getmany(timeout_ms=200)).values():
            for r in records:
                if r.key != key.encode():
                    continue
                event = deadletter_event_adapter.validate_json(r.value)
                if isinstance(event, EventRejected) and event.data.consumer in groups:
                    found[event.data.consumer] = event
    return found


Applied = Callable[[], Awaitable[bool]]


def _check(
    c: Consumers, topic: Topic, key: str, bad: bytes, good: CloudEvent[Any], applied: Applied, what: str
) -> None:
    async def run() -> None:
        await _send(c, topic, key, bad)
        await _send(c, topic, key, good.to_json_bytes())
        await _wait(applied, f"the good {topic.name} event behind {what!r}")
        groups = c.groups[topic.name]
        dead = await _dead_letters(c, key, groups)
        assert set(dead) == set(groups), f"{what!r} was not dead-lettered by {sorted(set(groups) - set(dead))}"
        for event in dead.values():
            assert event.data.reason, "a dead letter says why"

    c.run(run())


HYPOTHESIS = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@given(mutation=mutations(["starts_at", "ends_at"]))
@HYPOTHESIS
def test_hostile_alert_events_never_stall_the_intake(consumers: Consumers, mutation: tuple[str, Mutation]) -> None:
    what, mutate = mutation
    org = f"hx-{uuid.uuid4().hex[:10]}"
    doc = json.loads(alert_event(sample_alert(org, "bad"), source="/hostile").to_json_bytes())
    mutate(doc)
    good = alert_event(sample_alert(org, "good"), source="/hostile")
    sql = "SELECT 1 FROM alerts WHERE org_id = $1 AND fingerprint = 'good'"
    _check(consumers, ALERT_EVENTS, org, _encode(doc), good, lambda: _row(consumers.notify_db, sql, org), what)


@given(mutation=mutations(["effective_at", "trial_ends_at"]))
@HYPOTHESIS
def test_hostile_plan_events_never_stall_any_projection(consumers: Consumers, mutation: tuple[str, Mutation]) -> None:
    what, mutate = mutation
    org = f"hx-{uuid.uuid4().hex[:10]}"
    doc = json.loads(plan_changed(org, PlanCode.DEVELOPER, 1).to_json_bytes())
    mutate(doc)
    good = plan_changed(org, PlanCode.ENTERPRISE, 2)
    sql = "SELECT 1 FROM plan_projection WHERE org_id = $1 AND version = 2"

    async def both() -> bool:
        dbs = (consumers.notify_db, consumers.ticket_db, consumers.assistant_db)
        return all([await _row(db, sql, org) for db in dbs])

    _check(consumers, PLAN_EVENTS, org, _encode(doc), good, both, what)


def _opened(ticket: str, org: str) -> TicketOpened:
    now = datetime.now(UTC)
    return TicketOpened.build(
        source="/hostile",
        subject=ticket,
        data=TicketOpenedData(
            ticket_id=ticket,
            org_id=org,
            kind=TicketKind.TECHNICAL,
            severity=Severity.S1,
            summary="database down",
            channel=TicketChannel.API,
            plan=PlanCode.PREMIUM,
            response_due_at=now,
            opened_at=now,
            link=f"https://support.test/tickets/{ticket}",
            tam=Tam(name="Tess", email="tess@example.com"),
        ),
    )


@given(mutation=mutations(["opened_at", "response_due_at"]))
@HYPOTHESIS
def test_hostile_ticket_events_never_stall_ticket_updates(consumers: Consumers, mutation: tuple[str, Mutation]) -> None:
    what, mutate = mutation
    ticket, org = f"tkt-hx-{uuid.uuid4().hex[:10]}", f"hx-{uuid.uuid4().hex[:10]}"
    doc = json.loads(_opened(ticket, org).to_json_bytes())
    mutate(doc)
    good = _opened(ticket, org)
    sql = "SELECT 1 FROM im_messages WHERE event_id = $1"
    _check(consumers, TICKET_EVENTS, ticket, _encode(doc), good, lambda: _row(consumers.notify_db, sql, good.id), what)


def _asked(org: str, text: str) -> ChatQuestionAsked:
    thread = ChatThread(platform=ImPlatform.SLACK, workspace="T-HX", channel="C-HX", thread_ts=org)
    return question_asked(org, text, thread, message_id=text, user="U-HX", source="/hostile")


@given(mutation=mutations(["asked_at"]))
@HYPOTHESIS
def test_hostile_chat_events_never_stall_the_assistant_or_the_chat_consumers(
    consumers: Consumers, mutation: tuple[str, Mutation]
) -> None:
    what, mutate = mutation
    org = f"hx-{uuid.uuid4().hex[:10]}"
    doc = json.loads(_asked(org, "bad").to_json_bytes())
    mutate(doc)
    good = _asked(org, "good")
    sql = "SELECT 1 FROM turns WHERE question_id = $1"  # answered (the plan line: an unknown org is on Basic)
    applied = lambda: _row(consumers.assistant_db, sql, good.data.question_id)  # noqa: E731
    _check(consumers, CHAT_EVENTS, good.data.conversation_id, _encode(doc), good, applied, what)


def test_a_record_that_is_not_json_at_all_is_dead_lettered_by_every_consumer(consumers: Consumers) -> None:
    org = f"hx-{uuid.uuid4().hex[:10]}"
    sql = "SELECT 1 FROM plan_projection WHERE org_id = $1 AND version = 2"

    async def both() -> bool:
        dbs = (consumers.notify_db, consumers.ticket_db, consumers.assistant_db)
        return all([await _row(db, sql, org) for db in dbs])

    _check(
        consumers, PLAN_EVENTS, org, b"\xff\xfe not json {", plan_changed(org, PlanCode.ENTERPRISE, 2), both, "bytes"
    )
