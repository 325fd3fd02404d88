"""ticket-service test harness: settings, the in-process service with its local Slack and Lark."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import Tam
from carekit.projection import project
from carekit_testing import TEST_JWT_SECRET, FakeClock, bearer, plan_changed, serve_in_process, service_settings
from carekit_testing import InProcess as KitInProcess
from tests.fakes.lark_server import FakeLark
from tests.fakes.slack_server import FakeSlack
from ticket_service import handlers
from ticket_service.app import create_app
from ticket_service.config import Settings
from ticket_service.handlers import Clock, Deps

MONDAY_10_UTC = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SLACK_SECRET = "slack-signing-secret-for-tests"
SLACK_TOKEN = "xoxb-test-bot-token"
LARK_APP = ("cli_test_app", "lark-app-secret-for-tests", "lark-verification-token")
ENGINEER = bearer(TEST_JWT_SECRET, "vendor", "support_engineer", sub="eng-1")


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


def settings_for(database_url: str, kafka: str, prefix: str, **overrides: object) -> Settings:
    """Settings for an in-process instance: its own consumer groups, links under support.test, breaches on demand."""
    defaults: dict[str, object] = {"public_base_url": "https://support.test", "breach_scan_interval_s": 3600}
    return service_settings(Settings, database_url, kafka, consumer_group_prefix=prefix, **(defaults | overrides))


class Service:
    """The in-process service plus what tests need around it."""

    def __init__(self, app: InProcess, clock: FakeClock, slack: FakeSlack, lark: FakeLark, db: str) -> None:
        self.app, self.clock, self.slack, self.lark, self.db = app, clock, slack, lark, db

    @property
    def client(self):  # type: ignore[no-untyped-def]
        return self.app.client

    async def set_plan(
        self, org: str, plan: PlanCode, version: int, timezone: str = "UTC", tam: Tam | None = None
    ) -> None:
        """Apply a plan event through the same projection code the Kafka subscriber runs."""
        event = plan_changed(org, plan, version, timezone=timezone, tam=tam)
        await project(self.app.runtime.pool, event, handlers.apply_plan_to_bindings)

    async def count(self, sql: str, *args: object) -> int:
        conn = await asyncpg.connect(self.db)
        try:
            return int(await conn.fetchval(sql, *args))
        finally:
            await conn.close()


async def bind(service: Service, org: str, plan: PlanCode, platform: str = "slack") -> str:
    """Put the org on `plan` and bind a fresh channel (Slack) or group (Lark) of the local team to it; return its id."""
    await service.set_plan(org, plan, 1)
    if platform == "slack":
        place, workspace = f"C{uuid.uuid4().hex[:8].upper()}", service.slack.team_id
    else:
        place, workspace = f"oc_{uuid.uuid4().hex[:12]}", service.lark.tenant_key
    answer = await service.client.post(
        "/v1/im-bindings",
        json={"org_id": org, "platform": platform, "workspace": workspace, "channel": place},
        headers=ENGINEER,
    )
    assert answer.status_code == 201, answer.text
    return place


async def tickets_of(service: Service, org: str) -> list[dict[str, Any]]:
    """The org's tickets as the support engineer lists them."""
    answer = await service.client.get("/v1/tickets", params={"org_id": org}, headers=ENGINEER)
    tickets: list[dict[str, Any]] = answer.json()
    return tickets


async def ticket_seen(service: Service, ticket_id: str) -> dict[str, Any]:
    """One ticket with its comments, as the support engineer sees it."""
    seen: dict[str, Any] = (await service.client.get(f"/v1/tickets/{ticket_id}", headers=ENGINEER)).json()
    return seen
