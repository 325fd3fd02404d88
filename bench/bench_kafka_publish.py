"""Publishing alert events as notify-service's HTTP intake does (`EventPublisher.publish_all`, one request's alerts of
one organisation at a time, acks=all with idempotence), in four ways: aiokafka's default 16 KiB record batches or
the kit's 256 KiB (`carekit.kafka.BATCH_BYTES`), each with one FastStream publish per event or with the runs of one
key batched (`EventPublisher.route_by`, what the lifespan turns on once it has read the topic's partitions).

Prints, per way: time per request, events/s, the client's CPU seconds per 1k events (this process) and the Kafka
broker's (the whole broker process, so run it on a quiet machine). Each way publishes to a fresh topic of its own.

    uv run python bench/bench_kafka_publish.py [N] [PER_REQUEST] [--repeat 2] [--lingers 0,2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import uvloop
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.am_harness import cpu_seconds, kafka_broker_pid
from care_schemas.events.alert import alert_event
from care_schemas.topics import Topic
from carekit.kafka import BATCH_BYTES, LINGER_MS, EventPublisher, encode
from tests.receivers import bench_infra, sample_alert

ORGS = 100
PARTITIONS = 6  # as alert.events.v1
DEFAULT_BATCH = 16 * 1024  # aiokafka's


async def one_way(
    kafka: str, requests: list[list[tuple[str, bytes]]], batch_bytes: int, batched: bool, linger_ms: int
) -> str:
    topic = Topic(name=f"bench.publish.{uuid.uuid4().hex[:8]}", key="org id", partitions=PARTITIONS)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic.name, PARTITIONS, 1)])
    finally:
        await admin.close()
    # make_broker's settings, with the batch size and linger of this way
    broker = KafkaBroker(
        kafka, acks="all", enable_idempotence=True, linger_ms=linger_ms, max_batch_size=batch_bytes, client_id="bench"
    )
    publisher = EventPublisher(broker, topic)
    await broker.start()
    try:
        if batched:
            publisher.route_by(PARTITIONS, batch_bytes)
        await publisher.publish_all(requests[0][:1])  # connections and metadata, not counted
        broker_pid = kafka_broker_pid(kafka)
        me = os.getpid()
        k0, c0, t0 = cpu_seconds(broker_pid) if broker_pid else 0.0, cpu_seconds(me), time.perf_counter()
        for request in requests:
            await publisher.publish_all(request)
        seconds = time.perf_counter() - t0
        client = cpu_seconds(me) - c0
        kafka_cpu = (cpu_seconds(broker_pid) - k0) if broker_pid else float("nan")
    finally:
        await broker.stop()
    n = sum(map(len, requests))
    way = (
        f"{batch_bytes // 1024} KiB, {'batched per key' if batched else 'one publish per event'}, linger {linger_ms} ms"
    )
    return (
        f"| {way} | {seconds / len(requests) * 1000:.1f} ms | {n / seconds:,.0f} |"
        f" {client / n * 1000:.3f} | {kafka_cpu / n * 1000:.3f} |"
    )


async def main(n: int, per: int, repeat: int, lingers: list[int]) -> None:
    orgs = [f"org-{uuid.uuid4().hex[:6]}-{i}" for i in range(ORGS)]
    requests: list[list[tuple[str, bytes]]] = []
    for r in range(max(1, n // per)):
        org = orgs[r % ORGS]
        events = [alert_event(sample_alert(org, f"a-{r}-{i}"), source="/bench") for i in range(per)]
        requests.append([(org, encode(e, Topic(name="x", key="org id", partitions=1))) for e in events])
    print(f"{len(requests) * per:,} alert events in {len(requests)} requests of {per}, one request at a time")
    lines = ["| Way | Per request | Events/s | Client CPU s per 1k | Broker CPU s per 1k |", "|---|---|---|---|---|"]
    async with bench_infra() as (kafka, _admin):
        for _ in range(repeat):
            for batch_bytes in (DEFAULT_BATCH, BATCH_BYTES):
                for batched in (False, True):
                    for linger_ms in lingers:
                        lines.append(await one_way(kafka, requests, batch_bytes, batched, linger_ms))
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=5000)
    parser.add_argument("per_request", nargs="?", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--lingers", default=str(LINGER_MS), help=f"producer linger_ms values to compare, comma-separated ({LINGER_MS})"
    )
    args = parser.parse_args()
    uvloop.run(main(args.n, args.per_request, args.repeat, [int(v) for v in args.lingers.split(",")]))
