"""Helpers for plan-service's tests and benchmark: a movable clock, the app in-process, a topic reader."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from care_schemas.events.plan import PlanEvent, plan_event_adapter
from care_schemas.topics import PLAN_EVENTS
from carekit.testing import FakeClock, InProcess, TopicReader, bearer, serve_in_process
from plan_service.app import create_app
from plan_service.config import Settings
from plan_service.handlers import Clock

__all__ = [
    "FakeClock",
    "InProcess",
    "PlanTopicReader",
    "bearer",
    "in_process",
    "settings_for",
    "start_group_at_end",
]


def settings_for(database_url: str, kafka_bootstrap: str, jwt_secret: str, **overrides: object) -> Settings:
    """Settings for an in-process instance (port 0; the scheduler off unless asked for)."""
    values: dict[str, object] = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "database_url": database_url,
        "jwt_secret": jwt_secret,
        "http_port": 0,
        "plan_scheduler_enabled": False,
        **overrides,
    }
    return Settings.model_validate(values)


@contextlib.asynccontextmanager
async def in_process(settings: Settings, clock: Clock) -> AsyncIterator[InProcess]:
    """plan-service with its lifespan (pool, migrations, relay, scheduler) and an HTTP client bound to it."""
    async with serve_in_process(create_app(settings, clock)) as running:
        yield running


class PlanTopicReader(TopicReader[PlanEvent]):
    """What is published on plan.events.v1 after `start()`."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, PLAN_EVENTS, plan_event_adapter)


async def start_group_at_end(kafka: str, group_id: str) -> None:
    """Commit `group_id` at the end of plan.events.v1, so a test's fresh consumer does not first replay every plan
    event that earlier tests left on the shared broker (the topic is kept forever; a deployment reads it all)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(PLAN_EVENTS.name, p) for p in range(PLAN_EVENTS.partitions)]
        consumer.assign(parts)
        await consumer.commit(dict(await consumer.end_offsets(parts)))
    finally:
        await consumer.stop()
