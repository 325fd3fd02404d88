"""Kafka adapters: topics created from the catalogue, the process's one broker, typed publishers."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner
from faststream.kafka import KafkaBroker, KafkaResponse
from faststream.kafka.exceptions import BatchBufferOverflowException

from care_schemas.envelope import CloudEvent
from care_schemas.topics import ALL_TOPICS, EVENT_TYPES, Topic
from carekit.refusals import TooLarge

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json"
STRUCTURED: list[tuple[str, bytes]] = [("content-type", CONTENT_TYPE.encode())]
"""The header of every record we publish: CloudEvents' Kafka protocol binding, structured mode."""
HEADERS = {"content-type": CONTENT_TYPE}  # the same, as FastStream's publishers take it


async def ensure_topics(bootstrap: str, topics: tuple[Topic, ...] = ALL_TOPICS) -> list[str]:
    """Create missing topics with their catalogued partitions and retention; return the created names."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=1,
                topic_configs={"retention.ms": str(t.retention_ms)},
            )
            for t in topics
            if t.name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently by another process")
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def partition_counts(bootstrap: str, names: Sequence[str]) -> dict[str, int]:
    """How many partitions each of these topics has on the broker (a topic it does not know is left out)."""
    if not names:
        return {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(names))
        return {d["topic"]: len(d["partitions"]) for d in described if not d.get("error_code") and d["partitions"]}
    finally:
        await admin.close()


BATCH_BYTES = 256 * 1024
"""Most bytes the producer puts in one record batch of a partition (aiokafka's default is 16 KiB). Fifty alerts of
one organisation are about 60 KiB: with 16 KiB they left in four batches, one round trip after another (aiokafka
has one batch of a partition in flight at a time); with 256 KiB they leave in one: publishing them took 5.3 ms
instead of 8.7 and half the broker's CPU (bench/README.md). Far under the broker's `message.max.bytes`
(1 MiB); a single larger record still goes in a batch of its own, as before."""


LINGER_MS = 0
"""How long the producer waits for more records before it sends a batch. The HTTP intake publishes a request's
alerts with FastStream's `publish_batch`, which never closes aiokafka's batch, so with any linger every request
waited that long before its alerts left: with 2 ms, 4.8-5.0 ms a request of 50 alerts against 1.9-2.0 ms with 0,
and 0.028-0.030 client CPU s per 1k alerts against 0.018-0.020 (bench/README.md). Records sent while a batch of
their partition is in flight still gather into the next one, so batches stay full under load."""


def make_broker(bootstrap: str, *, client_id: str, request_timeout_ms: int = 30_000) -> KafkaBroker:
    """The one broker of a process: its consumers and its producer (acks=all with idempotence, where aiokafka
    defaults to acks=1; batches of up to BATCH_BYTES; LINGER_MS). FastStream passes these settings to the aiokafka
    producer it starts (tests/contract checks them)."""
    return KafkaBroker(
        bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=LINGER_MS,
        max_batch_size=BATCH_BYTES,
        request_timeout_ms=request_timeout_ms,
        client_id=client_id,
        logger=logging.getLogger(f"{client_id}.kafka"),
    )


def encode(event: CloudEvent[Any], topic: Topic) -> bytes:
    """The event as a structured-mode record value; TooLarge (permanent) when the topic would refuse it."""
    value = event.to_json_bytes()
    if len(value) > topic.max_message_bytes:
        raise TooLarge(
            f"the event is {len(value):,} bytes; {topic.name} takes at most {topic.max_message_bytes:,}",
            field=f"event {event.subject}",
        )
    return value


class EventPublisher:
    """A typed publisher for one topic: CloudEvents of that topic's union, keyed as the catalogue says."""

    def __init__(self, broker: KafkaBroker, topic: Topic) -> None:
        self.topic = topic
        self._broker = broker
        self.partitions: int | None = None  # the topic's partitions on the broker, once known (see `route_by`)
        self._batch_bytes = BATCH_BYTES
        self._publisher = broker.publisher(
            topic.name,
            title=f"{topic.name}:publish",
            description=f"CloudEvents 1.0 (structured JSON), key: {topic.key}",
            schema=_union_type(topic),
        )

    async def publish(self, event: CloudEvent[Any], key: str) -> None:
        """Publish one event and wait for the broker's acknowledgement (all in-sync replicas)."""
        await self._publisher.publish(encode(event, self.topic), key=key.encode(), headers=HEADERS)

    async def send(self, key: str, payload: bytes) -> asyncio.Future[Any]:
        """Queue one serialized event; await the returned future for the broker's answer (the outbox relay)."""
        return await self._send_one(key.encode(), payload)

    async def _send_one(self, key: bytes, payload: bytes) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self._publisher.publish(payload, key=key, headers=HEADERS, no_confirm=True)
        return future

    def route_by(self, partitions: int, batch_bytes: int = BATCH_BYTES) -> None:
        """The topic has this many partitions on the broker (read at start): from now on `publish_all` sends each
        run of one key as batches of at most `batch_bytes` (the producer's `max_batch_size`) to the partition the
        producer would choose for that key."""
        self.partitions, self._batch_bytes = partitions, batch_bytes

    async def publish_all(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Publish (key, serialized event) pairs in order, then wait for every acknowledgement. Once the topic's
        partitions are known, consecutive events of one key go as one batch (one call instead of one per event:
        publishing an event alone costs FastStream several times what appending it to a batch does); each lands
        in the partition, order and form a publish of its own would give it."""
        if self.partitions is None:
            pending = [await self._send_one(key.encode(), payload) for key, payload in items]
        else:
            pending = []
            for key, run in itertools.groupby(items, key=itemgetter(0)):
                encoded = key.encode()
                partition = PARTITIONER(encoded, range(self.partitions), ())
                for batch in _batches((payload for _, payload in run), self._batch_bytes):
                    try:
                        sent = await self._broker.publish_batch(
                            *(KafkaResponse(payload, key=encoded) for payload in batch),
                            topic=self.topic.name,
                            partition=partition,
                            headers=HEADERS,
                            no_confirm=True,
                        )
                    except BatchBufferOverflowException:  # the size estimate fell short: nothing was queued
                        log.warning(
                            "a batch of %d records did not fit %d bytes; publishing them one by one",
                            len(batch),
                            self._batch_bytes,
                        )
                        pending += [await self._send_one(encoded, payload) for payload in batch]
                        continue
                    pending.append(sent)
        await asyncio.gather(*pending)


PARTITIONER = DefaultPartitioner()  # the producer's own: murmur2 of the key, as Kafka's Java client
RECORD_OVERHEAD = 256  # bytes a record adds to its value in a batch, at most (lengths, key, headers), with room


def _batches(payloads: Iterable[bytes], limit: int) -> Iterator[list[bytes]]:
    """Payloads in order, cut into batches of at most `limit` bytes (a larger payload goes alone)."""
    batch: list[bytes] = []
    size = 0
    for payload in payloads:
        cost = len(payload) + RECORD_OVERHEAD
        if batch and size + cost > limit:
            yield batch
            batch, size = [], 0
        batch.append(payload)
        size += cost
    if batch:
        yield batch


def _union_type(topic: Topic) -> Any:
    """The topic's event union, for the AsyncAPI document FastStream builds from the broker (None: not catalogued)."""
    return EVENT_TYPES.get(topic.name)


class Publishers:
    """The typed publishers of one service, by topic name (what its outbox relay and endpoints may publish to)."""

    def __init__(self, broker: KafkaBroker, topics: Sequence[Topic]) -> None:
        self._by_name = {t.name: EventPublisher(broker, t) for t in topics}

    def __getitem__(self, topic: Topic) -> EventPublisher:
        try:
            return self._by_name[topic.name]
        except KeyError:
            raise LookupError(f"no publisher for {topic.name}; declare it in the service's app.py") from None

    def named(self, name: str) -> EventPublisher:
        return self._by_name[name]

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_name)

    def route_by(self, partitions: Mapping[str, int]) -> None:
        """The partitions of the topics published to, as the broker has them (see EventPublisher.route_by)."""
        for name, publisher in self._by_name.items():
            if name in partitions:
                publisher.route_by(partitions[name])
