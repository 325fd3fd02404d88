"""Ticket updates on real Postgres: one message that fails inside notify-service neither stops the others nor
gets the batch sent twice."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from notify_helpers import queue_tam_emails, sending_fails_for, settings

from notify_service.adapters.channels.base import SendContext
from notify_service.adapters.channels.im import ChatBots
from notify_service.adapters.im_queue import ImMessage
from notify_service.domain.classify import Outcome, Verdict
from notify_service.handlers.delivery.ticket_updates import TicketUpdates

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_a_message_that_raises_is_retried_and_the_others_are_sent_once(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await queue_tam_emails(pool, "org-t", ["ev-1", "ev-2", "ev-3"])
    sent = sending_fails_for(monkeypatch, "tam2@example.com", ValueError("unexpected"))
    updates = TicketUpdates(pool, SendContext(None, settings()), ChatBots(settings()))  # type: ignore[arg-type]
    await updates.drain_once()
    await updates.drain_once()  # the failed one waits for its backoff; the others are not sent again

    assert sent == ["tam1@example.com", "tam3@example.com"]
    rows: list[Any] = await pool.fetch("SELECT event_id, state, last_error FROM im_messages ORDER BY event_id")
    assert [(r["event_id"], r["state"]) for r in rows] == [
        ("ev-1", "delivered"),
        ("ev-2", "pending"),
        ("ev-3", "delivered"),
    ]
    assert rows[1]["last_error"] == "internal error: ValueError"


async def test_a_slow_chat_target_does_not_hold_up_another_targets_ticket_updates(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await pool.execute("DELETE FROM im_messages")
    for n, channel in ((1, "C-SLOW"), (2, "C-SLOW"), (3, "C-FAST")):
        await pool.execute(
            "INSERT INTO im_messages (event_id, kind, org_id, target, body)"
            " VALUES ($1, 'slack_update', 'org-t', $2, $3)",
            f"slow-{n}",
            {"channel": channel, "thread_ts": "1.1"},
            {"text": f"comment {n}"},
        )
    started: dict[str, float] = {}
    order: list[str] = []
    loop = asyncio.get_running_loop()

    async def send(self: TicketUpdates, message: ImMessage) -> Outcome:
        started[message.body["text"]] = loop.time()
        if message.target["channel"] == "C-SLOW":
            await asyncio.sleep(0.6)
        order.append(message.body["text"])
        return Outcome(Verdict.OK, "HTTP 200", 200)

    monkeypatch.setattr(TicketUpdates, "send", send)
    updates = TicketUpdates(pool, SendContext(None, settings()), ChatBots(settings()))  # type: ignore[arg-type]
    assert await updates.drain_once() == 3

    assert order.index("comment 3") < order.index("comment 1"), "the fast target must not wait for the slow one"
    assert order.index("comment 1") < order.index("comment 2"), "one target's updates stay in order"
    assert started["comment 2"] - started["comment 1"] >= 0.6
