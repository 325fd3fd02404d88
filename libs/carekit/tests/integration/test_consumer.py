"""Consumers against a real broker: a poison event is dead-lettered with its error and stops holding up the rest."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from aiokafka import ConsumerRecord

from care_schemas.catalogue import PlanCode
from care_schemas.events.deadletter import EventRejected, deadletter_event_adapter
from care_schemas.events.plan import PlanEvent, SupportPlanChanged, plan_event_adapter
from care_schemas.topics import NOTIFY_DEADLETTER, Topic
from carekit.consumer import Rejects, subscribe, subscribe_batch
from carekit.kafka import Publishers, ensure_topics, make_broker
from carekit_testing import TopicReader, eventually, plan_changed

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


class CannotStore(Exception):
    pass


@pytest.mark.parametrize("lanes", [0, 1, 2], ids=["one-by-one", "batched", "batched-in-lanes"])
async def test_an_event_that_always_fails_is_dead_lettered_and_the_events_after_it_are_handled(
    kafka_bootstrap: str, unique: str, lanes: int
) -> None:
    topic = Topic(name=f"test.poison.{unique}", key="org id", partitions=1)
    await ensure_topics(kafka_bootstrap, (topic, NOTIFY_DEADLETTER))
    handled: list[str] = []
    attempts: dict[str, int] = {}

    async def handle_one(event: PlanEvent) -> None:
        assert isinstance(event, SupportPlanChanged)
        attempts[event.data.org_id] = attempts.get(event.data.org_id, 0) + 1
        if event.data.org_id.startswith("poison"):
            raise CannotStore("value too long for column")
        handled.append(event.data.org_id)

    async def handle_many(events: Sequence[PlanEvent]) -> None:
        for event in events:
            await handle_one(event)

    broker = make_broker(kafka_bootstrap, client_id="tests")
    publishers = Publishers(broker, (topic, NOTIFY_DEADLETTER))
    rejects = Rejects(publishers, f"test-{unique}", "/tests")
    if lanes:
        subscribe_batch(
            broker,
            topic=topic,
            group_id=f"g-{unique}",
            adapter=plan_event_adapter,
            handle=handle_many,
            rejects=rejects,
            lanes=lanes,
        )
    else:
        subscribe(
            broker, topic=topic, group_id=f"g-{unique}", adapter=plan_event_adapter, handle=handle_one, rejects=rejects
        )
    dead = TopicReader(kafka_bootstrap, NOTIFY_DEADLETTER, deadletter_event_adapter)
    await dead.start()
    await broker.start()
    try:
        orgs = [f"good-a-{unique}", f"poison-{unique}", f"good-b-{unique}"]
        for org in orgs:
            await publishers[topic].publish(plan_changed(org, PlanCode.DEVELOPER, 1), org)

        async def both_good_handled() -> bool:
            # at least once: when the three come in one batch, the good one before the poison is handled again with
            # each retry of the batch and of its halves (a sorted list compared with two items failed on that)
            return set(handled) == {orgs[0], orgs[2]}

        await eventually(both_good_handled, timeout_s=60)  # a new group's first join is slow on a busy machine
        [rejected] = await dead.events(orgs[1], 1)
        assert isinstance(rejected, EventRejected)
        assert rejected.data.topic == topic.name
        assert "failed 3 times: CannotStore: value too long for column" in rejected.data.reason
        assert attempts[orgs[1]] >= 3
    finally:
        await broker.stop()
        await dead.stop()


@contextlib.asynccontextmanager
async def _batches(
    kafka_bootstrap: str,
    unique: str,
    topic: Topic,
    handle: Callable[[Sequence[PlanEvent]], Awaitable[None]],
    published: Sequence[tuple[str, int]],
    **options: int,
) -> AsyncIterator[None]:
    """Publish plan changes (key, version) to `topic` before the subscriber starts, so that one poll holds them all;
    then `handle` them with `subscribe_batch` (`options`: max_records, lanes) until the block ends."""
    sender = make_broker(kafka_bootstrap, client_id="tests-sender")
    publishers = Publishers(sender, (topic, NOTIFY_DEADLETTER))
    await sender.start()
    try:
        for key, version in published:
            await publishers[topic].publish(plan_changed(key, PlanCode.DEVELOPER, version), key)
        broker = make_broker(kafka_bootstrap, client_id="tests")
        rejects = Rejects(publishers, f"test-{unique}", "/tests")
        subscribe_batch(
            broker,
            topic=topic,
            group_id=f"g-{unique}",
            adapter=plan_event_adapter,
            handle=handle,
            rejects=rejects,
            **options,
        )
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
    finally:
        await sender.stop()


async def test_a_poll_in_lanes_is_handled_at_once_each_key_in_order_and_an_outage_in_one_loses_nothing(
    kafka_bootstrap: str, unique: str
) -> None:
    """Six keys of ten events each on one partition, in three lanes: the lanes' transactions overlap, each key's
    events reach the handler in the order they were published, and an outage in one lane (its first call fails)
    makes the whole poll come again, so every event is handled."""
    topic = Topic(name=f"test.lanes.{unique}", key="org id", partitions=1)
    await ensure_topics(kafka_bootstrap, (topic, NOTIFY_DEADLETTER))
    keys = [f"org-{k}-{unique}" for k in range(6)]
    seen: dict[str, list[int]] = {k: [] for k in keys}
    running = most_at_once = 0
    failed_once: list[str] = []

    async def handle_many(events: Sequence[PlanEvent]) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        try:
            await asyncio.sleep(0.05)  # as a transaction waits for the database
            if not failed_once and any(e.data.org_id == keys[0] for e in events):
                failed_once.append(keys[0])
                raise ConnectionRefusedError("database restarting")
            for event in events:
                seen[event.data.org_id].append(event.data.version)
        finally:
            running -= 1

    async def all_handled() -> bool:
        return all(set(v) == set(range(1, 11)) for v in seen.values())

    published = [(key, version) for version in range(1, 11) for key in keys]
    async with _batches(kafka_bootstrap, unique, topic, handle_many, published, max_records=100, lanes=3):
        await eventually(all_handled, timeout_s=60)
    assert failed_once == [keys[0]]
    assert most_at_once >= 2, "the lanes of a poll ran one after another"
    for key, versions in seen.items():
        firsts = list(dict.fromkeys(versions))  # a poll that came again repeats what it held: at least once
        assert firsts == list(range(1, 11)), f"{key} handled out of order: {versions}"


def _records_reachable(root: object, depth: int = 8) -> int:
    """How many Kafka records can be reached from `root` in `depth` steps of references."""
    seen, level, found = {id(root)}, [root], 0
    for _ in range(depth):
        below = []
        for obj in gc.get_referents(*level):
            if id(obj) not in seen and not isinstance(obj, type | types.ModuleType):
                seen.add(id(obj))
                found += isinstance(obj, ConsumerRecord)
                below.append(obj)
        level = below
    return found


@pytest.mark.parametrize("lanes", [1, 3], ids=["batched", "batched-in-lanes"])
async def test_what_a_batch_handler_leaves_scheduled_does_not_keep_the_poll_alive(
    kafka_bootstrap: str, unique: str, lanes: int
) -> None:
    """A handler's transaction gives its connection back to asyncpg's pool, which schedules a timer for five minutes
    in the handler's context: that context must not hold the poll (thousands of records at a time in
    notify-service's intake, a connection each)."""
    topic = Topic(name=f"test.context.{unique}", key="org id", partitions=1)
    await ensure_topics(kafka_bootstrap, (topic, NOTIFY_DEADLETTER))
    handled: list[PlanEvent] = []
    contexts: list[contextvars.Context] = []

    async def handle_many(events: Sequence[PlanEvent]) -> None:
        contexts.append(contextvars.copy_context())  # what loop.call_later keeps, as asyncpg's pool does
        handled.extend(events)

    async def all_handled() -> bool:
        return len(handled) >= 20

    published = [(f"org-{n % 5}-{unique}", n + 1) for n in range(20)]
    async with _batches(kafka_bootstrap, unique, topic, handle_many, published, lanes=lanes):
        await eventually(all_handled, timeout_s=60)
    assert contexts, "the handler ran"
    assert [_records_reachable(c) for c in contexts] == [0] * len(contexts), "a handler's context holds records"
