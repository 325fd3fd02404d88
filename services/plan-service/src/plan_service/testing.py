"""Helpers for plan-service's tests and benchmark: a movable clock, the app in-process, a topic reader."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from fastapi import FastAPI

from care_schemas.events.plan import PlanEvent, plan_event_adapter
from care_schemas.topics import PLAN_EVENTS
from carekit.identity import mint
from carekit.runtime import Runtime
from plan_service.app import create_app
from plan_service.config import Settings
from plan_service.handlers import Clock


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: datetime) -> None:
        self.now = at

    def advance(self, delta: timedelta) -> None:
        self.now += delta


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


def bearer(secret: str, org: str, role: str, sub: str = "user-1") -> dict[str, str]:
    """Authorization header for an identity."""
    return {"Authorization": f"Bearer {mint(secret, sub=sub, org=org, role=role)}"}


@dataclass
class InProcess:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


@contextlib.asynccontextmanager
async def in_process(settings: Settings, clock: Clock) -> AsyncIterator[InProcess]:
    """plan-service with its lifespan (pool, migrations, relay, scheduler) and an HTTP client bound to it."""
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plan-service") as client:
            yield InProcess(app=app, client=client)


@dataclass
class PlanTopicReader:
    """Reads plan.events.v1 from the end offsets at `start()`: what was published afterwards, raw and parsed."""

    bootstrap: str
    records: list[ConsumerRecord[Any, Any]] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        parts = [TopicPartition(PLAN_EVENTS.name, p) for p in range(PLAN_EVENTS.partitions)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            consumer.seek(tp, ends[tp])
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def for_key(self, key: str, count: int, timeout_s: float = 20) -> list[ConsumerRecord[Any, Any]]:
        """At least `count` records keyed `key` (waits up to the deadline, then returns what arrived)."""
        assert self._consumer is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            mine = [r for r in self.records if r.key == key.encode()]
            if len(mine) >= count or loop.time() >= deadline:
                return mine
            batch = await self._consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                self.records.extend(recs)

    async def events(self, key: str, count: int, timeout_s: float = 20) -> list[PlanEvent]:
        return [plan_event_adapter.validate_json(r.value) for r in await self.for_key(key, count, timeout_s)]
