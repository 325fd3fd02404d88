"""Transactional outbox: `enqueue` inside the state change's transaction; `OutboxRelay` publishes.

A row Kafka refuses for good (too large, invalid) is parked with its reason (`carekit.parking`, loop
`outbox-relay`) and every row after it is published; an outage leaves the whole batch for the next pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from care_schemas.envelope import CloudEvent
from care_schemas.topics import Topic
from carekit.db import BY_KEY_LOCAL
from carekit.faults import Fault, Retries
from carekit.kafka import Publishers, encode
from carekit.metrics import OUTBOX_PUBLISHED
from carekit.parking import REDRIVEN, park
from carekit.polling import one_pass, sleep_until_woken, woken_by

log = logging.getLogger(__name__)
CHANNEL = "outbox"
LOOP = "outbox-relay"
RELAY_LOCK = 7_140_002
Hook = Callable[[Sequence[asyncpg.Record]], Awaitable[None]]


async def enqueue(conn: asyncpg.Connection, topic: Topic, key: str, event: CloudEvent[Any]) -> None:
    """Write an event to the outbox in the caller's transaction and wake the relay on commit.

    An event the topic would refuse raises TooLarge here, in the request that made it, not later in the relay.
    """
    await conn.execute(
        "INSERT INTO outbox (topic, key, event_id, event_type, payload) VALUES ($1, $2, $3, $4, $5)",
        topic.name,
        key,
        event.id,
        event.type,
        encode(event, topic),
    )
    await conn.execute(f"NOTIFY {CHANNEL}")


class OutboxRelay:
    """Publishes unsent outbox rows in order through the service's typed publishers (the broker's one idempotent
    producer), then marks them sent; one active relay per database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publishers: Publishers,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        after_publish: Hook | None = None,
    ) -> None:
        self._pool, self._publishers = pool, publishers
        self._batch_size, self._poll = batch_size, poll_interval_s
        self._after_publish = after_publish
        self._retries = Retries(LOOP)

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> dict[int, BaseException]:
        """Send every row; the rows that failed, with their error."""
        failed: dict[int, BaseException] = {}
        pending: list[tuple[int, asyncio.Future[Any]]] = []
        for r in rows:
            try:  # aiokafka refuses a record over its request size here, before it reaches the broker
                future = await self._publishers.named(r["topic"]).send(r["key"], bytes(r["payload"]))
            except Exception as exc:
                failed[r["id"]] = exc
                continue
            pending.append((r["id"], future))
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        for (row_id, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                failed[row_id] = result
        return failed

    async def drain_once(self) -> int:
        """Publish one batch; return how many rows were sent or parked (0 when idle or another relay is active).

        The batch is found by key whatever the statistics (the lock's statement plans the transaction by key,
        `carekit.db.BY_KEY_LOCAL`): the outbox keeps every sent row for days (carekit.retention) and parked keeps
        every loop's records, so a plan made after an ANALYZE that found them nearly empty (a new deployment) read
        both whole on every pass, once a second, as they grew: ten passes of one row each after 20,000 sent rows
        and 20,000 other loops' parked records read 600,310 rows and index entries of the two; by key, under 80
        (test_outbox_and_projection.py). The parked check is an OFFSET 0 probe by key for each row: as a join,
        even by key, ten passes after 10,000 rows the relay had parked read 100,038 entries, every one of them on
        every pass; now 37 in all."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(f"SELECT pg_try_advisory_xact_lock($1), {BY_KEY_LOCAL}", RELAY_LOCK):
                return 0
            rows = await conn.fetch(
                "SELECT id, topic, key, payload FROM outbox o WHERE sent_at IS NULL AND NOT EXISTS"
                " (SELECT 1 FROM parked p WHERE p.loop = $2 AND p.key = o.id::text AND p.redriven_at IS NULL OFFSET 0)"
                " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
                LOOP,
            )
            if not rows:
                return 0
            failed = await self._publish(rows)
            parked = 0
            for row_id, exc in failed.items():
                decision = self._retries.decide(row_id, exc)
                if decision.fault is Fault.OUTAGE:
                    raise exc  # nothing is marked: the whole batch goes again (consumers absorb duplicates)
                if decision.isolate:
                    await park(conn, LOOP, str(row_id), decision.reason)
                    self._retries.isolated(row_id, decision.reason)
                    parked += 1
            # an unknown error (not yet isolated) leaves that row unsent for the next pass; the others go on
            sent = [r for r in rows if r["id"] not in failed]
            for r in sent:
                OUTBOX_PUBLISHED.labels(r["topic"]).inc()
            if self._after_publish is not None and sent:
                await self._after_publish(sent)
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in sent]
            )
            self._retries.succeeded()
            return len(sent) + parked

    async def run(self) -> None:
        """Drain forever: woken by LISTEN/NOTIFY (a new row, a re-driven one), polling as a fallback.

        An outage is waited out here; anything else ends the loop for its supervisor to restart and count.
        """
        async with woken_by(self._pool, CHANNEL, REDRIVEN) as wake:
            while True:
                sent = await one_pass(self.drain_once, what="outbox relay", log=log)
                if sent is None:  # an outage: back off before the next pass
                    await asyncio.sleep(max(self._poll, self._retries.delay_s()))
                elif sent:
                    continue
                await sleep_until_woken(wake, self._poll)
