"""Every subscriber every app registers, driven by FastStream's TestKafkaBroker (no broker, no database): a record
that is not one of its topic's events is published to notify.deadletter.v1 with the consumer group and the
reason, and never reaches a handler (which would need the database)."""

from __future__ import annotations

import pytest
from faststream.kafka import TestKafkaBroker

from care_schemas import asyncapi
from care_schemas.events.deadletter import EventRejected, deadletter_event_adapter
from care_schemas.topics import NOTIFY_DEADLETTER
from carekit.runtime import Runtime
from tests.contract.test_asyncapi_matches_the_apps import build

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]
CONSUMERS = sorted(name for name, spec in asyncapi.SERVICES.items() if spec["receive"])


@pytest.mark.parametrize("service", CONSUMERS)
async def test_every_subscriber_dead_letters_a_record_that_is_not_an_event(service: str) -> None:
    runtime: Runtime = build(service).state.runtime
    subscribed = sorted(name for sub in runtime.broker.subscribers for name in sub.topic_names)  # one per subscriber
    topics = sorted(set(subscribed))
    rejected: list[EventRejected] = []

    @runtime.broker.subscriber(NOTIFY_DEADLETTER.name, group_id="contract.dead")
    async def on_dead(body: bytes) -> None:
        event = deadletter_event_adapter.validate_json(body)
        assert isinstance(event, EventRejected)
        rejected.append(event)

    async with TestKafkaBroker(runtime.broker):
        for topic in topics:
            await runtime.broker.publish(b'{"type": "care.unknown.v1"}', topic, key=f"{service}-{topic}".encode())

    assert sorted(e.data.topic for e in rejected) == subscribed, "each subscriber dead-lettered the record"
    assert all(e.data.consumer.startswith(f"{service}.") for e in rejected), "named by the consumer group"
    assert all("does not validate" in e.data.reason for e in rejected)
