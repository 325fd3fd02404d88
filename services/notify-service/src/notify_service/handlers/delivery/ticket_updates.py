"""Sends queued ticket updates (Slack / Lark) and TAM emails, with the same retry rules as alerts.

An update that fails for good is kept (`state = dead`) and parked with its reason under the loop name
`ticket-updates` (GET /v1/ops/parked); re-driving it (POST /v1/ops/parked/{id}/redrive) queues it again with a
fresh retry window. An error inside notify-service while sending counts as a retry, and as permanent once the same
message has failed that way POISON_ATTEMPTS times.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

import asyncpg

from carekit.db import by_key_connection
from carekit.faults import Retries, is_outage, reason
from carekit.parking import REDRIVEN, park
from carekit.polling import poll_forever, woken_by
from notify_service.adapters import im_queue, metrics
from notify_service.adapters.channels.answers import post_answer
from notify_service.adapters.channels.base import SendContext
from notify_service.adapters.channels.email import send_mail
from notify_service.adapters.channels.im import ChatBots
from notify_service.adapters.im_queue import ImMessage
from notify_service.domain.backoff import next_delay_s, within_window
from notify_service.domain.chat_answers import ANSWER_KINDS
from notify_service.domain.classify import Outcome, Verdict

log = logging.getLogger(__name__)
LOOP = "ticket-updates"
ANSWERS_LOOP = "chat-answers"  # the assistant's answers, by a loop of their own
Sender = Callable[[ImMessage], Awaitable[Outcome]]
# (conn, message, org, state after the attempt, outcome, latency ms): e.g. the delivery log line of a notice
AttemptLog = Callable[[asyncpg.Connection, ImMessage, str, str, Outcome, float], Awaitable[None]]


UPDATE_KINDS = ("slack_update", "lark_update", "tam_email")


class TicketUpdates:
    """The loop that sends queued messages in `im_messages`: ticket updates, TAM e-mails and, through `senders`
    (kind -> send), other kinds such as notices, whose attempts `log_attempt` records (loop `ticket-updates`); or, as
    a second instance of its own, the assistant's answers (loop `chat-answers`, kinds `*_answer`), so that a slow
    mail server or a backlog of updates never holds an answer back."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        ctx: SendContext,
        bots: ChatBots,
        *,
        senders: Mapping[str, Sender] | None = None,
        log_attempt: AttemptLog | None = None,
        loop: str = LOOP,
        kinds: tuple[str, ...] | None = None,
    ) -> None:
        self._pool, self._ctx, self._bots = pool, ctx, bots
        self._senders = dict(senders or {})
        self._log_attempt = log_attempt
        self._latency: dict[int, float] = {}
        self._loop = loop
        self._kinds = kinds if kinds is not None else UPDATE_KINDS + tuple(sorted(self._senders))
        self._retries = Retries(loop)

    async def send(self, message: ImMessage) -> Outcome:
        if (sender := self._senders.get(message.kind)) is not None:
            return await sender(message)
        if message.kind in ANSWER_KINDS:
            return await post_answer(self._bots, message.kind, message.target, message.body)
        if message.kind in ("slack_update", "lark_update"):
            return await self._bots.post(message.kind, message.target, message.body)
        return await send_mail(
            self._ctx.settings, message.target["address"], message.body["subject"], message.body["text"]
        )

    async def _attempt(self, message: ImMessage) -> Outcome:
        started = time.perf_counter()
        try:
            outcome = await self.send(message)
            self._latency[message.id] = (time.perf_counter() - started) * 1000
        except Exception as exc:  # one bad message must neither stop the loop nor re-send the batch
            decision = self._retries.decide(message.id, exc)
            log.error(
                "%s: message %s (%s) failed inside notify-service: %s",
                self._loop,
                message.id,
                message.kind,
                decision.reason,
            )
            verdict = Verdict.PERMANENT if decision.isolate else Verdict.RETRY
            return Outcome(verdict, f"internal error: {type(exc).__name__}")
        self._retries.succeeded(message.id)
        return outcome

    async def drain_once(self) -> int:
        settings = self._ctx.settings
        # by key whatever the statistics (test_notify_scale.py)
        async with by_key_connection(self._pool) as conn, conn.transaction():
            await im_queue.revive_redriven(conn, self._loop)
            batch = await im_queue.due(conn, kinds=self._kinds)
            # one target's messages in order, different targets side by side: a slow one delays only itself
            by_target: dict[str, list[ImMessage]] = {}
            for message in batch:
                by_target.setdefault(json.dumps([message.kind, message.target], sort_keys=True), []).append(message)
            outcomes: dict[int, Outcome] = {}

            async def one_target(messages: list[ImMessage]) -> None:
                for message in messages:
                    outcomes[message.id] = await self._attempt(message)

            await asyncio.gather(*(one_target(messages) for messages in by_target.values()))
            for message in batch:
                outcome = outcomes[message.id]
                state, delay = "delivered", 0.0
                if outcome.verdict is Verdict.PERMANENT:
                    state = "dead"
                elif outcome.verdict is Verdict.RETRY:
                    delay = next_delay_s(
                        message.attempts + 1,
                        base_s=settings.retry_base_s,
                        max_s=settings.retry_max_s,
                        retry_after_s=outcome.retry_after_s,
                    )
                    elapsed = (datetime.now(UTC) - message.created_at).total_seconds()
                    state = "pending" if within_window(elapsed, delay, settings.retry_window_s) else "dead"
                metrics.IM_SENT.labels(message.kind, state).inc()
                if self._log_attempt is not None and message.kind in self._senders:
                    latency = self._latency.pop(message.id, 0.0)
                    await self._log_attempt(conn, message, message.org_id, state, outcome, latency)
                await self._settle(conn, message, state, None if outcome.ok else outcome.reason, delay)
            return len(batch)

    async def _settle(
        self, conn: asyncpg.Connection, message: ImMessage, state: str, error: str | None, delay: float
    ) -> None:
        """Record the outcome in a savepoint; one that cannot be recorded makes that message dead, saying why."""
        try:
            async with conn.transaction():
                await im_queue.settle(conn, message.id, state, error, delay)
                if state == "dead":
                    why = error or "failed"
                    log.warning("%s: message %s (%s) failed for good: %s", self._loop, message.id, message.kind, why)
                    await park(conn, self._loop, str(message.id), f"{message.kind}: {why}")
                    self._retries.isolated(message.id, why)
        except Exception as exc:
            if is_outage(exc):
                raise
            why = f"the outcome could not be recorded: {reason(exc)}"
            async with conn.transaction():
                await im_queue.settle(conn, message.id, "dead", why, 0.0)
                await park(conn, self._loop, str(message.id), f"{message.kind}: {why}")

    async def run(self) -> None:
        async with woken_by(self._pool, "im_messages", REDRIVEN) as wake:
            every_s = self._ctx.settings.delivery_poll_interval_s * 5
            await poll_forever(self.drain_once, every_s=every_s, what=self._loop, log=log, wake=wake)
