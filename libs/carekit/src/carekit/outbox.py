"""Transactional outbox: `enqueue` inside the state change's transaction; `OutboxRelay` publishes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from care_schemas.envelope import CloudEvent
from care_schemas.topics import Topic
from carekit.errors import TRANSIENT
from carekit.kafka import Publishers
from carekit.metrics import OUTBOX_PUBLISHED

log = logging.getLogger(__name__)
CHANNEL = "outbox"
RELAY_LOCK = 7_140_002
Hook = Callable[[Sequence[asyncpg.Record]], Awaitable[None]]


async def enqueue(conn: asyncpg.Connection, topic: Topic, key: str, event: CloudEvent[Any]) -> None:
    """Write an event to the outbox in the caller's transaction and wake the relay on commit."""
    await conn.execute(
        "INSERT INTO outbox (topic, key, event_id, event_type, payload) VALUES ($1, $2, $3, $4, $5)",
        topic.name,
        key,
        event.id,
        event.type,
        event.to_json_bytes(),
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
        self._wake = asyncio.Event()

    async def drain_once(self) -> int:
        """Publish one batch; return how many rows were sent (0 when idle or another relay is active)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK):
                return 0
            rows = await conn.fetch(
                "SELECT id, topic, key, payload FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1 "
                "FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            if not rows:
                return 0
            by_topic: dict[str, list[tuple[str, bytes]]] = {}
            for r in rows:  # the order within a topic (and so within a key) is the outbox's
                by_topic.setdefault(r["topic"], []).append((r["key"], bytes(r["payload"])))
            await asyncio.gather(*(self._publishers.named(t).publish_all(items) for t, items in by_topic.items()))
            for topic, items in by_topic.items():
                OUTBOX_PUBLISHED.labels(topic).inc(len(items))
            if self._after_publish is not None:
                await self._after_publish(rows)
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
            return len(rows)

    async def run(self) -> None:
        """Drain forever: woken by LISTEN/NOTIFY, polling as a fallback."""
        listener = await self._pool.acquire()

        def wake(*_: object) -> None:
            self._wake.set()

        try:
            await listener.add_listener(CHANNEL, wake)
            while True:
                try:
                    sent = await self.drain_once()
                except TRANSIENT as exc:
                    log.warning("outbox relay will retry: %s", exc)
                    sent = 0
                    await asyncio.sleep(self._poll)
                if sent:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                self._wake.clear()
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(CHANNEL, wake)  # the same callback, or asyncpg keeps it and warns
            await self._pool.release(listener)
