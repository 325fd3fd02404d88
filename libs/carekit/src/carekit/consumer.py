"""Kafka consumers that commit only after the effect is durable, and isolate what can never be processed.

Decided by `carekit.faults`: an outage is retried (the record is delivered again, with growing pauses); a record
that does not validate, or whose handling fails permanently (or with the same bug POISON_ATTEMPTS times), is
published to `notify.deadletter.v1` as `care.notify.event_rejected.v1` with its reason and committed, so that
every record behind it goes on. In a batch only the failing record(s) are isolated: the batch is split in halves
until the bad ones are alone.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter, ValidationError

from care_schemas.bounded import describe_validation
from care_schemas.events.deadletter import MAX_PAYLOAD, MAX_REASON, EventRejected, EventRejectedData
from care_schemas.topics import NOTIFY_DEADLETTER, Topic
from carekit.faults import Fault, Retries, classify, storable
from carekit.kafka import Publishers
from carekit.metrics import CONSUMER_FAILURES, DEAD_LETTERS, observe_consumed

log = logging.getLogger(__name__)
E = TypeVar("E")
# CloudEvents attributes read from `ce_` headers in binary mode; other extension attributes are ignored
CE_ATTRIBUTES = ("specversion", "id", "source", "type", "time", "subject")


async def first_time(conn: asyncpg.Connection, consumer: str, event_id: str) -> bool:
    """Record the event id for this consumer in the caller's transaction; False if already processed."""
    row = await conn.fetchrow(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        consumer,
        event_id,
    )
    return row is not None


def _text(raw: bytes | str | None, limit: int) -> str:
    """Bytes or text from a record, made storable and cut to `limit` characters (after escaping)."""
    decoded = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
    return storable(decoded[:limit])[:limit]


class Rejects:
    """Publishes records that can never be processed to the dead-letter topic (through the service's typed
    publisher on its one broker), with the reason."""

    def __init__(self, publishers: Publishers, consumer: str, source: str) -> None:
        self._publisher, self._consumer, self._source = publishers[NOTIFY_DEADLETTER], consumer, source

    async def reject(self, record: ConsumerRecord[Any, Any], reason: str) -> None:
        raw: bytes = record.value or b""
        key = _text(record.key, 256) if record.key else None
        event = EventRejected.build(
            source=self._source,
            subject=f"{record.topic}/{record.partition}/{record.offset}",
            data=EventRejectedData(
                consumer=self._consumer,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=key,
                reason=_text(reason, MAX_REASON),
                payload=_text(raw[:MAX_PAYLOAD], MAX_PAYLOAD),
                headers={_text(k, 256): _text(v, 1024) for k, v in list(record.headers or ())[:32]} or None,
            ),
        )
        await self._publisher.publish(event, key or "unknown")
        DEAD_LETTERS.labels(self._consumer, record.topic).inc()
        log.warning("dead-lettered %s/%s/%s: %s", record.topic, record.partition, record.offset, reason)


