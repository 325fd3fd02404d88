"""The assistant's answers on real Postgres against local Slack and Lark: queued once per event, posted into the
thread in each platform's format by their own loop, a rate limit retried after Retry-After, never lost."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
import pytest_asyncio
from notify_helpers import settings

from care_schemas.events.chat import ChatAnswered, ChatAnsweredData, ChatOutcome, ChatSource, ChatThread
from care_schemas.events.ticket import ImPlatform
from notify_service.adapters.channels.base import SendContext
from notify_service.adapters.channels.im import ChatBots
from notify_service.domain.chat_answers import ANSWER_KINDS
from notify_service.handlers import take_in_chat_event
from notify_service.handlers.delivery.ticket_updates import TicketUpdates
from tests.fakes.lark_server import FakeLark, running_lark
from tests.fakes.slack_server import FakeSlack, running_slack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
LARK = ("cli_answers", "lark-app-secret-answers", "lark-verification-answers")


@pytest_asyncio.fixture(loop_scope="session")
async def platforms() -> AsyncIterator[tuple[FakeSlack, FakeLark]]:
    async with running_slack("unused-signing-secret", "xoxb-answers") as slack, running_lark(*LARK) as lark:
        yield slack, lark


@pytest_asyncio.fixture(loop_scope="session")
async def bots(platforms: tuple[FakeSlack, FakeLark]) -> AsyncIterator[ChatBots]:
    slack, lark = platforms
    made = ChatBots(
        settings(
            slack_bot_token="xoxb-answers",
            slack_api_url=slack.api_url,
            lark_app_id=LARK[0],
            lark_app_secret=LARK[1],
            lark_api_url=lark.api_url,
        )
    )
    yield made
    await made.close()


def loop_for(pool: asyncpg.Pool, bots: ChatBots) -> TicketUpdates:
    config = settings(retry_base_s=0.01)
    return TicketUpdates(pool, SendContext(None, config), bots, loop="chat-answers", kinds=ANSWER_KINDS)  # type: ignore[arg-type]


def answered(platform: ImPlatform, thread_ts: str) -> ChatAnswered:
    thread = ChatThread(platform=platform, workspace="T1", channel="C-ANSWERS", thread_ts=thread_ts)
    return ChatAnswered.build(
        source="/assistant-service",
        subject=thread.conversation_id,
        data=ChatAnsweredData(
            answer_id=f"a-{thread_ts}",
            question_id=f"q-{thread_ts}",
            conversation_id=thread.conversation_id,
            org_id="org-1",
            thread=thread,
            question="How do I scale out?",
            text="Add nodes from the console.",
            sources=[ChatSource(title="Scaling", url="https://docs.test/docs/support/ops-scaling", quote="q")],
            confidence=0.5,
            could_help=True,
            outcome=ChatOutcome.ANSWERED,
            language="en",
            answered_at=datetime.now(UTC),
        ),
    )


async def test_an_answer_is_posted_once_into_its_slack_thread_and_its_lark_thread(
    pool: asyncpg.Pool, platforms: tuple[FakeSlack, FakeLark], bots: ChatBots
) -> None:
    slack, lark = platforms
    in_slack, in_lark = answered(ImPlatform.SLACK, "1700000000.000100"), answered(ImPlatform.LARK, "om_root1")
    for event in (in_slack, in_slack, in_lark):  # a redelivered event queues nothing more
        await take_in_chat_event(pool, event)
    sender = loop_for(pool, bots)
    assert await sender.drain_once() == 2
    [post] = slack.of("chat.postMessage")
    assert (post.payload["channel"], post.payload["thread_ts"]) == ("C-ANSWERS", "1700000000.000100")
    blocks = post.payload["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert "<https://docs.test/docs/support/ops-scaling|Scaling>" in json.dumps(blocks)
    [reply] = [c for c in lark.calls if c.path.endswith("/reply")]
    assert reply.path == "/open-apis/im/v1/messages/om_root1/reply"
    assert (reply.payload["msg_type"], reply.payload["reply_in_thread"]) == ("interactive", True)
    card = json.loads(reply.payload["content"])
    assert [e["text"]["content"] for e in card["body"]["elements"] if e["tag"] == "button"] == [
        "Helpful",
        "Not helpful",
        "Raise request",
    ]
    assert await sender.drain_once() == 0
    states = await pool.fetch("SELECT state FROM im_messages WHERE kind = ANY($1::text[])", list(ANSWER_KINDS))
    assert [r["state"] for r in states] == ["delivered", "delivered"]


async def test_a_rate_limited_answer_is_retried_after_retry_after_and_posted(
    pool: asyncpg.Pool, platforms: tuple[FakeSlack, FakeLark], bots: ChatBots
) -> None:
    slack, _ = platforms
    slack.answers.append((429, {"Retry-After": "1"}))
    await take_in_chat_event(pool, answered(ImPlatform.SLACK, "1700000000.000200"))
    sender = loop_for(pool, bots)
    await sender.drain_once()
    row = await pool.fetchrow("SELECT state, attempts, last_error, next_attempt_at - now() AS wait FROM im_messages")
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert "ratelimited" in row["last_error"]
    assert row["wait"].total_seconds() >= 0.5
    await pool.execute("UPDATE im_messages SET next_attempt_at = now()")
    await sender.drain_once()
    assert [c.payload["thread_ts"] for c in slack.of("chat.postMessage")] == ["1700000000.000200"]
    assert await pool.fetchval("SELECT state FROM im_messages") == "delivered"
