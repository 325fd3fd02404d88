"""Consumers against a real broker: a poison event is dead-lettered with its error and stops holding up the rest."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

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


@pytest.mark.parametrize("batched", [False, True], ids=["one-by-one", "batched"])
async def test_an_event_that_always_fails_is_dead_lettered_and_the_events_after_it_are_handled(
    kafka_bootstrap: str, unique: str, batched: bool
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
    if batched:
        subscribe_batch(
            broker, topic=topic, group_id=f"g-{unique}", adapter=plan_event_adapter, handle=handle_many, rejects=rejects
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