class Rejected:
    """A record that does not parse into one of the topic's events, and why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def document(record: ConsumerRecord[Any, Any]) -> bytes | dict[str, Any]:
    """The record as a CloudEvents document: the value in structured mode, or, in binary mode (`ce_*` headers,
    the data in the value, as many upstream emitters send), a document built from the headers and the value."""
    headers = {k.lower(): v for k, v in (record.headers or ())}
    media = (headers.get("content-type") or b"").decode("latin-1").split(";")[0].strip().lower()
    if media.startswith("application/cloudevents") or "ce_specversion" not in headers:
        raw: bytes = record.value or b""
        return raw
    doc: dict[str, Any] = {name: headers[f"ce_{name}"].decode() for name in CE_ATTRIBUTES if f"ce_{name}" in headers}
    doc["datacontenttype"] = media or "application/json"
    doc["data"] = json.loads(record.value or b"")
    return doc


def parse(adapter: TypeAdapter[E], record: ConsumerRecord[Any, Any]) -> E | Rejected:
    """The typed event, or why the record can never be one."""
    try:
        doc = document(record)
        return adapter.validate_json(doc) if isinstance(doc, bytes) else adapter.validate_python(doc)
    except ValidationError as exc:
        return Rejected(f"does not validate: {describe_validation(exc)}")
    except (UnicodeDecodeError, ValueError) as exc:  # binary mode: a header that is not UTF-8, data not JSON
        return Rejected(f"binary-mode record is not readable: {type(exc).__name__}: {exc}")


async def _undecoded(msg: Any) -> None:
    """The subscribers read `msg.raw_message` and parse it themselves (`parse`): FastStream's own decoding of every
    record (JSON into dicts, a message object per record of a batch) would be thrown away, so it is skipped."""
    return


def _where(record: ConsumerRecord[Any, Any]) -> tuple[str, int, int]:
    return (record.topic, record.partition, record.offset)


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
    """Register a typed, commit-after-processing subscriber that isolates what can never be processed.

    A brand-new consumer group reads the topic from its beginning, or with `from_beginning=False` only what is
    published after it first joins (for effects that must not replay history, such as chat posts).
    """
    retries = Retries(group_id)

    @broker.subscriber(
        topic.name,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest" if from_beginning else "latest",
        decoder=_undecoded,
    )
    async def on_message(msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)
        parsed = parse(adapter, record)
        if isinstance(parsed, Rejected):
            await rejects.reject(record, parsed.reason)
            return
        try:
            await handle(parsed)
        except Exception as exc:
            decision = retries.decide(_where(record), exc)
            CONSUMER_FAILURES.labels(group_id, decision.fault.value).inc()
            if not decision.isolate:
                await retries.pause()
                raise  # NACK: the same record is delivered again
            retries.isolated(_where(record), decision.reason)
            await rejects.reject(record, decision.reason)
            return
        retries.succeeded(_where(record))
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
    lanes: int = 1,
) -> None:
    """Like `subscribe`, but the handler gets every valid event of a poll at once, in one transaction; when that
    fails for a reason other than an outage, the batch is split until the records at fault are alone.

    With `lanes` > 1 a poll is cut by record key into that many parts, handled at the same time (each in its own
    transaction), and committed once all are done: a key's records stay in order in one part, and while one part
    waits for the database the next is parsed and sent. The handler must take events of different keys in any
    order, and touch no row that events of another key touch (or two parts could wait on each other).

    The parts run in tasks with the context of the caller (start-up), not of FastStream's handler: what a handler
    leaves scheduled keeps the context it was made in, and FastStream's holds the whole poll. asyncpg's pool
    schedules a timer that long (`max_inactive_connection_lifetime`, 300 s) each time a connection comes back, so
    every connection kept a poll of thousands of records alive: 33,864 records at 100,000 alerts."""
    retries = Retries(group_id)
    own = contextvars.copy_context()

    @broker.subscriber(
        topic.name,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        auto_offset_reset="earliest",
        decoder=_undecoded,
    )
    async def on_batch(msg: KafkaMessage) -> None:
        records = msg.raw_message
        records = tuple(records) if isinstance(records, tuple | list) else (records,)  # TestKafkaBroker: a list
        takes = [
            asyncio.create_task(_take(part, adapter, handle, rejects, retries, group_id), context=own.copy())
            for part in _by_key(records, lanes)
        ]
        for end in await asyncio.gather(*takes, return_exceptions=True):  # every part runs to its end; then
            if isinstance(end, BaseException):  # the first failure (if any) NACKs the whole poll
                raise end
        observe_consumed(group_id, msg.consumer, records)


def _by_key(records: Sequence[ConsumerRecord[Any, Any]], lanes: int) -> list[list[ConsumerRecord[Any, Any]]]:
    """The records cut into at most `lanes` parts by key (a key's records in one part, in order); empty parts
    left out."""
    if lanes <= 1:
        return [list(records)]
    parts: list[list[ConsumerRecord[Any, Any]]] = [[] for _ in range(lanes)]
    for record in records:
        parts[zlib.crc32(record.key or b"") % lanes].append(record)
    return [part for part in parts if part]


async def _take(
    records: Sequence[ConsumerRecord[Any, Any]],
    adapter: TypeAdapter[E],
    handle: Callable[[Sequence[E]], Awaitable[None]],
    rejects: Rejects,
    retries: Retries,
    group_id: str,
) -> None:
    """Parse and handle records in one transaction; split the batch when that fails for a reason other than an
    outage, until the records at fault are alone (and dead-lettered)."""
    valid: list[tuple[ConsumerRecord[Any, Any], E]] = []
    for record in records:
        parsed = parse(adapter, record)
        if isinstance(parsed, Rejected):
            await rejects.reject(record, parsed.reason)
        else:
            valid.append((record, parsed))
    if not valid:
        return
    try:
        await handle([event for _, event in valid])
    except Exception as exc:
        fault = classify(exc)
        CONSUMER_FAILURES.labels(group_id, fault.value).inc()
        first = _where(valid[0][0])
        if fault is Fault.UNKNOWN and not retries.decide(first, exc).isolate:
            await retries.pause()
            raise  # perhaps not this batch's fault: the whole batch again, a few times, before splitting it
        if fault is Fault.OUTAGE:
            retries.decide(first, exc)
            await retries.pause()
            raise
        await _split(valid, handle, rejects, retries)
    retries.succeeded(_where(valid[0][0]))


async def _split(
    items: Sequence[tuple[ConsumerRecord[Any, Any], E]],
    handle: Callable[[Sequence[E]], Awaitable[None]],
    rejects: Rejects,
    retries: Retries,
) -> None:
    """Handle the halves separately (each in its own transaction) until the failing records are alone, and
    dead-letter those; an outage on the way raises, so the whole batch is delivered again (handlers are
    idempotent)."""
    if len(items) > 1:
        middle = len(items) // 2
        for half in (items[:middle], items[middle:]):
            try:
                await handle([event for _, event in half])
            except Exception as exc:
                if classify(exc) is Fault.OUTAGE:
                    raise
                await _split(half, handle, rejects, retries)
        return
    record, event = items[0]
    while True:
        try:
            await handle([event])
            retries.succeeded(_where(record))
            return
        except Exception as exc:
            decision = retries.decide(_where(record), exc)
            if decision.isolate:
                retries.isolated(_where(record), decision.reason)
                await rejects.reject(record, decision.reason)
                return
            if decision.fault is Fault.OUTAGE:
                raise
            await retries.pause()
