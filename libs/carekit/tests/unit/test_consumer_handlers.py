"""The kit's subscribers as FastStream handlers, driven by TestKafkaBroker (no broker needed): a valid event
reaches the handler typed, a record that does not validate is published to the dead-letter topic with the
reason and never reaches the handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from care_schemas.catalogue import PlanCode
from care_schemas.events.deadletter import DeadLetterEvent, EventRejected, deadletter_event_adapter
from care_schemas.events.plan import PlanEvent, SupportPlanChanged, plan_event_adapter
from care_schemas.topics import NOTIFY_DEADLETTER, PLAN_EVENTS
from carekit.consumer import Rejects, subscribe
from carekit.kafka import Publishers, make_broker
from carekit.runtime import Runtime
from carekit_testing import plan_changed

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]


Declare = Callable[[KafkaBroker, Publishers, Callable[[PlanEvent], Awaitable[None]]], None]


async def drive(declare: Declare, bad: bytes) -> tuple[list[PlanEvent], list[DeadLetterEvent]]:
    """Declare a plan subscriber on a TestKafkaBroker, publish a good plan event and then `bad` (key org-bad); what
    the handler got and the dead letters written."""
    broker = make_broker("127.0.0.1:9", client_id="tests")
    publishers = Publishers(broker, [PLAN_EVENTS, NOTIFY_DEADLETTER])
    handled: list[PlanEvent] = []

    async def handle(event: PlanEvent) -> None:
        handled.append(event)

    declare(broker, publishers, handle)
    dead: list[bytes] = []

    @broker.subscriber(NOTIFY_DEADLETTER.name, group_id="unit.dead")
    async def on_dead(body: bytes) -> None:
        dead.append(body)

    async with TestKafkaBroker(broker):
        await publishers[PLAN_EVENTS].publish(plan_changed("org-unit", PlanCode.ENTERPRISE, 3), "org-unit")
        await broker.publish(bad, PLAN_EVENTS.name, key=b"org-bad")
    return handled, [deadletter_event_adapter.validate_json(body) for body in dead]


async def test_a_valid_event_is_handled_typed_and_an_invalid_record_is_dead_lettered_with_its_reason() -> None:
    def declare(broker: KafkaBroker, publishers: Publishers, handle: Callable[[PlanEvent], Awaitable[None]]) -> None:
        subscribe(
            broker,
            topic=PLAN_EVENTS,
            group_id="unit.plans",
            adapter=plan_event_adapter,
            handle=handle,
            rejects=Rejects(publishers, "unit.plans", "/tests"),
        )

    handled, dead = await drive(declare, b'{"type": "care.plan.changed.v1", "data": {}}')

    assert [e.data.org_id for e in handled if isinstance(e, SupportPlanChanged)] == ["org-unit"]
    [rejected] = dead
    assert isinstance(rejected, EventRejected)
    assert rejected.data.key == "org-bad"
    assert rejected.data.consumer == "unit.plans"
    assert "data" in rejected.data.reason


async def test_a_runtime_subscriber_dead_letters_under_its_group_from_its_service() -> None:
    def declare(broker: KafkaBroker, publishers: Publishers, handle: Callable[[PlanEvent], Awaitable[None]]) -> None:
        runtime = Runtime(settings=None, broker=broker, publishers=publishers, name="unit-service")  # type: ignore[arg-type]
        runtime.subscribe(PLAN_EVENTS, "unit.runtime-plans", plan_event_adapter, handle)

    handled, dead = await drive(declare, b"not json")

    assert [e.data.org_id for e in handled if isinstance(e, SupportPlanChanged)] == ["org-unit"]
    [rejected] = dead
    assert isinstance(rejected, EventRejected)
    assert (rejected.data.consumer, rejected.data.key, rejected.source) == (
        "unit.runtime-plans",
        "org-bad",
        "/unit-service",
    )
