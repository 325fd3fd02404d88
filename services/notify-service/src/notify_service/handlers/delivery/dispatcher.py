"""Claims due notifications and hands them to one worker per subscriber; results are recorded in batches.

One dispatcher is active per database (session advisory lock); others wait as standbys. A worker sends one
message at a time to its target, within the target's token buckets, so a slow target delays only itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from carekit.faults import Fault, Retries, is_outage
from notify_service.adapters import metrics, queue
from notify_service.adapters.channels import REGISTRY
from notify_service.adapters.channels.base import Channel, SendContext, Target
from notify_service.adapters.queue import Claimed, Result
from notify_service.adapters.repository import WAKE
from notify_service.adapters.subscribers import CHANGED
from notify_service.config import Settings
from notify_service.domain.backoff import next_delay_s, within_window
from notify_service.domain.classify import Outcome, Verdict, redact
from notify_service.handlers.delivery.targets import Targets

log = logging.getLogger(__name__)
DISPATCH_LOCK = 7_140_101
FLUSH_S = 0.02


def next_message(pending: deque[Claimed], channel: Channel) -> list[Claimed]:
    """Pop what goes into the next message: the first row's whole group for grouping channels, else one row."""
    first = pending.popleft()
    if not channel.groups:
        return [first]
    batch: list[Claimed] = [first]
    keep: list[Claimed] = []
    while pending:
        row = pending.popleft()
        (batch if row.grp == first.grp else keep).append(row)
    pending.extend(keep)
    return batch


def decide(rows: Sequence[Claimed], outcome: Outcome, latency_ms: float, settings: Settings) -> Result:
    """Turn an answer into delivered, retry (with delay) or dead, by the backoff and the retry window."""
    if outcome.verdict is Verdict.OK:
        return Result(rows, "delivered", outcome.status, outcome.reason, latency_ms)
    if outcome.verdict is Verdict.PERMANENT:
        return Result(rows, "dead", outcome.status, f"permanent: {outcome.reason}", latency_ms)
    attempt = max(r.attempts for r in rows) + 1
    delay = next_delay_s(
        attempt, base_s=settings.retry_base_s, max_s=settings.retry_max_s, retry_after_s=outcome.retry_after_s
    )
    elapsed = (datetime.now(UTC) - min(r.window_from for r in rows)).total_seconds()
    if not within_window(elapsed, delay, settings.retry_window_s):
        reason = f"retry window of {settings.retry_window_s:g}s exhausted after {attempt} attempts: {outcome.reason}"
        return Result(rows, "dead", outcome.status, reason, latency_ms)
    return Result(rows, "retry", outcome.status, outcome.reason, latency_ms, retry_in_s=delay)


