"""Benchmark 2: delivery, queued notifications -> POSTs to local webhook receivers across many targets,
beside a bare baseline: a plain aiohttp client posting the same payloads to the same receiver.

N pending webhook notifications over T subscribers are written while notify-service is stopped; then it
starts and the receiver measures N / (last POST - first POST). Per-target rate limits are lifted so the
figure is the pipeline's own (claim, render, send, classify, record in Postgres).
Run: `uv run python bench/bench_notify_delivery.py [N] [T]`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import uvloop
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from carekit_testing import ServiceProcess, create_database
from notify_service.adapters.secrets import SecretBox
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

CONCURRENCY = 64


class Counter:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.done = asyncio.Event()
        self.expect = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.times.append(time.perf_counter())
        if len(self.times) >= self.expect:
            self.done.set()
        return web.Response(text="ok")

    def reset(self, expect: int) -> None:
        self.times, self.expect = [], expect
        self.done.clear()

    def rate(self) -> float:
        return len(self.times) / max(self.times[-1] - self.times[0], 1e-3)


async def prepare(db: str, run: str, base: str, n: int, targets: int, due_in_s: float = 0.0) -> None:
    """T webhook subscribers and N pending notifications spread over them, due `due_in_s` from now; each alert is
    its own group (group_by ['...']: one request per notification, as the bare client posts them)."""
    box = SecretBox(NOTIFY_SECRET_KEY)
    conn = await asyncpg.connect(db)
    try:
        await conn.executemany(
            "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by, group_by)"
            " VALUES ($1, $2, 'proj-1', 'webhook', 'bench', $3, '{}'::jsonb, 'bench', ARRAY['...'])",
            [(f"sub-{run}-{t}", f"org-{run}", box.seal({"url": f"{base}/t{t}"})) for t in range(targets)],
        )
        alerts = [sample_alert(f"org-{run}", f"fp-{run}-{i}") for i in range(n)]
        await conn.execute(
            """
            INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,
                                       alert, next_attempt_at, window_from)
            SELECT s, $2, 'webhook', s || '/=' || f, f, 'firing', 'critical', now(), a::jsonb,
                   now() + make_interval(secs => $5), now() + make_interval(secs => $5)
            FROM unnest($1::text[], $3::text[], $4::text[]) AS t(s, f, a)
            """,
            [f"sub-{run}-{i % targets}" for i in range(n)],
            f"org-{run}",
            [a.fingerprint for a in alerts],
            [a.model_dump_json() for a in alerts],
            due_in_s,
        )
    finally:
        await conn.close()


def rendered_bodies(n: int) -> list[bytes]:
    """N webhook bodies as notify-service renders them (Alertmanager v4, one alert each)."""
    return [
        json.dumps(
            render_webhook([sample_alert("org", f"fp-{i}")], receiver="bench", external_url="x", group_by=["..."])
        ).encode()
        for i in range(n)
    ]


async def post_all(base: str, bodies: list[bytes], targets: int) -> None:
    """Plain aiohttp client: every body to base/t<i % targets>, CONCURRENCY in flight."""
    slots = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession() as http:

        async def post(i: int) -> None:
            async with slots, http.post(f"{base}/t{i % targets}", data=bodies[i]) as r:
                await r.read()

        await asyncio.gather(*(post(i) for i in range(len(bodies))))


async def baseline(base: str, n: int, targets: int) -> None:
    """Plain aiohttp client: the same rendered payloads, the same receiver, CONCURRENCY in flight."""
    await post_all(base, rendered_bodies(n), targets)


async def main(n: int, targets: int) -> None:
    run = uuid.uuid4().hex[:6]
    counter = Counter()
    async with bench_infra() as (kafka, admin), serve_handler(counter.handle) as base:
        await measure(kafka, admin, run, counter, base, n, targets)


async def measure(kafka: str, admin: str, run: str, counter: Counter, base: str, n: int, targets: int) -> None:
    counter.reset(n)
    await baseline(base, n, targets)
    bare = counter.rate()

    db = await create_database(admin, "bench_delivery")
    env = notify_env(
        kafka,
        db,
        f"bench-{run}",
        GROUPING_WINDOW_S="0",
        WEBHOOK_RATE_PER_S="100000",
        WEBHOOK_BURST="1000",
        DELIVERY_CONCURRENCY=str(CONCURRENCY),
        LOG_LEVEL="WARNING",
    )
    logs = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    await skip_history(kafka, f"bench-{run}")
    service = ServiceProcess("notify_service", env)
    service.start(logs)
    await service.wait_ready()
    await caught_up(db)
    service.stop()
    await prepare(db, run, base, n, targets)
    counter.reset(n)
    service = ServiceProcess("notify_service", env)
    service.start(logs)
    try:
        async with asyncio.timeout(600):
            await counter.done.wait()
        ours = counter.rate()
        conn = await asyncpg.connect(db)
        deadline = time.monotonic() + 60
        while await conn.fetchval("SELECT count(*) FROM notifications WHERE state <> 'delivered'"):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        recorded = await conn.fetchval("SELECT count(*) FROM delivery_attempts")
        await conn.close()
    finally:
        service.stop()
    print(f"delivery: notify-service {ours:,.0f} notifications/s to {targets} local webhook targets (target 1,500/s)")
    print(f"delivery: {recorded:,} attempts recorded for {n:,} notifications")
    print(f"delivery: bare aiohttp client, same payloads and receiver, {CONCURRENCY} in flight: {bare:,.0f} POST/s")
    print(f"delivery: ratio notify/bare = {ours / bare:.2f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    uvloop.run(main(args[0] if args else 20_000, args[1] if len(args) > 1 else 100))
