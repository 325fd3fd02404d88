"""Claims due notifications of this instance's partitions and hands them to each subscriber's senders; results are
written by a recorder that commits whatever has come in while it wrote the last batch (group commit).

Every instance takes a fair share of the 64 delivery partitions (`lease_forever`, adapters/leases.py); a target
belongs to one partition, so its rate limits, Retry-After pause and messages in flight live in one instance. A
subscriber has at most DELIVERY_TARGET_INFLIGHT senders, each with one message in flight, and a sender takes its
next message only once the previous answer is durable: a crash re-sends at most the messages that were in flight
(sent, answer not yet written), never a backlog of answers waiting to be written.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

from care_schemas.catalogue import ChannelType
from carekit.faults import Fault, Retries, is_outage
from carekit.foreground import Foreground
from carekit.polling import one_pass, sleep_until_woken
from notify_service.adapters import leases, metrics, queue, subscribers
from notify_service.adapters.channels import REGISTRY
from notify_service.adapters.channels.base import Rendered, SendContext, Target
from notify_service.adapters.queue import WAKE, Claimed, Result
from notify_service.adapters.secrets import SecretBox
from notify_service.adapters.subscribers import CHANGED
from notify_service.config import Settings
from notify_service.domain.backoff import next_delay_s, within_window
from notify_service.domain.classify import Outcome, Verdict, redact
from notify_service.handlers.delivery.backlog import Backlog
from notify_service.handlers.delivery.targets import Targets

log = logging.getLogger(__name__)
RECORD_BATCH = 2000
RECORD_YIELD_S = 0.01  # at most this long a batch nobody waits for lets the requests under way store first


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


class Hands(Protocol):
    """What the intake hands its rows to: this process's `Dispatcher`, one in another process of this machine
    (adapters/handoff.py), or both (handlers/delivery/beside.py). `handing` says what each may take now (none: the
    intake queues every row for claims); the rows handed carry the name of the one they were inserted for
    (`Claimed.by`)."""

    def handing(self) -> list[queue.Handing]: ...
    def hand(self, rows: Sequence[Claimed]) -> list[Claimed]: ...
    async def release(self, rows: Sequence[Claimed]) -> None: ...


async def hand_over(hands: Hands, rows: Sequence[Claimed]) -> None:
    """Notifications the intake inserted as being sent by `hands`' dispatchers (committed): to their senders
    (`hand`); those a dispatcher will not send (a partition it no longer holds, or all when it stopped claiming
    meanwhile) are queued again (`release`)."""
    left = hands.hand(rows)
    if left:
        await hands.release(left)


@dataclasses.dataclass
class Local:
    """The dispatcher the intake hands its rows to, once started (None: none does), and the HTTP intake's requests
    under way, which this process's recorder lets store first (`Dispatcher.record_forever`)."""

    dispatcher: Hands | None = None
    foreground: Foreground = dataclasses.field(default_factory=Foreground)


