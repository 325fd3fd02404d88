"""Helpers for ticket-service's tests: a movable clock, the app in-process, plan events, a topic reader."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from care_schemas.events.ticket import TicketEvent, ticket_event_adapter
from care_schemas.topics import PLAN_EVENTS, TICKET_EVENTS
from carekit.testing import FakeClock, TopicReader, bearer, plan_changed, serve_in_process
from carekit.testing import InProcess as KitInProcess
from ticket_service.app import create_app
from ticket_service.config import Settings
from ticket_service.handlers import Clock, Deps

__all__ = [
    "FakeClock",
    "InProcess",
    "TicketTopicReader",
    "bearer",
    "in_process",
    "plan_changed",
    "skip_plan_history",
]


@dataclass
class InProcess(KitInProcess):
    """ticket-service running in this process, with its handlers' dependencies at hand."""

    @property
    def deps(self) -> Deps:
        deps: Deps = self.app.state.deps
        return deps


@contextlib.asynccontextmanager
async def in_process(settings: Settings, clock: Clock | None = None) -> AsyncIterator[InProcess]:
    """ticket-service with its lifespan (pool, migrations, consumers, relay, scheduler) and an HTTP client."""
    async with serve_in_process(create_app(settings, clock)) as running:
        yield InProcess(app=running.app, client=running.client)


class TicketTopicReader(TopicReader[TicketEvent]):
    """What is published on ticket.events.v1 after `start()`."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, TICKET_EVENTS, ticket_event_adapter)


async def skip_plan_history(kafka: str, group_prefix: str) -> None:
    """Commit the service's plan-projection group at the end of plan.events.v1, so a test's fresh service does not
    first replay every plan event earlier tests left on the shared broker (a real deployment reads them all)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=f"{group_prefix}.plans", enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(PLAN_EVENTS.name, p) for p in range(PLAN_EVENTS.partitions)]
        consumer.assign(parts)
        await consumer.commit(dict(await consumer.end_offsets(parts)))
    finally:
        await consumer.stop()
