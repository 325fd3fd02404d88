"""AI chat end to end: ticket-, assistant- and notify-service as processes on real Kafka and Postgres, with the local
Slack and Lark servers, and what tests and the benchmark do with them (plans, bindings, waiting for entitlement)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from care_schemas.catalogue import PlanCode
from care_schemas.topics import CHAT_EVENTS, PLAN_EVENTS
from carekit.kafka import ensure_topics
from carekit_testing import (
    TEST_JWT_SECRET,
    ServiceProcess,
    bearer,
    commit_group_at_end,
    create_database,
    eventually,
    plan_changed,
    raw_producer,
)
from tests.fakes.lark_server import FakeLark, running_lark
from tests.fakes.slack_server import FakeSlack, running_slack
from tests.receivers import skip_history
from tests.service_env import chat_env, service_env

SLACK_SECRET = "assistant-e2e-slack-signing-secret"
SLACK_TOKEN = "xoxb-assistant-e2e-bot-token"
LARK = ("cli_assistant_e2e", "assistant-e2e-lark-app-secret", "assistant-e2e-lark-verification-token")
DOCS = "https://docs.e2e"
TICKETS = "https://support.e2e"
ENGINEER = bearer(TEST_JWT_SECRET, "vendor", "support_engineer", sub="eng-7")


@dataclass
class AssistantStack:
    ticket: ServiceProcess
    assistant: ServiceProcess
    notify: ServiceProcess
    slack: FakeSlack
    lark: FakeLark
    producer: AIOKafkaProducer
    http: httpx.AsyncClient

    async def set_plan(self, org: str, plan: PlanCode, version: int) -> None:
        event = plan_changed(org, plan, version)
        await self.producer.send_and_wait(PLAN_EVENTS.name, event.to_json_bytes(), key=org.encode())

    async def bind(self, org: str, platform: str, channel: str) -> dict[str, Any]:
        """Bind a Slack channel or Lark group once ticket-service has the organisation's plan."""
        workspace = self.slack.team_id if platform == "slack" else self.lark.tenant_key
        place = {"org_id": org, "platform": platform, "workspace": workspace, "channel": channel}

        async def bound() -> dict[str, Any] | None:
            answer = await self.http.post(f"{self.ticket.url}/v1/im-bindings", json=place, headers=ENGINEER)
            return dict(answer.json()) if answer.status_code == 201 else None

        result: dict[str, Any] = await eventually(bound, timeout_s=30, interval_s=0.3)
        return result

    async def entitled(self, org: str) -> None:
        """Wait until assistant-service has the organisation's plan with AI chat (its own projection)."""

        async def allowed() -> bool:
            answer = await self.http.post(
                f"{self.assistant.url}/v1/assistant/ask",
                json={"question": "What is Clinic?"},
                headers=bearer(TEST_JWT_SECRET, org, "member"),
            )
            return answer.status_code == 200

        await eventually(allowed, timeout_s=30, interval_s=0.3)

    async def enterprise_channel(
        self, platform: str = "slack", plan: PlanCode = PlanCode.ENTERPRISE
    ) -> tuple[str, str]:
        """A fresh organisation on `plan` with a bound Slack channel or Lark group; (org, channel)."""
        org = f"org-{uuid.uuid4().hex[:10]}"
        channel = f"C{uuid.uuid4().hex[:8].upper()}" if platform == "slack" else f"oc_{uuid.uuid4().hex[:10]}"
        await self.set_plan(org, plan, 1)
        await self.bind(org, platform, channel)
        await self.entitled(org)
        return org, channel


@contextlib.asynccontextmanager
async def running_stack(
    kafka: str, database_url: str, log_dir: Path, **assistant_env: str
) -> AsyncIterator[AssistantStack]:
    """The three services as processes, each on a fresh database and its own consumer groups, started at the end
    of the shared topics (other runs' events are not replayed)."""
    await ensure_topics(kafka)
    run = uuid.uuid4().hex[:8]
    async with running_slack(SLACK_SECRET, SLACK_TOKEN) as slack, running_lark(*LARK) as lark:
        services: dict[str, ServiceProcess] = {}
        notify_chat_env = {
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_API_URL": slack.api_url,
            "LARK_APP_ID": LARK[0],
            "LARK_APP_SECRET": LARK[1],
            "LARK_API_URL": lark.api_url,
        }
        extra = {
            "ticket": chat_env(slack, lark) | {"PUBLIC_BASE_URL": TICKETS},
            "notify": notify_chat_env,
            "assistant": {"DOCS_BASE_URL": DOCS} | assistant_env,
        }
        for name in ("ticket", "assistant", "notify"):
            prefix = f"chat-e2e-{run}-{name}"
            if name == "notify":
                await skip_history(kafka, prefix)
            for group, topic in ((f"{prefix}.plans", PLAN_EVENTS), (f"{prefix}.chat", CHAT_EVENTS)):
                await commit_group_at_end(kafka, group, topic)
            db = await create_database(database_url, name)
            env = service_env(f"{name}_service", kafka=kafka, database_url=db, group_prefix=prefix) | extra[name]
            services[name] = ServiceProcess(f"{name}_service", env)
            services[name].start(log_dir)
        producer = raw_producer(kafka)
        await producer.start()
        try:
            for service in services.values():
                await service.wait_ready()
            async with httpx.AsyncClient(timeout=15) as http:
                yield AssistantStack(
                    services["ticket"], services["assistant"], services["notify"], slack, lark, producer, http
                )
        finally:
            await producer.stop()
            for service in services.values():
                service.stop()
