"""Benchmark 3: latency from an alert published on alert.events.v1 to the webhook receiver's POST, p50/p99, at
200 alerts/s with grouping off, beside a bare baseline in the same run: a plain aiokafka consumer doing the same
database write and then POSTing with a plain aiohttp client.
Run: `uv run python bench/bench_notify_latency.py [rate_per_s] [seconds]`.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import uvloop
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from care_schemas.catalogue import catalogue
from care_schemas.events.alert import Alert, alert_event, alert_event_adapter
from care_schemas.topics import ALERT_EVENTS
from carekit.db import create_pool, migrate
from carekit_testing import ServiceProcess, create_database
from notify_service.adapters.repository import take_in
from notify_service.adapters.secrets import SecretBox
from notify_service.app import MIGRATIONS
from notify_service.domain.alertmanager import render_webhook
from tests.receivers import (
    NOTIFY_SECRET_KEY,
    bench_infra,
    caught_up,
    notify_env,
    sample_alert,
    serve_handler,
    skip_history,
)

ORGS = 20


class Arrivals:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not body.get("dryRun"):
            self.at.setdefault(body["alerts"][0]["fingerprint"], time.perf_counter())
        return web.Response(text="ok")


async def prepare(db: str, prefix: str, base: str) -> None:
    """One entitled webhook subscriber per organisation (Enterprise in the plan projection)."""
    box = SecretBox(NOTIFY_SECRET_KEY)
    enterprise = catalogue().get("enterprise").entitlements.model_dump(mode="json")
    conn = await asyncpg.connect(db)
    try:
        await conn.executemany(
            "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
            " VALUES ($1, $2, 'proj-1', 'webhook', 'bench', $3, '{}'::jsonb, 'bench')",
            [(f"sub-{prefix}-{i}", f"{prefix}-{i}", box.seal({"url": f"{base}/o{i}"})) for i in range(ORGS)],
        )
        await conn.executemany(
            "INSERT INTO plan_projection (org_id, plan, entitlements, version, event_id)"
            " VALUES ($1, 'enterprise', $2::jsonb, 1, $3)",
            [(f"{prefix}-{i}", json.dumps(enterprise), f"ev-{prefix}-{i}") for i in range(ORGS)],
        )
    finally:
        await conn.close()


async def drive(kafka: str, prefix: str, rate: float, seconds: float) -> dict[str, float]:
    """Publish `rate` alerts a second for `seconds`; return fingerprint -> publish time."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=0)
    await producer.start()
    sent: dict[str, float] = {}
    try:
        total = int(rate * seconds)
        start = time.perf_counter()
        for i in range(total):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            alert = sample_alert(f"{prefix}-{i % ORGS}", f"{prefix}-fp-{i}")
            sent[alert.fingerprint] = time.perf_counter()
            await producer.send(
                ALERT_EVENTS.name, alert_event(alert, source="/bench").to_json_bytes(), key=alert.org_id.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def summary(sent: dict[str, float], arrivals: Arrivals) -> tuple[float, float, int]:
    lat = sorted((arrivals.at[f] - t) * 1000 for f, t in sent.items() if f in arrivals.at)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    return statistics.median(lat) if lat else float("nan"), p99, len(lat)


async def wait_all(sent: dict[str, float], arrivals: Arrivals, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while any(f not in arrivals.at for f in sent) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)


async def baseline(kafka: str, db: str, base: str, stop: asyncio.Event) -> None:
    """Bare: aiokafka getmany -> validate -> the same SQL in one transaction -> commit -> POST -> mark delivered."""
    pool = await create_pool(db, max_size=4)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka, enable_auto_commit=False, group_id=f"bare-{uuid.uuid4().hex[:6]}"
    )
    await consumer.start()
    parts = [TopicPartition(ALERT_EVENTS.name, p) for p in range(ALERT_EVENTS.partitions)]
    consumer.assign(parts)
    await consumer.seek_to_end(*parts)
    try:
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=20, max_records=2000)
                events = [alert_event_adapter.validate_json(r.value) for recs in batches.values() for r in recs]
                if not events:
                    continue
                async with pool.acquire() as conn, conn.transaction():
                    await take_in(conn, events, basic=["email"], window_s=0)
                    rows = await conn.fetch(
                        "UPDATE notifications SET state = 'sending' WHERE state = 'pending'"
                        " RETURNING id, subscriber_id, alert"
                    )
                await consumer.commit()

                async def post(row: asyncpg.Record) -> None:
                    org_index = row["subscriber_id"].rsplit("-", 1)[1]
                    alert = Alert.model_validate(row["alert"])
                    body = render_webhook([alert], receiver="bench", external_url="x", group_by=["..."])
                    async with http.post(f"{base}/o{org_index}", json=body) as r:
                        await r.read()

                await asyncio.gather(*(post(r) for r in rows))
                await pool.execute(
                    "UPDATE notifications SET state = 'delivered' WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
                )
    finally:
        await consumer.stop()
        await pool.close()


async def main(rate: float, seconds: float) -> None:
    run = uuid.uuid4().hex[:6]
    arrivals = Arrivals()
    async with bench_infra() as (kafka, admin), serve_handler(arrivals.handle) as base:
        await measure(kafka, admin, run, arrivals, base, rate, seconds)


async def measure(kafka: str, admin: str, run: str, arrivals: Arrivals, base: str, rate: float, seconds: float) -> None:
    bare_db = await create_database(admin, "bench_bare")
    pool = await create_pool(bare_db, max_size=2)
    await migrate(pool, MIGRATIONS)
    await pool.close()
    await prepare(bare_db, f"b{run}", base)
    stop = asyncio.Event()
    task = asyncio.create_task(baseline(kafka, bare_db, base, stop))
    await asyncio.sleep(2)
    sent = await drive(kafka, f"b{run}", rate, seconds)
    await wait_all(sent, arrivals)
    stop.set()
    await task
    bare = summary(sent, arrivals)

    db = await create_database(admin, "bench_latency")
    env = notify_env(kafka, db, f"bench-{run}", GROUPING_WINDOW_S="0", LOG_LEVEL="WARNING", WEBHOOK_RATE_PER_S="1000")
    await skip_history(kafka, f"bench-{run}")
    service = ServiceProcess("notify_service", env)
    service.start(Path(tempfile.mkdtemp(prefix="bench-latency-")))
    try:
        await service.wait_ready()
        await prepare(db, f"n{run}", base)
        await caught_up(db)
        sent = await drive(kafka, f"n{run}", rate, seconds)
        await wait_all(sent, arrivals)
        ours = summary(sent, arrivals)
    finally:
        service.stop()
    print(f"latency at {rate:g} alerts/s for {seconds:g}s, grouping off (publish -> receiver POST):")
    total = int(rate * seconds)
    print(
        f"  notify-service: p50 {ours[0]:.1f} ms, p99 {ours[1]:.1f} ms ({ours[2]} of {total} arrived;"
        " target p99 < 100 ms)"
    )
    print(f"  bare aiokafka + same SQL + aiohttp POST: p50 {bare[0]:.1f} ms, p99 {bare[1]:.1f} ms ({bare[2]} arrived)")


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:]]
    uvloop.run(main(args[0] if args else 200, args[1] if len(args) > 1 else 15))
