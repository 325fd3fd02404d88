"""publish_all against a real broker: once a topic's partitions are known, runs of one key go out as batches, and a
consumer sees exactly what one publish per event would have given it (partition, order, key, header)."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from care_schemas.topics import Topic
from carekit.kafka import BATCH_BYTES, CONTENT_TYPE, Publishers, ensure_topics, make_broker, partition_counts

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

PARTITIONS = 6


async def records(bootstrap: str, topic: str, expected: int) -> dict[int, list[tuple[bytes, bytes, str]]]:
    """Every record of the topic by partition, in order: (key, value, content-type header)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        seen: dict[int, list[tuple[bytes, bytes, str]]] = {}
        count = 0
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                for m in messages:
                    header = dict(m.headers).get("content-type", b"").decode()
                    seen.setdefault(tp.partition, []).append((m.key or b"", m.value or b"", header))
                    count += 1
            if count >= expected:
                break
        return seen
    finally:
        await consumer.stop()


async def published(bootstrap: str, topic: Topic, items: list[tuple[str, bytes]], *, batched: bool) -> None:
    broker = make_broker(bootstrap, client_id="tests")
    publishers = Publishers(broker, (topic,))
    await broker.start()
    try:
        if batched:
            counts = await partition_counts(bootstrap, [topic.name])
            assert counts == {topic.name: PARTITIONS}
            publishers.route_by(counts)
        await publishers[topic].publish_all(items)
    finally:
        await broker.stop()


async def test_batches_of_one_key_land_where_and_as_one_publish_per_event_would(
    kafka_bootstrap: str, unique: str
) -> None:
    # runs of one key (as an HTTP request of one organisation), keys coming back, and a run too big for one batch
    big = b"x" * (BATCH_BYTES // 3)
    items = (
        [(f"org-a-{unique}", f'{{"n": {i}}}'.encode()) for i in range(40)]
        + [(f"org-b-{unique}", f'{{"n": {i}}}'.encode()) for i in range(40, 45)]
        + [(f"org-a-{unique}", f'{{"n": {i}}}'.encode()) for i in range(45, 50)]
        + [(f"org-c-{unique}", big + str(i).encode()) for i in range(5)]
        + [(f"org-{i}-{unique}", f'{{"n": {100 + i}}}'.encode()) for i in range(20)]
    )
    one_by_one = Topic(name=f"test.publish.single.{unique}", key="org id", partitions=PARTITIONS)
    batched = Topic(name=f"test.publish.batched.{unique}", key="org id", partitions=PARTITIONS)
    await ensure_topics(kafka_bootstrap, (one_by_one, batched))

    await published(kafka_bootstrap, one_by_one, items, batched=False)
    await published(kafka_bootstrap, batched, items, batched=True)

    expected = await records(kafka_bootstrap, one_by_one.name, len(items))
    got = await records(kafka_bootstrap, batched.name, len(items))
    assert sum(map(len, expected.values())) == len(items)
    assert len(expected) > 1  # the keys spread over several partitions
    assert got == expected  # same partition for each key, same order, same keys, values and header
    assert {header for rows in got.values() for _, _, header in rows} == {CONTENT_TYPE}


async def test_a_topic_the_broker_does_not_know_has_no_partition_count(kafka_bootstrap: str, unique: str) -> None:
    known = Topic(name=f"test.publish.known.{unique}", key="org id", partitions=3)
    await ensure_topics(kafka_bootstrap, (known,))
    counts = await partition_counts(kafka_bootstrap, [known.name, f"test.publish.missing.{unique}"])
    assert counts == {known.name: 3}  # the missing one keeps publishing one event at a time


async def test_a_batch_that_does_not_fit_the_producer_is_published_record_by_record(
    kafka_bootstrap: str, unique: str
) -> None:
    # the producer takes batches of 16 KiB, but publish_all is told 64 KiB: every batch overflows on the way
    topic = Topic(name=f"test.publish.overflow.{unique}", key="org id", partitions=PARTITIONS)
    await ensure_topics(kafka_bootstrap, (topic,))
    items = [(f"org-{unique}", f'{{"n": {i}, "pad": "{"p" * 900}"}}'.encode()) for i in range(60)]
    broker = KafkaBroker(kafka_bootstrap, acks="all", enable_idempotence=True, max_batch_size=16 * 1024)
    publishers = Publishers(broker, (topic,))
    await broker.start()
    try:
        publishers[topic].route_by(PARTITIONS, batch_bytes=64 * 1024)
        await publishers[topic].publish_all(items)
    finally:
        await broker.stop()
    got = await records(kafka_bootstrap, topic.name, len(items))
    assert [value for rows in got.values() for _, value, _ in rows] == [payload for _, payload in items]
