"""`care-redrive`: list the records consumers dead-lettered, and publish one again once its cause is fixed.

A consumer that can never process a record publishes `care.notify.event_rejected.v1` on `notify.deadletter.v1`
(topic, partition, offset, key, reason, a copy of the value and headers) and goes on. `care-redrive list` shows
them; `care-redrive again TOPIC PARTITION OFFSET` reads that record from its topic and publishes it again, same
key, value and headers, so every consumer of the topic takes it in anew (they are idempotent).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from care_schemas.bounded import EARLIEST
from care_schemas.events.deadletter import EventRejected, deadletter_event_adapter
from care_schemas.topics import NOTIFY_DEADLETTER


async def rejected(
    bootstrap: str, *, consumer: str | None = None, limit: int = 100, scan: int = 10_000
) -> list[EventRejected]:
    """The most recent dead-lettered records (of one consumer group, if given), among the last `scan` of each
    partition of the dead-letter topic, oldest first."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        parts = [TopicPartition(NOTIFY_DEADLETTER.name, p) for p in range(NOTIFY_DEADLETTER.partitions)]
        reader.assign(parts)
        ends = await reader.end_offsets(parts)
        starts = await reader.beginning_offsets(parts)
        for tp in parts:
            reader.seek(tp, max(starts[tp], ends[tp] - scan))
        found: list[EventRejected] = []
        while any([await reader.position(tp) < ends[tp] for tp in parts]):
            for records in (await reader.getmany(timeout_ms=500)).values():
                for r in records:
                    event = deadletter_event_adapter.validate_json(r.value)
                    if isinstance(event, EventRejected) and consumer in (None, event.data.consumer):
                        found.append(event)
        found.sort(key=lambda e: e.time or EARLIEST)
        return found[-limit:]
    finally:
        await reader.stop()


async def again(bootstrap: str, topic: str, partition: int, offset: int) -> int:
    """Publish the record at topic/partition/offset again (key, value, headers); its new offset.

    Raises LookupError when the topic no longer holds it (its retention passed): publish the dead letter's copy.
    """
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        tp = TopicPartition(topic, partition)
        reader.assign([tp])
        start = (await reader.beginning_offsets([tp]))[tp]
        end = (await reader.end_offsets([tp]))[tp]
        if not start <= offset < end:
            raise LookupError(f"{topic}/{partition}/{offset} is no longer in the topic (it holds {start}..{end - 1})")
        reader.seek(tp, offset)
        async with asyncio.timeout(30):
            record = await reader.getone(tp)
    finally:
        await reader.stop()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, record.value, key=record.key, headers=list(record.headers or ()))
        return int(sent.offset)
    finally:
        await producer.stop()


def _view(event: EventRejected) -> dict[str, Any]:
    d = event.data
    return {
        "at": event.time.isoformat() if event.time else None,
        "consumer": d.consumer,
        "record": f"{d.topic} {d.partition} {d.offset}",
        "key": d.key,
        "reason": d.reason,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="care-redrive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="the most recent dead-lettered records, one JSON object a line")
    listing.add_argument("--consumer", help="only this consumer group's")
    listing.add_argument("--limit", type=int, default=100)
    redo = sub.add_parser("again", help="publish a dead-lettered record again from its topic")
    redo.add_argument("topic")
    redo.add_argument("partition", type=int)
    redo.add_argument("offset", type=int)
    args = parser.parse_args(argv)
    if not args.bootstrap:
        parser.error("set KAFKA_BOOTSTRAP_SERVERS or pass --bootstrap")
    if args.command == "list":
        for event in asyncio.run(rejected(args.bootstrap, consumer=args.consumer, limit=args.limit)):
            print(json.dumps(_view(event)))
        return
    try:
        offset = asyncio.run(again(args.bootstrap, args.topic, args.partition, args.offset))
    except LookupError as exc:
        print(f"{exc}; publish the copy kept in the dead letter instead", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"published again as {args.topic}/{args.partition}/{offset}")
