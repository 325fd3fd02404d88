"""Kafka consumers that commit only after the effect is durable, and dead-letter what never validates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter, ValidationError

from care_schemas.events.deadletter import EventRejected, EventRejectedData
from care_schemas.topics import NOTIFY_DEADLETTER, Topic
from carekit.errors import TRANSIENT
from carekit.kafka import Publishers
from carekit.metrics import CONSUMER_FAILURES, DEAD_LETTERS, observe_consumed

log = logging.getLogger(__name__)
E = TypeVar("E")
MAX_PAYLOAD = 64 * 1024
# A valid event whose handler fails this many times in a row for a reason other than an outage is a poison
# pill: it is dead-lettered with the error so that it stops holding up its partition (every later event).
POISON_ATTEMPTS = 3


async def first_time(conn: asyncpg.Connection, consumer: str, event_id: str) -> bool:
    """Record the event id for this consumer in the caller's transaction; False if already processed."""
    row = await conn.fetchrow(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        consumer,
        event_id,
    )
    return row is not None


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(document)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


class Rejects:
    """Publishes records that can never be processed to the dead-letter topic, with the reason."""

    def __init__(self, publishers: Publishers, consumer: str, source: str) -> None:
        self._publisher, self._consumer, self._source = publishers[NOTIFY_DEADLETTER], consumer, source

    async def reject(self, record: ConsumerRecord[Any, Any], reason: str) -> None:
        raw: bytes = record.value or b""
        key = record.key.decode("utf-8", "replace") if record.key else None
        event = EventRejected.build(
            source=self._source,
            subject=f"{record.topic}/{record.partition}/{record.offset}",
            data=EventRejectedData(
                consumer=self._consumer,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=key,
                reason=reason,
                payload=raw[:MAX_PAYLOAD].decode("utf-8", "replace"),
            ),
        )
        await self._publisher.publish(event, key or "unknown")
        DEAD_LETTERS.labels(self._consumer, record.topic).inc()
        log.warning("dead-lettered %s/%s/%s: %s", record.topic, record.partition, record.offset, reason)


def _parse(adapter: TypeAdapter[E], record: ConsumerRecord[Any, Any]) -> E | str:
    try:
        return adapter.validate_json(record.value or b"")
    except ValidationError as exc:
        return _reason(exc)


def _failure(exc: Exception) -> str:
    return f"handler failed {POISON_ATTEMPTS} times: {type(exc).__name__}: {str(exc)[:500]}"


class _Backoff:
    """Slows redelivery of a failing message so a database outage is not a hot loop."""

    def __init__(self) -> None:
        self.failures = 0

    async def failed(self) -> None:
        self.failures += 1
        await asyncio.sleep(min(0.2 * 2 ** min(self.failures, 5), 5.0))


def subscribe(
    broker: KafkaBroker,
    *,
    topic: Topic,
    group_id: str,
    adapter: TypeAdapter[E],
    handle: Callable[[E], Awaitable[None]],
    rejects: Rejects,
    from_beginning: bool = True,
) -> None:
    """Register a typed, commit-after-processing subscriber; invalid records are dead-lettered and skipped.

    A brand-new consumer group reads the topic from its beginning, or with `from_beginning=False` only what is
    published after it first joins (for effects that must not replay history, such as chat posts).
    """
    backoff = _Backoff()

    @broker.subscriber(
        topic.name,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    async def on_message(msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)
        parsed = _parse(adapter, record)
        if isinstance(parsed, str):
            await rejects.reject(record, parsed)
            return
        try:
            await handle(parsed)
        except TRANSIENT as exc:
            CONSUMER_FAILURES.labels(group_id, "outage").inc()
            log.warning("%s/%s/%s will be retried: %s", record.topic, record.partition, record.offset, exc)
            await backoff.failed()
            raise
        except Exception as exc:
            CONSUMER_FAILURES.labels(group_id, "poison").inc()
            if backoff.failures + 1 >= POISON_ATTEMPTS:
                backoff.failures = 0
                await rejects.reject(record, _failure(exc))
                return
            log.exception("handler failed for %s/%s/%s; retrying", record.topic, record.partition, record.offset)
            await backoff.failed()
            raise
        backoff.failures = 0
        observe_consumed(group_id, msg.consumer, [record])


def subscribe_batch(
    broker: KafkaBroker,
    *,
    topic: Topic,
    group_id: str,
    adapter: TypeAdapter[E],
    handle: Callable[[Sequence[E]], Awaitable[None]],
    rejects: Rejects,
    max_records: int = 500,
    batch_timeout_ms: int = 20,
) -> None:
    """Like `subscribe`, but the handler gets every valid event of a poll at once, in one transaction."""
    backoff = _Backoff()

    @broker.subscriber(
        topic.name,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        auto_offset_reset="earliest",
    )
    async def on_batch(msg: KafkaMessage) -> None:
        records = msg.raw_message
        records = records if isinstance(records, tuple) else (records,)
        valid: list[tuple[ConsumerRecord[Any, Any], E]] = []
        for record in records:
            parsed = _parse(adapter, record)
            if isinstance(parsed, str):
                await rejects.reject(record, parsed)
            else:
                valid.append((record, parsed))
        try:
            if valid:
                await handle([event for _, event in valid])
        except TRANSIENT as exc:
            CONSUMER_FAILURES.labels(group_id, "outage").inc()
            log.warning("batch of %d will be retried: %s", len(valid), exc)
            await backoff.failed()
            raise
        except Exception:
            CONSUMER_FAILURES.labels(group_id, "poison").inc()
            if backoff.failures + 1 >= POISON_ATTEMPTS:
                backoff.failures = 0
                await _one_by_one(valid, handle, rejects)
                return
            log.exception("batch of %d failed; retrying", len(valid))
            await backoff.failed()
            raise
        backoff.failures = 0
        observe_consumed(group_id, msg.consumer, records)


async def _one_by_one(
    valid: Sequence[tuple[ConsumerRecord[Any, Any], E]],
    handle: Callable[[Sequence[E]], Awaitable[None]],
    rejects: Rejects,
) -> None:
    """A batch that keeps failing: handle each event alone and dead-letter only the ones that still fail."""
    for record, event in valid:
        try:
            await handle([event])
        except TRANSIENT:
            raise
        except Exception as exc:
            await rejects.reject(record, _failure(exc))
