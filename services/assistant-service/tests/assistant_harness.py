"""assistant-service's test harness (tests and the benchmark): settings, the app in-process, plans, chat events."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from assistant_service.app import create_app
from assistant_service.config import Settings
from assistant_service.handlers.deps import Deps
from care_schemas.catalogue import PlanCode
from care_schemas.events.chat import ChatThread
from care_schemas.events.ticket import ImPlatform
from care_schemas.topics import CHAT_EVENTS, PLAN_EVENTS
from carekit.kafka import ensure_topics
from carekit.projection import project
from carekit_testing import (
    InProcess,
    commit_group_at_end,
    create_database,
    plan_changed,
    serve_in_process,
    service_settings,
)


def settings_for(database_url: str, kafka: str, prefix: str, **overrides: object) -> Settings:
    """Settings for an in-process instance with its own consumer groups."""
    defaults: dict[str, object] = {"docs_base_url": "https://docs.test", "articles_poll_interval_s": 1.0}
    return service_settings(Settings, database_url, kafka, consumer_group_prefix=prefix, **(defaults | overrides))


async def fresh_groups(kafka: str, prefix: str) -> None:
    """Start the instance's consumer groups at the end of the shared topics (not every earlier test's events)."""
    await commit_group_at_end(kafka, f"{prefix}.plans", PLAN_EVENTS)
    await commit_group_at_end(kafka, f"{prefix}.chat", CHAT_EVENTS)


async def fresh_settings(kafka: str, database_url: str, name: str, **overrides: object) -> Settings:
    """Settings for an instance on a fresh database, its consumer groups (`name`-...) at the end of the topics."""
    await ensure_topics(kafka)
    db = await create_database(database_url, "assistant")
    prefix = f"{name}-{uuid.uuid4().hex[:8]}"
    await fresh_groups(kafka, prefix)
    return settings_for(db, kafka, prefix, **overrides)


@dataclass
class Running:
    """assistant-service in this process: its HTTP client and its handlers' dependencies."""

    service: InProcess

    @property
    def deps(self) -> Deps:
        deps: Deps = self.service.app.state.deps
        return deps

    @property
    def client(self):  # type: ignore[no-untyped-def]
        return self.service.client

    async def set_plan(self, org: str, plan: PlanCode, version: int = 1) -> None:
        """Apply a plan event through the same projection code the Kafka subscriber runs."""
        await project(self.service.runtime.pool, plan_changed(org, plan, version))


@contextlib.asynccontextmanager
async def in_process(settings: Settings) -> AsyncIterator[Running]:
    async with serve_in_process(create_app(settings)) as running:
        yield Running(running)


def slack_thread(channel: str | None = None, ts: str | None = None) -> ChatThread:
    return ChatThread(
        platform=ImPlatform.SLACK,
        workspace="T0TEST",
        channel=channel or f"C{uuid.uuid4().hex[:8].upper()}",
        thread_ts=ts or f"{datetime.now(UTC).timestamp():.6f}",
    )
