"""Kafka adapters: topics created from the catalogue, an idempotent producer, publishing CloudEvents."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from care_schemas.envelope import CloudEvent
from care_schemas.topics import ALL_TOPICS, Topic
from carekit.faults import TooLarge

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/cloudevents+json"
STRUCTURED: list[tuple[str, bytes]] = [("content-type", CONTENT_TYPE.encode())]
"""The header of every record we publish: CloudEvents' Kafka protocol binding, structured mode."""


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


def idempotent_producer(bootstrap: str, *, linger_ms: int = 2, request_timeout_ms: int = 30_000) -> AIOKafkaProducer:
    """A producer with acks=all and idempotence (aiokafka defaults to acks=1)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        request_timeout_ms=request_timeout_ms,
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


async def publish(producer: AIOKafkaProducer, topic: Topic, key: str, event: CloudEvent[Any]) -> asyncio.Future[Any]:
    """Queue one event with the CloudEvents content-type header; await the result for the broker's answer."""
    future: asyncio.Future[Any] = await producer.send(
        topic.name, encode(event, topic), key=key.encode(), headers=STRUCTURED
    )
    return future
