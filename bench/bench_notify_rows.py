"""Postgres's share of a notification's life on the delivery path, through notify-service's own statements:

- intake: the intake's transaction (`repository.take_alone`, the call both intakes make: the alerts' state and one
  notification per subscriber, inserted as being sent by this process's dispatcher, in one round trip that is the
  whole transaction), in batches of `--batch` alerts (50: a request of the comparison with Alertmanager at 5,000
  alerts; 1,000: a Kafka poll's part);
- delivered: the recorder's transaction (`queue.record`, the attempt and the notification marked delivered), in
  batches of RECORD as the recorder writes them under load.

Each run takes a fresh database with the service's migrations. With `--variant SQL`, runs alternate between the
schema as migrated (A) and the schema after SQL (B), to weigh an index or a setting on the same machine minutes apart.
Prints milliseconds and Postgres CPU (its backends for this database) per 1,000 notifications.

Run: `uv run python bench/bench_notify_rows.py [N] [--repeat K] [--batch B] [--variant SQL]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.am_harness import PostgresBackends
from care_schemas.events.alert import alert_event
from carekit.bootstrap import migrations_of
from carekit_testing import create_database, migrated_pool
from notify_service.adapters import queue, repository
from notify_service.adapters.queue import Claimed, Handing, Result
from notify_service.domain.subscribers import PARTITIONS
from tests.receivers import bench_infra, sample_alert

RECORD = 35  # results in one recorder transaction by default (its mean batch in a 20,000-alert run, pg_stat_statements)
TARGETS = 100
ME = "bench-rows"


@dataclass
class Step:
    wall_s: float = 0.0
    cpu_s: float = 0.0


@contextlib.asynccontextmanager
async def measured(backends: PostgresBackends) -> AsyncIterator[Step]:
    """The block's wall time and its database's Postgres CPU, filled in when it ends."""
    step = Step()
    backends.start()
    started = time.perf_counter()
    try:
        yield step
    finally:
        step.wall_s, step.cpu_s = time.perf_counter() - started, await backends.stop()


async def _subscribers(pool: asyncpg.Pool) -> None:
    """TARGETS webhook subscribers, one organisation each, on Enterprise, spread over the delivery partitions."""
    entitlements = json.dumps({"alert_channels": ["webhook", "slack", "lark", "zoom", "pagerduty", "flashduty"]})
    await pool.executemany(
        "INSERT INTO plan_projection (org_id, plan, entitlements, version, event_id) VALUES ($1, 'enterprise', $2, 1,"
        " $1)",
        [(f"org-{t}", entitlements) for t in range(TARGETS)],
    )
    await pool.executemany(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by, group_by, part,"
        " target_key) VALUES ($1, $2, 'proj-1', 'webhook', 'bench', '\\x00', '{}'::jsonb, 'bench', ARRAY['...'], $3,"
        " $1)",
        [(f"sub-{t}", f"org-{t}", t % PARTITIONS) for t in range(TARGETS)],
    )


async def one_run(admin: str, n: int, variant: str | None, record: int, batch: int) -> tuple[Step, Step]:
    db = await create_database(admin, "bench_rows")
    async with migrated_pool(db, migrations_of("notify_service")) as pool:
        if variant:
            try:
                await pool.execute(variant)
            except asyncpg.PostgresError as exc:
                raise SystemExit(f"bench_notify_rows: --variant failed: {type(exc).__name__}: {exc}") from None
        await _subscribers(pool)
        await pool.execute("ANALYZE")
        events = [alert_event(sample_alert(f"org-{i % TARGETS}", f"fp-{i}"), source="/bench") for i in range(n)]
        handing = [Handing(ME, list(range(PARTITIONS)), [])]
        backends = PostgresBackends(urlsplit(db).path.lstrip("/"))

        handed: list[Claimed] = []
        async with measured(backends) as intake:
            for k in range(0, n, batch):
                async with pool.acquire() as conn:
                    taken = await repository.take_alone(
                        conn, events[k : k + batch], basic=["webhook"], window_s=0.0, handing=handing
                    )
                if taken is None:
                    raise SystemExit("bench_notify_rows: the intake's one call declined the batch")
                handed += taken.handed
        if len(handed) != n:
            raise SystemExit(f"bench_notify_rows: {len(handed)} of {n} notifications were handed; expected all")

        results = [Result([row], "delivered", 200, "ok", 1.0) for row in handed]
        async with measured(backends) as delivered:
            for k in range(0, n, record):
                await queue.record(pool, results[k : k + record], ME)
        left = await pool.fetchval("SELECT count(*) FROM notifications WHERE state <> 'delivered'")
        if left:
            raise SystemExit(f"bench_notify_rows: {left} notifications were not marked delivered")
    return intake, delivered


async def main(n: int, repeat: int, variant: str | None, record: int, batch: int) -> None:
    shapes = [("A (as migrated)", None)] + ([("B (--variant)", variant)] if variant else [])
    print(f"{n:,} notifications over {TARGETS} subscribers; intake in batches of {batch}, records of {record}")
    if variant:
        print(f"B: {variant}")
    print("| Run | Schema | Intake ms per 1k | Intake Postgres CPU s per 1k | Delivered ms per 1k |", end="")
    print(" Delivered Postgres CPU s per 1k |\n|---|---|---|---|---|---|")
    async with bench_infra() as (_, admin):
        for r in range(1, repeat + 1):
            for name, sql in shapes:
                intake, delivered = await one_run(admin, n, sql, record, batch)
                k = n / 1000
                print(
                    f"| {r} | {name} | {intake.wall_s / k * 1000:.1f} | {intake.cpu_s / k:.3f} |"
                    f" {delivered.wall_s / k * 1000:.1f} | {delivered.cpu_s / k:.3f} |",
                    flush=True,
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--batch", type=int, default=50, help="alerts in one intake call (default 50)")
    parser.add_argument("--variant", help="SQL run after the migrations for the B runs")
    parser.add_argument("--record", type=int, default=RECORD, help="results in one recorder transaction")
    args = parser.parse_args()
    if min(args.n, args.repeat, args.record, args.batch) < 1:
        parser.error("N, --repeat and --record must be at least 1")
    uvloop.run(main(args.n, args.repeat, args.variant, args.record, args.batch))