class Dispatcher:
    def __init__(self, pool: asyncpg.Pool, targets: Targets, ctx: SendContext, settings: Settings) -> None:
        self._pool, self._targets, self._ctx, self._settings = pool, targets, ctx, settings
        self._queues: dict[str, deque[Claimed]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._results: asyncio.Queue[Result] = asyncio.Queue()
        self._slots = asyncio.Semaphore(settings.delivery_concurrency)
        # targets whose last attempt timed out or could not connect send through a smaller pool of their own,
        # so that many hanging endpoints cannot hold every slot while healthy targets wait
        self._suspect_slots = asyncio.Semaphore(max(1, settings.delivery_concurrency // 4))
        self._suspects: set[str] = set()
        self._caps: dict[str, int] = {}  # subscriber -> most alerts per message, after a 413
        self._wake = asyncio.Event()
        self._recording: list[Result] = []
        self._recorder = Retries("delivery-recorder")
        self.in_memory = 0

    async def run(self) -> None:
        """Wait to become the active dispatcher, then claim and deliver forever (results are written by
        `record_forever`, a loop of its own). After a crash the supervisor calls this again: what the last run
        held in memory is forgotten, its rows still `sending` are released when the lock is taken again."""
        for task in self._workers.values():
            task.cancel()
        self._workers.clear()
        self._queues.clear()
        self.in_memory = 0
        conn: asyncpg.Connection = await self._pool.acquire()
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", DISPATCH_LOCK):  # noqa: ASYNC110
                await asyncio.sleep(2.0)  # a standby polls for the lock
            released = await queue.release_in_flight(self._pool)
            if released:
                log.warning("%d notifications were in flight when the last dispatcher stopped; sending again", released)
            await conn.add_listener(WAKE, lambda *_: self._wake.set())
            await conn.add_listener(CHANGED, lambda _c, _p, _ch, subscriber_id: self._targets.forget(subscriber_id))
            await self._claim_forever()
        finally:
            for task in self._workers.values():
                task.cancel()
            with contextlib.suppress(Exception):
                await conn.execute("SELECT pg_advisory_unlock_all()")
            await self._pool.release(conn)

    async def _claim_forever(self) -> None:
        ceiling = self._settings.delivery_claim_batch * 10
        backlog = self._settings.delivery_target_backlog
        while True:
            claimed: list[Claimed] = []
            if self.in_memory < ceiling:
                try:
                    full = [s for s, rows in self._queues.items() if len(rows) >= backlog]
                    claimed = await queue.claim(self._pool, self._settings.delivery_claim_batch, full)
                except Exception as exc:
                    if not is_outage(exc):
                        raise  # a bug: the supervisor restarts the dispatcher (unreadable rows are isolated in claim)
                    log.warning("claiming notifications failed, will retry: %s", exc)
                    await asyncio.sleep(1.0)
            for row in claimed:
                self._queues.setdefault(row.subscriber_id, deque()).append(row)
                if row.subscriber_id not in self._workers:
                    self._workers[row.subscriber_id] = asyncio.create_task(self._work(row.subscriber_id))
            self.in_memory += len(claimed)
            if len(claimed) >= self._settings.delivery_claim_batch and self.in_memory < ceiling:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.delivery_poll_interval_s)
            self._wake.clear()

    async def _work(self, subscriber_id: str) -> None:
        pending = self._queues[subscriber_id]
        try:
            while pending:
                target = await self._targets.get(subscriber_id)
                if target is None:
                    rows = list(pending)
                    pending.clear()
                    await self._emit(Result(rows, "cancelled", None, "subscriber deleted or suspended", 0.0))
                    break
                await self._send_next(target, pending)
        except Exception:
            log.exception("delivery worker for %s failed; its notifications return to the queue", subscriber_id)
            rows = list(pending)
            pending.clear()
            if rows:
                outcome = Outcome(Verdict.RETRY, "internal error while sending")
                await self._emit(decide(rows, outcome, 0.0, self._settings))
        finally:
            self._workers.pop(subscriber_id, None)
            if not pending:
                self._queues.pop(subscriber_id, None)

    async def _send_next(self, target: Target, pending: deque[Claimed]) -> None:
        channel = REGISTRY[target.channel]
        limits = self._targets.limits(target)
        wait = limits.wait_s()
        if wait > 0:
            await asyncio.sleep(wait)
            return
        batch = next_message(pending, channel)
        cap = self._caps.get(target.subscriber_id)
        if cap is not None and len(batch) > cap:
            pending.extendleft(reversed(batch[cap:]))
            batch = batch[:cap]
        sent, seconds = batch, 0.0
        try:
            rendered = channel.render([r.alert for r in batch], target, self._settings, False)
            sent = batch[: max(1, rendered.covered)]
            pending.extendleft(reversed(batch[len(sent) :]))
            limits.take()
            slots = self._suspect_slots if target.subscriber_id in self._suspects else self._slots
            async with slots:
                started = time.perf_counter()
                outcome = await channel.send(self._ctx, target, rendered)
                seconds = time.perf_counter() - started
        except Exception as exc:  # a bug must not strand the rows in 'sending': retry them, then dead-letter
            said = redact(f"{type(exc).__name__}: {exc}", target.secrets)[:200]
            log.error("internal error sending to subscriber %s: %s", target.subscriber_id, said)
            outcome = Outcome(Verdict.RETRY, f"internal error: {said}")
        metrics.SEND_SECONDS.labels(target.channel.value).observe(seconds)
        if outcome.verdict is Verdict.RETRY and outcome.status is None:  # timeout, network or internal error
            self._suspects.add(target.subscriber_id)
        else:
            self._suspects.discard(target.subscriber_id)
        if outcome.verdict is Verdict.RETRY and outcome.retry_after_s:
            limits.pause(outcome.retry_after_s)
        if outcome.status == 413 and len(sent) > 1:
            # too large for this endpoint after all: send the same alerts again in messages half the size
            self._caps[target.subscriber_id] = len(sent) // 2
            pending.extendleft(reversed(sent))
            detail = f"{outcome.reason}; re-sending in messages of at most {len(sent) // 2} alerts"
            await self._results.put(Result(sent, "resplit", 413, detail, seconds * 1000))
            return
        result = decide(sent, outcome, seconds * 1000, self._settings)
        self._count(target, result, outcome)
        await self._emit(result)

    def _count(self, target: Target, result: Result, outcome: Outcome) -> None:
        ch = target.channel.value
        metrics.MESSAGES.labels(ch, result.outcome).inc()
        n = len(result.rows)
        if result.outcome == "delivered":
            metrics.DELIVERED.labels(ch).inc(n)
            now = datetime.now(UTC)
            for r in result.rows:
                metrics.LATENCY.labels(ch).observe(max(0.0, (now - r.window_from).total_seconds()))
        elif result.outcome == "retry":
            metrics.RETRIED.labels(ch, metrics.reason_label(outcome.reason)).inc(n)
        elif result.outcome == "dead":
            metrics.DEAD.labels(ch, metrics.reason_label(outcome.reason)).inc(n)
            log.warning(
                "dead-lettered %d notification(s) for subscriber %s: %s", n, target.subscriber_id, result.detail
            )

    async def _emit(self, result: Result) -> None:
        self.in_memory -= len(result.rows)
        await self._results.put(result)

    async def record_forever(self) -> None:
        """Write results in batches, forever. An outage is waited out; a result that cannot be written is isolated
        (the batch is split until it is alone) so that every other result is written. A batch being written when
        the loop crashed is written first when its supervisor restarts it."""
        while True:
            if not self._recording:
                batch = [await self._results.get()]
                await asyncio.sleep(FLUSH_S)
                while not self._results.empty() and len(batch) < 1000:
                    batch.append(self._results.get_nowait())
                self._recording = batch
            try:
                await self.record(self._recording)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                log.warning("recording %d results failed, will retry: %s", len(self._recording), exc)
                await self._recorder.pause()
                continue
            self._recorder.succeeded()
            self._recording = []

    async def record(self, batch: Sequence[Result]) -> None:
        """Write results; one that cannot be written is isolated (split until alone) and written as a dead letter."""
        try:
            await queue.record(self._pool, batch)
            return
        except Exception as exc:
            if is_outage(exc):
                raise
            if len(batch) > 1:
                middle = len(batch) // 2
                await self.record(batch[:middle])
                await self.record(batch[middle:])
                return
            failure: BaseException = exc
        result = batch[0]
        key = result.rows[0].id if result.rows else 0
        while not (decision := self._recorder.decide(key, failure)).isolate:
            if decision.fault is Fault.OUTAGE:
                raise failure
            await self._recorder.pause()
            try:
                await queue.record(self._pool, [result])
                return
            except Exception as exc:
                failure = exc
        # the answer itself cannot be written: the notifications become dead letters saying so (re-drivable)
        self._recorder.isolated(key, decision.reason)
        dead = Result(
            result.rows,
            "dead",
            None,
            f"the delivery result could not be recorded: {decision.reason}",
            0.0,
        )
        try:
            await queue.record(self._pool, [dead])
        except Exception as exc:
            if is_outage(exc):
                raise
            ids = [r.id for r in result.rows]
            log.error("notifications %s stay in 'sending' until the next dispatcher start: %s", ids, exc)
