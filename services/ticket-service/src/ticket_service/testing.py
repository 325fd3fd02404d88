"""Helpers for ticket-service's tests: a movable clock, the app in-process, plan events, a topic reader."""

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

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.envelope import utcnow
from care_schemas.events.plan import Actor, ChangeReason, SupportPlanChanged, SupportPlanChangedData, Tam
from care_schemas.events.ticket import TicketEvent, ticket_event_adapter
from care_schemas.topics import TICKET_EVENTS
from carekit.identity import mint
from carekit.runtime import Runtime
from ticket_service.app import create_app
from ticket_service.config import Settings
from ticket_service.handlers import Clock, Deps


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def bearer(secret: str, org: str, role: str, sub: str = "user-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(secret, sub=sub, org=org, role=role)}"}


def plan_changed(
    org_id: str,
    plan: PlanCode,
    version: int,
    *,
    timezone: str = "UTC",
    tam: Tam | None = None,
    previous: PlanCode | None = None,
) -> SupportPlanChanged:
    """A SupportPlanChanged as plan-service publishes it, with the catalogue's entitlements."""
    return SupportPlanChanged.build(
        source="/tests",
        subject=org_id,
        data=SupportPlanChangedData(
            org_id=org_id,
            plan=plan,
            previous_plan=previous,
            reason=ChangeReason.ADMIN,
            actor=Actor(sub="tests", role="admin"),
            version=version,
            effective_at=utcnow(),
            entitlements=catalogue().get(plan).entitlements,
            tam=tam,
            timezone=timezone,
        ),
    )


@dataclass
class InProcess:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def deps(self) -> Deps:
        deps: Deps = self.app.state.deps
        return deps


@contextlib.asynccontextmanager
async def in_process(settings: Settings, clock: Clock | None = None) -> AsyncIterator[InProcess]:
    """ticket-service with its lifespan (pool, migrations, consumers, relay, scheduler) and an HTTP client."""
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ticket-service") as client:
            yield InProcess(app=app, client=client)


@dataclass
class TicketTopicReader:
    """Reads ticket.events.v1 from the end offsets at `start()`: what was published afterwards."""

    bootstrap: str
    records: list[ConsumerRecord[Any, Any]] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        parts = [TopicPartition(TICKET_EVENTS.name, p) for p in range(TICKET_EVENTS.partitions)]
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

    async def events(self, key: str, count: int, timeout_s: float = 20) -> list[TicketEvent]:
        return [ticket_event_adapter.validate_json(r.value) for r in await self.for_key(key, count, timeout_s)]