def instance_name() -> str:
    """This process among the dispatchers: host, PID and a random part (a restarted process is a new instance)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        targets: Targets,
        ctx: SendContext,
        settings: Settings,
        *,
        box: SecretBox | None = None,
        me: str | None = None,
        foreground: Foreground | None = None,
    ) -> None:
        self._pool, self._targets, self._ctx, self._settings, self._box = pool, targets, ctx, settings, box
        # this process's HTTP intake requests under way, which the recorder lets store first
        self._foreground = foreground if foreground is not None else Foreground()
        self.me = me or instance_name()
        self.owned: set[int] = set()
        self._queues: dict[str, Backlog] = {}
        self._lanes: dict[str, set[asyncio.Task[None]]] = {}  # subscriber -> its senders (one message each)
        self._context = contextvars.copy_context()  # the senders' own, taken at start-up (see `_open_lanes`)
        self._results: asyncio.Queue[Result] = asyncio.Queue()
        self._durable: dict[int, asyncio.Future[None]] = {}  # id(result) -> done once it is written
        self._flying: Counter[int] = Counter()  # partition -> messages sent whose answer is not yet written
        self._slots = asyncio.Semaphore(settings.delivery_concurrency)
        # targets whose last attempt timed out or could not connect send through a smaller pool of their own,
        # so that many hanging endpoints cannot hold every slot while healthy targets wait
        self._suspect_slots = asyncio.Semaphore(max(1, settings.delivery_concurrency // 4))
        self._suspects: set[str] = set()
        self._caps: dict[str, int] = {}  # subscriber -> most alerts per message, after a 413
        self._wake = asyncio.Event()
        # Rows this dispatcher left in Postgres wake its claims themselves: those left for lack of room as soon as
        # there is room again, those of targets whose backlog was full when one of its senders finishes. Anything
        # else new for the claims comes with a NOTIFY.
        self._no_room = False
        self._shut_out = False
        self._recording: list[Result] = []
        self._recorder = Retries("delivery-recorder")
        self._writer: asyncpg.Connection | None = None  # the recorder's own connection (no pool hand-over a batch)
        self.in_memory = 0
        self._running = False  # claiming (after `run` released what an earlier run held)

    # --- partitions --------------------------------------------------------------------------------------------

    async def lease_forever(self) -> None:
        """Keep a fair share of the partitions, forever: renew, take what is free when short, hand back what is over
        (after its messages in flight are recorded). On a clean stop every lease is handed back at once."""
        try:
            while True:
                await one_pass(self.lease_once, what="renewing delivery leases", log=log)
                await asyncio.sleep(self._settings.delivery_lease_renew_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(leases.leave(self._pool, self.me))

    async def lease_once(self) -> None:
        if self._box is not None:  # subscribers saved without a partition (before it existed, or by hand): every pass
            filled = await subscribers.backfill_targets(self._pool, self._box)
            if filled:
                log.info("gave a delivery partition to %d subscribers or queued notifications without one", filled)
        ttl = self._settings.delivery_lease_ttl_s
        fair = await leases.heartbeat(self._pool, self.me, ttl, self._settings.delivery_share_of_partitions)
        held = await leases.renew(self._pool, self.me, ttl)
        lost = self.owned - held
        if lost:
            log.warning("lost the leases of partitions %s (not renewed in time)", sorted(lost))
            await self._let_go(lost, hand_back=False)
        if len(held) > fair:
            await self._let_go(set(sorted(held)[fair:]), hand_back=True)
        elif len(held) < fair:
            got = await leases.acquire(self._pool, self.me, ttl, fair - len(held))
            if got:
                resent = await queue.reset_partitions(self._pool, sorted(got))
                if resent:
                    log.warning("%d notifications were in flight when their last owner stopped; sending again", resent)
                self.owned |= got
                self._wake.set()

    async def _let_go(self, parts: set[int], *, hand_back: bool) -> None:
        """Stop delivering these partitions: their unsent rows are due again at once; when handing back, wait (a
        little) for their messages in flight to be recorded, then release the leases."""
        self.owned -= parts
        dropped = [r.id for rows in self._queues.values() for r in rows.drop(parts)]
        self.in_memory -= len(dropped)
        if dropped:
            await queue.release(self._pool, dropped, self.me)
        if hand_back:
            deadline = time.monotonic() + self._settings.delivery_timeout_s + 5
            while any(self._flying[p] for p in parts) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await leases.release(self._pool, self.me, sorted(parts))

    # --- claims ------------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Claim due notifications of the partitions this instance holds and deliver them, forever (results are
        written by `record_forever`, leases kept by `lease_forever`). After a crash the supervisor calls this again:
        what the last run held in memory is forgotten and its claimed rows are due again."""
        self._running = False
        self._stop_lanes()
        self._queues.clear()
        self.in_memory = 0
        await queue.release_mine(self._pool, self.me)
        conn: asyncpg.Connection = await self._pool.acquire()
        self._running = True

        def wake(*_: object) -> None:
            self._wake.set()

        def changed(_c: object, _p: object, _ch: object, subscriber_id: str) -> None:
            self._targets.forget(subscriber_id)

        try:
            await conn.add_listener(WAKE, wake)
            await conn.add_listener(CHANGED, changed)
            await self._claim_forever()
        finally:
            self._running = False
            self._stop_lanes()
            with contextlib.suppress(Exception):
                await conn.remove_listener(WAKE, wake)
                await conn.remove_listener(CHANGED, changed)
            await self._pool.release(conn)

    def _room(self) -> bool:
        """Whether more rows may be taken into memory (claimed, or handed by the intake)."""
        return self.in_memory < self._settings.delivery_held_rows

    def _full(self) -> list[str]:
        """Subscribers whose senders hold a full backlog: claims and the intake leave their rows queued."""
        backlog = self._settings.delivery_target_backlog
        return [s for s, rows in self._queues.items() if len(rows) >= backlog]

    async def _claim_forever(self) -> None:
        batch = self._settings.delivery_claim_batch
        poll = self._settings.delivery_poll_interval_s
        while True:
            claimed = queue.Claims()
            wait = poll
            if self.owned and not self._room():
                self._no_room = True
            elif self.owned:
                # a bug goes to the supervisor, which restarts the dispatcher (unreadable rows are isolated in claim)
                got = await one_pass(lambda: self._claim_once(batch, poll), what="claiming notifications", log=log)
                if got is None:  # an outage
                    await asyncio.sleep(1.0)
                else:
                    claimed, wait = got
            self._hand_out(claimed)
            if claimed.more and self._room():  # more is due: claim again at once
                continue
            if claimed.more:  # more is due, and no room for it until rows are sent
                self._no_room = True
            if claimed:
                wait = 0.0 if self._wake.is_set() else poll
            await sleep_until_woken(self._wake, wait)

    async def _claim_once(self, batch: int, poll: float) -> tuple[queue.Claims, float]:
        """Claim due rows of the partitions held (not for targets whose backlog is full); with none, how long to
        wait before the next claim (until the next row is due, at most `poll`)."""
        full = self._full()
        self._no_room, self._shut_out = False, bool(full)
        claimed = await queue.claim(self._pool, batch, full, parts=sorted(self.owned), me=self.me)
        wait = poll
        if not claimed:
            due = await queue.next_due(self._pool, sorted(self.owned))
            if due is not None:
                wait = min(poll, max(poll / 4, (due - datetime.now(UTC)).total_seconds()))
        return claimed, wait

    # --- straight from the intake ------------------------------------------------------------------------------

    def handing(self) -> list[queue.Handing]:
        state = self.state()
        return [state] if state is not None else []

    def state(self) -> queue.Handing | None:
        """What an intake needs to insert notifications as being sent by this dispatcher (the partitions it holds,
        the targets whose backlog is full); None while it is not claiming or holds as many rows as a claim would
        let it."""
        if not self._running or not self.owned:
            return None
        if not self._room():
            self._no_room = True
            return None
        full = self._full()
        if full:
            self._shut_out = True
        return queue.Handing(self.me, sorted(self.owned), full)

    def hand(self, rows: Sequence[Claimed]) -> list[Claimed]:
        """`hand_over`'s first half, at once: the rows it may send go to their senders; returns the others, to
        `release`."""
        if not self._running:
            return list(rows)
        self._hand_out([r for r in rows if r.part in self.owned])
        return [r for r in rows if r.part not in self.owned]

    async def release(self, rows: Sequence[Claimed]) -> None:
        """Queue again rows inserted as being sent by this dispatcher that it will not send."""
        await queue.release(self._pool, [r.id for r in rows], self.me)

    def _hand_out(self, claimed: Iterable[Claimed]) -> None:
        touched: set[str] = set()
        for row in claimed:
            self.in_memory += 1
            pending = self._queues.get(row.subscriber_id)
            if pending is None:
                pending = self._queues[row.subscriber_id] = Backlog(REGISTRY[ChannelType(row.channel)].groups)
            pending.append(row)
            touched.add(row.subscriber_id)
        for subscriber_id in touched:
            self._open_lanes(subscriber_id)

    def _open_lanes(self, subscriber_id: str) -> None:
        """Up to DELIVERY_TARGET_INFLIGHT senders for this subscriber, no more than it has rows waiting.

        A sender runs in a copy of the dispatcher's own context, not of its caller's, which may hold what the caller
        was handling (FastStream's context holds a whole poll: thousands of records) for as long as the sender has
        work. The intake hands rows over (`take`) from its own tasks, which carekit already keeps out of
        FastStream's context; this keeps any other caller's out too."""
        pending = self._queues[subscriber_id]
        lanes = self._lanes.setdefault(subscriber_id, set())
        want = min(self._settings.delivery_target_inflight, len(pending))
        while len(lanes) < want:
            lanes.add(asyncio.create_task(self._lane(subscriber_id, pending), context=self._context.copy()))

    def _stop_lanes(self) -> None:
        for lanes in self._lanes.values():
            for task in lanes:
                task.cancel()
        self._lanes.clear()

    # --- senders -----------------------------------------------------------------------------------------------

    async def _lane(self, subscriber_id: str, pending: Backlog) -> None:
        """One of a subscriber's senders: its next message, then wait until the answer is written, until none is
        left. A sender reuses its slot only once the answer in it is durable, so a crash re-sends at most the
        messages in flight. (Senders that live as long as there is work, rather than a task per message: about
        6 % of a dispatcher's CPU went into creating and waiting for those tasks.)"""
        load = functools.partial(self._load, subscriber_id)
        try:
            while pending:
                loaded = self._targets.fresh(subscriber_id)
                if loaded is None:
                    loaded = await one_pass(load, what=f"loading subscriber {subscriber_id}", log=log)
                if loaded is None:  # an outage: the rows wait here, unsent and not counted as an attempt
                    await asyncio.sleep(1.0)
                    continue
                target = loaded[0]
                if target is None:
                    rows = list(pending)
                    pending.clear()
                    await self._emit(Result(rows, "cancelled", None, "subscriber deleted or suspended", 0.0))
                    continue
                wait = self._targets.limits(target).wait_s()
                if wait > 0:
                    await asyncio.sleep(min(wait, 1.0))  # rate limit or Retry-After; partitions may move meanwhile
                    continue
                durable = await self._start_next(target, pending)
                await durable
        except Exception:
            log.exception("a sender for %s failed; its notifications return to the queue", subscriber_id)
            rows = list(pending)
            pending.clear()
            if rows:
                outcome = Outcome(Verdict.RETRY, "internal error while sending")
                await self._emit(decide(rows, outcome, 0.0, self._settings))
        finally:
            lanes = self._lanes.get(subscriber_id)
            if lanes is not None:
                lanes.discard(asyncio.current_task())
                if not lanes:
                    del self._lanes[subscriber_id]
                    if not pending and self._queues.get(subscriber_id) is pending:
                        del self._queues[subscriber_id]
            if self._shut_out:
                self._wake.set()  # this target's backlog is gone: claims may take what was left of it

    async def _load(self, subscriber_id: str) -> tuple[Target | None]:
        """The subscriber's target (None inside: deleted or suspended), in a tuple so that `one_pass` can tell an
        outage (None) from a subscriber that is gone."""
        return (await self._targets.get(subscriber_id),)

    def _next_batch(self, target: Target, pending: Backlog) -> list[Claimed]:
        """The rows of this target's next message (its group, cut to the size a 413 taught)."""
        batch = pending.take()
        cap = self._caps.get(target.subscriber_id)
        if cap is not None and len(batch) > cap:
            pending.put_back(batch[cap:])
            batch = batch[:cap]
        return batch

    def _start_next(self, target: Target, pending: Backlog) -> Coroutine[Any, Any, asyncio.Future[None]]:
        """Take the target's rate token and its next message's rows now (before another sender looks at either,
        so that several messages in flight still keep to the rate); the coroutine sends them."""
        self._targets.limits(target).take()
        return self._send(target, pending, self._next_batch(target, pending))

    async def _send(self, target: Target, pending: Backlog, batch: list[Claimed]) -> asyncio.Future[None]:
        """Send one message of this target (its rate token already taken); the future of its answer being written.
        Rows the rendered message could not hold go back to the front of `pending`."""
        channel = REGISTRY[target.channel]
        limits = self._targets.limits(target)
        sent, seconds = batch, 0.0
        parts = {r.part for r in batch}
        self._flying.update(parts)
        try:
            try:
                rendered: Rendered = channel.render([r.alert for r in batch], target, self._settings, False)
                sent = batch[: max(1, rendered.covered)]
                pending.put_back(batch[len(sent) :])
                slots = self._suspect_slots if target.subscriber_id in self._suspects else self._slots
                async with slots:
                    started = time.perf_counter()
                    outcome = await channel.send(self._ctx, target, rendered)
                    seconds = time.perf_counter() - started
            except Exception as exc:  # a bug must not strand the rows in 'sending': retry them, then dead-letter
                said = redact(f"{type(exc).__name__}: {exc}", target.secrets)[:200]
                log.error("internal error sending to subscriber %s: %s", target.subscriber_id, said)
                outcome = Outcome(Verdict.RETRY, f"internal error: {said}")
            bound = metrics.of_channel(target.channel.value)
            bound.send_seconds.observe(seconds)
            if outcome.verdict is Verdict.RETRY and outcome.status is None:  # timeout, network or internal error
                self._suspects.add(target.subscriber_id)
            else:
                self._suspects.discard(target.subscriber_id)
            pause = None
            if outcome.verdict is Verdict.RETRY and outcome.retry_after_s:
                limits.pause(outcome.retry_after_s)
                pause = (target.key, outcome.retry_after_s) if target.key else None
            if outcome.status == 413 and len(sent) > 1:
                # too large for this endpoint after all: send the same alerts again in messages half the size
                self._caps[target.subscriber_id] = len(sent) // 2
                pending.put_back(sent)
                detail = f"{outcome.reason}; re-sending in messages of at most {len(sent) // 2} alerts"
                return self._put(Result(sent, "resplit", 413, detail, seconds * 1000))
            result = decide(sent, outcome, seconds * 1000, self._settings)
            if pause is not None:
                result = dataclasses.replace(result, pause=pause)
            self._count(target, bound, result, outcome)
            durable = self._emit_nowait(result)
            written = parts
            durable.add_done_callback(lambda _: self._flying.subtract(written))
            parts = set()  # counted down once the answer is written
            return durable
        finally:
            self._flying.subtract(parts)

    def _count(self, target: Target, bound: metrics.ChannelMetrics, result: Result, outcome: Outcome) -> None:
        ch = target.channel.value
        n = len(result.rows)
        bound.messages[result.outcome].inc()
        if result.outcome == "delivered":
            bound.delivered.inc(n)
            now = datetime.now(UTC)
            for r in result.rows:
                bound.latency.observe(max(0.0, (now - r.window_from).total_seconds()))
        elif result.outcome == "retry":
            metrics.RETRIED.labels(ch, metrics.reason_label(outcome.reason)).inc(n)
        elif result.outcome == "dead":
            metrics.DEAD.labels(ch, metrics.reason_label(outcome.reason)).inc(n)
            log.warning(
                "dead-lettered %d notification(s) for subscriber %s: %s", n, target.subscriber_id, result.detail
            )

    def _put(self, result: Result) -> asyncio.Future[None]:
        """Hand a result to the recorder; the future is done once it is written."""
        durable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._durable[id(result)] = durable
        self._results.put_nowait(result)
        return durable

    def _emit_nowait(self, result: Result) -> asyncio.Future[None]:
        self.in_memory -= len(result.rows)
        if self._no_room and self._room():
            self._no_room = False
            self._wake.set()  # room again for what was left in Postgres
        return self._put(result)

    async def _emit(self, result: Result) -> None:
        await self._emit_nowait(result)

    # --- the recorder ------------------------------------------------------------------------------------------

    async def record_forever(self) -> None:
        """Write results in batches, forever: each batch is what came in while the last one was written. An outage
        is waited out (senders wait with it: each holds at most its in-flight messages); a result that cannot be
        written is isolated (the batch is split until it is alone) so that every other result is written. A batch
        being written when the loop crashed is written first when its supervisor restarts it."""
        try:
            while True:
                if not self._recording:
                    self._recording = batch = [await self._results.get()]
                    self._take_more(batch)
                    if self._foreground.busy and not self._awaited(batch):
                        # nobody sends more until these are written: the HTTP requests under way store first, as
                        # their callers wait for them (carekit.foreground); the batch takes what came in meanwhile
                        await self._foreground.finish(RECORD_YIELD_S)
                        self._take_more(batch)
                try:
                    if self._writer is None or self._writer.is_closed():
                        self._writer = await queue.writer(self._pool)
                    await self.record(self._recording)
                except Exception as exc:
                    await self._drop_writer()
                    if not is_outage(exc):
                        raise
                    log.warning("recording %d results failed, will retry: %s", len(self._recording), exc)
                    await self._recorder.pause()
                    continue
                self._recorder.succeeded()
                for result in self._recording:
                    durable = self._durable.pop(id(result), None)
                    if durable is not None and not durable.done():
                        durable.set_result(None)
                self._recording = []
        finally:
            await self._drop_writer()  # the pool waits for every connection to come back when it closes

    def _take_more(self, batch: list[Result]) -> None:
        while not self._results.empty() and len(batch) < RECORD_BATCH:
            batch.append(self._results.get_nowait())

    def _awaited(self, batch: Sequence[Result]) -> bool:
        """Whether a sender waits for this batch to be written to send its target's next message (a sender takes
        its next message once its last answer is durable; with none left it just ends)."""
        return any(self._queues.get(res.rows[0].subscriber_id) for res in batch if res.rows)

    async def _write(self, batch: Sequence[Result]) -> None:
        """Write through the recorder's own connection while `record_forever` holds one: giving a pooled connection
        back costs a round trip (asyncpg resets it), and under load every round trip waits its turn on a busy event
        loop while senders wait for the write."""
        await queue.record(self._writer or self._pool, batch, self.me)

    async def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(writer)

    async def record(self, batch: Sequence[Result]) -> None:
        """Write results; one that cannot be written is isolated (split until alone) and written as a dead letter."""
        try:
            await self._write(batch)
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
                await self._write([result])
                return
            except Exception as exc:
                failure = exc
        # the answer itself cannot be written: the notifications become dead letters saying so (re-drivable)
        self._recorder.isolated(key, decision.reason)
        dead = Result(result.rows, "dead", None, f"the delivery result could not be recorded: {decision.reason}", 0.0)
        try:
            await self._write([dead])
        except Exception as exc:
            if is_outage(exc):
                raise
            ids = [r.id for r in result.rows]
            log.error("notifications %s stay in 'sending' until their partition changes hands: %s", ids, exc)
