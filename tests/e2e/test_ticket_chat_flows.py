"""ticket-service as a process with local Slack- and Lark-compatible servers: a customer raises a ticket from
chat, the bot confirms in the thread; a downgrade to Basic refuses the next technical ticket and suspends the
binding. Plans arrive as SupportPlanChanged on plan.events.v1, as plan-service publishes them."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import Tam
from care_schemas.events.ticket import ImMode, TicketCommented, TicketOpened
from care_schemas.topics import PLAN_EVENTS
from carekit.kafka import ensure_topics
from carekit_testing import (
    TEST_JWT_SECRET,
    ServiceProcess,
    TicketTopicReader,
    bearer,
    commit_group_at_end,
    create_database,
    eventually,
    lark_links,
    plan_changed,
)
from tests.fakes.lark_server import FakeLark, running_lark
from tests.fakes.slack_server import FakeSlack, running_slack
from tests.service_env import chat_env, service_env

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
SLACK_SECRET = "e2e-slack-signing-secret"
SLACK_TOKEN = "xoxb-e2e-bot-token"
LARK = ("cli_e2e", "e2e-lark-app-secret", "e2e-lark-verification-token", "e2e-lark-encrypt-key")
ENGINEER = bearer(TEST_JWT_SECRET, "vendor", "support_engineer", sub="eng-7")
FORM = {
    "summary": "TiFlash replicas lagging",
    "severity": "S2",
    "kind": "technical",
    "cluster_id": "cl-42",
    "description": "since 08:00",
    "reporter_email": "dba@customer.example",
}


@dataclass
class Stack:
    service: ServiceProcess
    http: httpx.AsyncClient
    slack: FakeSlack
    lark: FakeLark
    producer: AIOKafkaProducer

    async def set_plan(self, org: str, plan: PlanCode, version: int, tam: Tam | None = None) -> None:
        event = plan_changed(org, plan, version, tam=tam)
        await self.producer.send_and_wait(PLAN_EVENTS.name, event.to_json_bytes(), key=org.encode())

    async def bind(self, org: str, platform: str, workspace: str, channel: str) -> dict[str, Any]:
        """Bind once the plan event has reached the service (the binding needs the Enterprise plan)."""
        place = {"org_id": org, "platform": platform, "workspace": workspace, "channel": channel}

        async def bound() -> dict[str, Any] | None:
            answer = await self.http.post("/v1/im-bindings", json=place, headers=ENGINEER)
            return dict(answer.json()) if answer.status_code == 201 else None

        result: dict[str, Any] = await eventually(bound, timeout_s=30, interval_s=0.3)
        return result


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    await ensure_topics(kafka_bootstrap)
    db = await create_database(database_url, "ticket")
    async with running_slack(SLACK_SECRET, SLACK_TOKEN) as slack, running_lark(*LARK) as lark:
        prefix = f"ticket-e2e-{uuid.uuid4().hex[:8]}"
        await commit_group_at_end(kafka_bootstrap, f"{prefix}.plans")
        env = service_env("ticket_service", kafka=kafka_bootstrap, database_url=db, group_prefix=prefix)
        env |= chat_env(slack, lark) | {"PUBLIC_BASE_URL": "https://support.e2e", "BREACH_SCAN_INTERVAL_S": "1"}
        service = ServiceProcess("ticket_service", env)
        service.start(tmp_path_factory.mktemp("ticket-e2e"))
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            await service.wait_ready()
            async with httpx.AsyncClient(base_url=service.url, timeout=10) as http:
                yield Stack(service, http, slack, lark, producer)
        finally:
            await producer.stop()
            service.stop()


def mention(channel: str) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    return {"type": "app_mention", "user": "UCUSTOMER", "text": "<@UBOT> help", "ts": ts, "channel": channel}


async def test_slack_mention_button_form_opens_ticket_and_confirms_then_basic_refuses_and_suspends(
    stack: Stack, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org, channel = f"org-{unique}", f"C{unique.upper()}"
    slack, http = stack.slack, stack.http
    await stack.set_plan(org, PlanCode.ENTERPRISE, 1)
    binding = await stack.bind(org, "slack", slack.team_id, channel)
    assert binding["features"] == {"updates": True, "two_way": False}

    posts, views = len(slack.of("chat.postMessage")), len(slack.of("views.open"))
    event = mention(channel)
    assert (await slack.post_event(http, stack.service.url, event, f"Ev{unique}")).status_code == 200
    button = (await slack.wait_for("chat.postMessage", posts + 1))[-1]
    assert button.payload["thread_ts"] == event["ts"]
    assert (await slack.post_interaction(http, stack.service.url, slack.click(button, channel))).status_code == 200
    modal = (await slack.wait_for("views.open", views + 1))[-1]
    assert modal.payload["view"]["submit"]["text"] == "Create"
    submitted = await slack.post_interaction(http, stack.service.url, slack.submit(modal, FORM))
    assert submitted.status_code == 200

    [ticket] = (await http.get("/v1/tickets", headers=bearer(TEST_JWT_SECRET, org, "member"))).json()
    assert (ticket["channel"], ticket["summary"], ticket["severity"]) == ("slack", FORM["summary"], "S2")
    assert ticket["response_due_at"] is not None
    confirmation = (await slack.wait_for("chat.postMessage", posts + 2))[-1]
    assert confirmation.payload["channel"] == channel
    assert confirmation.payload["thread_ts"] == event["ts"]
    assert f"https://support.e2e/tickets/{ticket['id']}" in confirmation.payload["text"]
    [opened] = await ticket_topic.events(ticket["id"], 1)
    assert isinstance(opened, TicketOpened)
    assert opened.data.im_thread is not None
    assert (opened.data.im_thread.channel, opened.data.im_thread.thread_ts) == (channel, event["ts"])

    await stack.set_plan(org, PlanCode.BASIC, 2)

    async def suspended() -> dict[str, Any] | None:
        [row] = (await http.get("/v1/im-bindings", params={"org_id": org}, headers=ENGINEER)).json()
        return dict(row) if row["state"] == "suspended" else None

    row = await eventually(suspended, timeout_s=30, interval_s=0.3)
    assert "Enterprise plan or higher; this organisation is on Basic" in row["reason"]
    refused = await http.post(
        "/v1/tickets",
        json={"summary": "down again", "severity": "S1", "kind": "technical"},
        headers=bearer(TEST_JWT_SECRET, org, "org_owner"),
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "technical tickets need the Developer plan or higher; this organisation is on Basic"
    )
    again = slack.submit(modal, FORM | {"summary": "from the old form"})
    late = await slack.post_interaction(http, stack.service.url, again)
    assert "not active" in late.json()["errors"]["summary"]
    notice_at = len(slack.of("chat.postMessage"))
    await slack.post_event(http, stack.service.url, mention(channel), f"Ev{unique}-after")
    notice = (await slack.wait_for("chat.postMessage", notice_at + 1))[-1]
    assert "suspended" in notice.payload["text"]
    assert "blocks" not in notice.payload or not notice.payload["blocks"]
    assert len((await http.get("/v1/tickets", params={"org_id": org}, headers=ENGINEER)).json()) == 1


async def test_lark_mention_card_submit_opens_ticket_replies_in_thread_and_syncs_replies_on_premium(
    stack: Stack, ticket_topic: TicketTopicReader, unique: str
) -> None:
    org, chat = f"org-{unique}", f"oc_{unique}"
    lark, http = stack.lark, stack.http
    tam = Tam(name="Ada Lovelace", email="ada@vendor.example")
    await stack.set_plan(org, PlanCode.PREMIUM, 1, tam=tam)
    await stack.bind(org, "lark", lark.tenant_key, chat)

    cards = len([c for c in lark.calls if c.path.endswith("/ephemeral/v1/send")])
    doc, root = lark.message_event(chat, "open a ticket: PD is flapping")
    assert (await lark.post(http, f"{stack.service.url}/lark/events", doc)).status_code == 200
    card = (await lark.wait_for("/ephemeral/v1/send", cards + 1))[-1].payload["card"]
    replies = len([c for c in lark.calls if c.path.endswith("/reply")])
    answer = await lark.post(http, f"{stack.service.url}/lark/card", lark.card_submit(card, FORM | {"severity": "S1"}))
    assert answer.json()["toast"]["type"] == "success"
    reply = (await lark.wait_for("/reply", replies + 1))[-1]
    assert reply.path == f"/open-apis/im/v1/messages/{root}/reply"
    [ticket] = (await http.get("/v1/tickets", params={"org_id": org}, headers=ENGINEER)).json()
    assert reply.payload["msg_type"] == "post"
    assert ticket["link"] in lark_links(reply.payload["content"])

    thread_reply, reply_id = lark.message_event(chat, "more logs here", root_id=root, mention=False)
    for _ in range(2):
        await lark.post(http, f"{stack.service.url}/lark/events", thread_reply)
    await http.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "Restart PD-2."}, headers=ENGINEER)
    events = await ticket_topic.events(ticket["id"], 4)
    opened = events[0]
    assert isinstance(opened, TicketOpened)
    assert opened.data.tam == tam
    comments = [e for e in events if isinstance(e, TicketCommented)]
    assert [(c.data.author_kind.value, c.data.body) for c in comments] == [
        ("customer", "more logs here"),
        ("engineer", "Restart PD-2."),
    ]
    assert comments[0].data.origin is not None
    assert comments[0].data.origin.message_id == reply_id
    assert comments[1].data.im_mode is ImMode.TWO_WAY
    assert comments[1].data.im_thread is not None
    assert comments[1].data.im_thread.thread_ts == root
