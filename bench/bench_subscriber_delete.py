"""Deleting a subscriber with a long history, and the alerts of its organisation that arrive meanwhile.

Each run takes a fresh database with notify-service's migrations: one organisation on Enterprise with two webhook
subscribers, and N past notifications of the first (delivered, firing and resolved, as 30 days of a busy target
leave them). Then it deletes that subscriber (`adapters.subscribers.delete`, what `DELETE /v1/subscribers/{id}`
calls) and, once the delete holds the organisation's intake lock, stores 50 alerts of the same organisation
(`repository.take_alone`, the HTTP intake's call), with the service's purge of deleted subscribers' notifications
running as in the service (`handlers.purges.run_purges`, batches of `RETENTION_BATCH`, 1000). Prints, per run: how
long the delete's call took, how long the organisation's intake waited meanwhile, and when the deleted subscriber's
last notification was gone.

Run: `uv run python bench/bench_subscriber_delete.py [N] [--repeat K]` (N 200,000 by default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import asyncpg
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from care_schemas.events.alert import AlertFiring, alert_event
from carekit.bootstrap import migrations_of
from carekit_testing import create_database, eventually, migrated_pool
from notify_service.adapters import repository, subscribers
from notify_service.handlers import purges
from tests.receivers import bench_infra, sample_alert

ORG = "org-delete"
ALERTS = 50
BATCH = 1000  # RETENTION_BATCH's default


async def _setup(pool: asyncpg.Pool, n: int) -> None:
    entitlements = json.dumps({"alert_channels": ["webhook"]})
    await pool.execute(
        "INSERT INTO plan_projection (org_id, plan, entitlements, version, event_id) VALUES ($1, 'enterprise', $2, 1,"
        " $1)",
        ORG,
        entitlements,
    )
    await pool.executemany(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by, group_by, part,"
        " target_key) VALUES ($1, $2, 'proj-1', 'webhook', 'bench', '\\x00', '{}'::jsonb, 'bench', ARRAY['...'], $3,"
        " $1)",
        [("sub-gone", ORG, 1), ("sub-kept", ORG, 2)],
    )
    await pool.execute(
        """
        INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,
                                   alert, state, part, delivered_at, created_at, repeated)
        SELECT 'sub-gone', $1, 'webhook', 'g-' || (i / 2), 'past-' || (i / 2),
               CASE WHEN i % 2 = 0 THEN 'firing' ELSE 'resolved' END, 'critical',
               now() - interval '30 days' + (i / 2) * interval '1 second',
               '{"labels": {"alertname": "past"}, "annotations": {}}'::jsonb, 'delivered', 1,
               now() - interval '29 days', now() - interval '29 days', i % 2 = 0
        FROM generate_series(0, $2 - 1) i
        """,
        ORG,
        n,
    )
    await pool.execute("VACUUM ANALYZE notifications")


async def _held(pool: asyncpg.Pool) -> bool:
    """Whether some transaction holds an advisory lock (the delete's, of the organisation's intake)."""
    return bool(await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"))


async def _gone(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM notifications WHERE subscriber_id = 'sub-gone')")


async def one_run(admin: str, n: int) -> tuple[float, float, float]:
    db = await create_database(admin, "bench_delete")
    async with migrated_pool(db, migrations_of("notify_service")) as pool:
        await _setup(pool, n)
        made = (alert_event(sample_alert(ORG, f"new-{i}"), source="/bench") for i in range(ALERTS))
        events = [e for e in made if isinstance(e, AlertFiring)]
        purging = asyncio.create_task(purges.run_purges(pool, BATCH, 600.0))
        started = time.perf_counter()
        deleting = asyncio.create_task(subscribers.delete(pool, ORG, "sub-gone"))
        held = asyncio.create_task(eventually(lambda: _held(pool), timeout_s=60, interval_s=0.001))
        await asyncio.wait([deleting, held], return_when=asyncio.FIRST_COMPLETED)
        held.cancel()
        intake_started = time.perf_counter()
        async with pool.acquire() as conn:
            taken = await repository.take_alone(conn, events, basic=["webhook"], window_s=0.0)
        intake_s = time.perf_counter() - intake_started
        if not await deleting:
            raise SystemExit("bench_subscriber_delete: the subscriber was not found")
        delete_s = time.perf_counter() - started
        await eventually(lambda: _gone(pool), timeout_s=600, interval_s=0.01)
        gone_s = time.perf_counter() - started
        purging.cancel()
        await asyncio.gather(purging, return_exceptions=True)
        if taken is None or taken.queued != ALERTS:
            raise SystemExit(f"bench_subscriber_delete: the intake queued {taken and taken.queued} of {ALERTS}")
    return delete_s, intake_s, gone_s


async def main(n: int, repeat: int) -> None:
    print(f"a subscriber with {n:,} past notifications deleted; {ALERTS} alerts of its organisation meanwhile")
    print("| Run | Delete's call | The organisation's intake meanwhile | Its last notification gone |")
    print("|---|---|---|---|")
    async with bench_infra() as (_, admin):
        for r in range(1, repeat + 1):
            delete_s, intake_s, gone_s = await one_run(admin, n)
            row = [f"{s * 1000:,.0f} ms" for s in (delete_s, intake_s, gone_s)]
            print(f"| {r} | {' | '.join(row)} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if min(args.n, args.repeat) < 1:
        parser.error("N and --repeat must be at least 1")
    uvloop.run(main(args.n, args.repeat))
