"""Benchmark 1: alert intake, alert.events.v1 -> durable notification rows, beside a bare aiokafka baseline.

Both read the same N alerts (100 organisations, one email subscriber each) from the topic and write the same
rows; the rate is N / (last row's commit time - first row's), taken from Postgres. notify-service is stopped
while the alerts are published, so publishing speed does not limit it; grouping is set to an hour so no
delivery runs during the measurement. Run: `uv run python bench/bench_notify_intake.py [N]`.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from care_schemas.events.alert import alert_event, alert_event_adapter
from care_schemas.topics import ALERT_EVENTS
from carekit.db import create_pool, migrate
from carekit_testing import ServiceProcess, create_database
from notify_service.adapters.repository import take_in
from notify_service.adapters.secrets import SecretBox
from notify_service.app import MIGRATIONS
from tests.receivers import (
    NOTIFY_SECRET_KEY,
    bench_infra,
    caught_up,
    notify_env,
    publish,
    sample_alert,
    skip_history,
)

ORGS = 100


async def add_subscribers(db: str, run: str) -> None:
    box = SecretBox(NOTIFY_SECRET_KEY)
    conn = await asyncpg.connect(db)
    try:
        await conn.executemany(
            "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
            " VALUES ($1, $2, 'proj-1', 'email', 'ops', $3, '{}'::jsonb, 'bench')",
            [(f"sub-{run}-{i}", f"org-{run}-{i}", box.seal({"address": f"ops{i}@example.com"})) for i in range(ORGS)],
        )
    finally:
        await conn.close()


async def rate(db: str, run: str, n: int, timeout_s: float = 300) -> float:
    """Wait for n rows of this run, then n / (span of their insert times)."""
    conn = await asyncpg.connect(db)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            count = await conn.fetchval("SELECT count(*) FROM notifications WHERE org_id LIKE $1", f"org-{run}-%")
            if count >= n:
                span = await conn.fetchval(
                    "SELECT extract(epoch FROM max(created_at) - min(created_at)) FROM notifications"
                    " WHERE org_id LIKE $1",
                    f"org-{run}-%",
                )
                return n / max(float(span), 1e-3)
            await asyncio.sleep(0.2)
        raise SystemExit(f"only {count} of {n} rows after {timeout_s}s")
    finally:
        await conn.close()


async def end_offsets(kafka: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka)
    await consumer.start()
    try:
        parts = [TopicPartition(ALERT_EVENTS.name, p) for p in consumer.partitions_for_topic(ALERT_EVENTS.name) or []]
        if not parts:
            parts = [TopicPartition(ALERT_EVENTS.name, p) for p in range(ALERT_EVENTS.partitions)]
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(parts)
        return offsets
    finally:
        await consumer.stop()


async def baseline(kafka: str, db: str, start: dict[TopicPartition, int], n: int, run: str) -> None:
    """A plain aiokafka consumer doing the same validation and the same database write, committing per batch."""
    pool = await create_pool(db, max_size=4)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka, group_id=f"bench-bare-{run}", enable_auto_commit=False, max_poll_records=2000
    )
    await consumer.start()
    consumer.assign(list(start))
    for tp, offset in start.items():
        consumer.seek(tp, offset)
    mine = 0
    try:
        while mine < n:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            events = [alert_event_adapter.validate_json(r.value) for recs in batches.values() for r in recs]
            if not events:
                continue
            async with pool.acquire() as conn, conn.transaction():
                await take_in(conn, events, basic=["email"], window_s=3600)
            await consumer.commit()
            mine += sum(1 for e in events if e.data.org_id.startswith(f"org-{run}-"))
    finally:
        await consumer.stop()
        await pool.close()


async def main(n: int) -> None:
    async with bench_infra() as (kafka, admin):
        await measure(kafka, admin, n)


async def measure(kafka: str, admin: str, n: int) -> None:
    run = uuid.uuid4().hex[:6]
    logs = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    notify_db = await create_database(admin, "bench_notify")
    bare_db = await create_database(admin, "bench_bare")
    pool = await create_pool(bare_db, max_size=2)
    await migrate(pool, MIGRATIONS)
    await pool.close()

    env = notify_env(kafka, notify_db, f"bench-{run}", GROUPING_WINDOW_S="3600", LOG_LEVEL="WARNING")
    await skip_history(kafka, f"bench-{run}")
    service = ServiceProcess("notify_service", env)
    service.start(logs)
    await service.wait_ready()
    for db in (notify_db, bare_db):
        await add_subscribers(db, run)
    await caught_up(notify_db)  # what is already on the topic is not part of the figure
    service.stop()

    start = await end_offsets(kafka)
    alerts: list[Any] = [sample_alert(f"org-{run}-{i % ORGS}", f"fp-{run}-{i}") for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, 5000):
        chunk = alerts[i : i + 5000]
        by_org: dict[str, list[Any]] = {}
        for a in chunk:
            by_org.setdefault(a.org_id, []).append(alert_event(a, source="/bench"))
        await asyncio.gather(*(publish(kafka, ALERT_EVENTS.name, org, *evs) for org, evs in by_org.items()))
    print(f"published {n} alerts in {time.perf_counter() - t0:.1f}s")

    await baseline(kafka, bare_db, start, n, run)
    bare = await rate(bare_db, run, n)

    service = ServiceProcess("notify_service", env)
    service.start(logs)
    try:
        await service.wait_ready()
        ours = await rate(notify_db, run, n)
    finally:
        service.stop()
    print(f"intake: notify-service {ours:,.0f} alerts/s to durable notification rows (issue 14 asks for 18,000/s)")
    print(f"intake: bare aiokafka consumer, same validation and SQL: {bare:,.0f} alerts/s")
    print(f"intake: ratio notify/bare = {ours / bare:.2f}")


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
