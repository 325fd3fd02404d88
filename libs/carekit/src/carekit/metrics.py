"""The metrics every service exports about itself (on /metrics, Prometheus text format), and the loop that
samples what only the database knows (outbox backlog and age).

Service-specific metrics live with the service (plan changes, breaches, deliveries); these are the ones the
skeleton gives every service, so one set of alerting rules (ops/prometheus/) watches them all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carekit.db import by_key_connection
from carekit.polling import poll_forever

log = logging.getLogger(__name__)
SAMPLE_EVERY_S = 5.0

OUTBOX_BACKLOG = Gauge("care_outbox_backlog", "Outbox rows not yet published to Kafka")
OUTBOX_AGE = Gauge("care_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (0 when none)")
OUTBOX_PUBLISHED = Counter("care_outbox_published", "Outbox rows published to Kafka", ["topic"])
CONSUMED = Counter("care_consumer_records", "Records a consumer handled and committed", ["group", "topic"])
CONSUMER_LAG = Gauge(
    "care_consumer_lag",
    "Records behind the end of the partition after the last one handled",
    ["group", "topic", "partition"],
)
CONSUMER_FAILURES = Counter(
    "care_consumer_failures", "Handler failures by kind (carekit.faults: outage, permanent, unknown)", ["group", "kind"]
)
DEAD_LETTERS = Counter("care_dead_letters", "Records a consumer published to the dead-letter topic", ["group", "topic"])
LOOP_UP = Gauge("care_background_loop_up", "1 while a background loop runs, 0 once it stopped", ["loop"])
HTTP_REQUESTS = Counter(
    "care_http_requests", "HTTP requests answered, by route and status class", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram("care_http_request_seconds", "Time to answer an HTTP request", ["method", "route"])


def observe_consumed(group: str, consumer: Any, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
    """Count handled records and set each partition's lag from the consumer's high watermark."""
    last: dict[tuple[str, int], int] = {}
    counts: dict[str, int] = {}
    for r in records:
        counts[r.topic] = counts.get(r.topic, 0) + 1
        last[(r.topic, r.partition)] = max(last.get((r.topic, r.partition), -1), r.offset)
    for topic, n in counts.items():
        CONSUMED.labels(group, topic).inc(n)
    highwater = getattr(consumer, "highwater", None)
    if highwater is None:
        return
    for (topic, partition), offset in last.items():
        end = highwater(TopicPartition(topic, partition))
        if end is not None:
            CONSUMER_LAG.labels(group, topic, str(partition)).set(max(0, end - offset - 1))


async def sample_outbox(pool: asyncpg.Pool) -> None:
    """The backlog and the age of its oldest row, counted by the index of unsent rows whatever the statistics
    (`carekit.db.by_key_connection`): the outbox keeps every sent row for days, and a plan made after an ANALYZE
    that found it nearly empty (a new deployment) read it whole every few seconds as it grew: ten samples after
    20,000 sent rows read 200,030 rows; by key, 30 (the unsent rows' entries; test_outbox_and_projection.py)."""
    async with by_key_connection(pool) as conn:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age"
            " FROM outbox WHERE sent_at IS NULL"
        )
    assert row is not None
    OUTBOX_BACKLOG.set(row["n"])
    OUTBOX_AGE.set(float(row["age"]))


async def sample_forever(pool: Callable[[], asyncpg.Pool], every_s: float = SAMPLE_EVERY_S) -> None:
    """Sample the outbox every few seconds (an outage leaves the last values and logs)."""
    await poll_forever(lambda: sample_outbox(pool()), every_s=every_s, what="metrics sampling", log=log)


def watched_loop(name: str, run: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """`run`, with `care_background_loop_up{loop}` 1 while it runs."""

    async def watched() -> None:
        LOOP_UP.labels(name).set(1)
        try:
            await run()
        finally:
            LOOP_UP.labels(name).set(0)

    return watched


class HttpMetrics:
    """ASGI middleware: requests by route template (not raw path: no unbounded labels) and status class."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope.get("method", "?")
            HTTP_REQUESTS.labels(method, template, f"{status // 100}xx").inc()
            HTTP_SECONDS.labels(method, template).observe(time.perf_counter() - started)
