"""On real Postgres: the scheduler's jobs, which run every tick over every organisation, read what they need however
many organisations, notices and reminders there are, whatever the statistics said when their statements were
planned (an ANALYZE that found the tables empty, as on a new deployment: Postgres plans a prepared statement once
for all after five runs, and keeps that plan)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio

from carekit_testing import entries_read_by, migrated_pool
from plan_service.app import MIGRATIONS
from plan_service.domain import trial
from plan_service.handlers import jobs

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

# legacy_basic retired in February 2025; legacy_enterprise retires on 2026-01-15, its 30-day warning is due
NOW = datetime(2025, 12, 20, 10, tzinfo=UTC)
TABLES = ("orgs", "parked", "retirement_notices", "trial_reminders")


@pytest_asyncio.fixture(loop_scope="session")
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database_url, MIGRATIONS) as p:
        yield p


async def _due(pool: asyncpg.Pool, name: str) -> None:
    """One organisation for each job: a trial that ended, one ending in two days, one on a retired plan, one on a
    plan in its warning."""
    ends = [NOW - timedelta(hours=1), NOW + timedelta(days=2)]
    await pool.executemany(
        "INSERT INTO orgs (org_id, plan, since, trial_started_at, trial_ends_at, trial_return_plan, trial_status)"
        " VALUES ($1, 'developer', $2, $2, $3, 'basic', 'active')",
        [(f"{name}-trial-{i}", end - timedelta(days=trial.TRIAL_DAYS), end) for i, end in enumerate(ends)],
    )
    await pool.executemany(
        "INSERT INTO orgs (org_id, plan, since) VALUES ($1, $2, $3)",
        [(f"{name}-{plan}", plan, NOW - timedelta(days=400)) for plan in ("legacy_basic", "legacy_enterprise")],
    )


async def test_the_jobs_read_only_the_organisations_they_move_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """Planned after an ANALYZE that found the tables empty, ten ticks after 20,000 organisations with nothing due,
    20,000 notices and reminders sent to others and 20,000 other loops' parked records read the tables whole on
    every tick, several times over (the joins with parked, the notices and the reminders, even by key): 7,708,252
    rows and index entries."""
    await pool.execute(f"ANALYZE {', '.join(TABLES)}")

    async def ticks(prefix: str) -> None:
        for n in range(10):
            await _due(pool, f"{prefix}{n}")
            ran = await jobs.run_due(one, lambda: NOW)
            assert ran == jobs.Ran(trials_ended=1, retired=1, warned=1, reminded=1)

    await ticks("small-")
    await pool.execute(
        "INSERT INTO orgs (org_id, plan, since, trial_started_at, trial_ends_at, trial_return_plan, trial_status)"
        " SELECT 'other-' || i, 'basic', $1::timestamptz, t, t + interval '30 days', 'basic', s"
        " FROM generate_series(1, 20000) AS i, LATERAL (SELECT CASE WHEN i % 2 = 0 THEN $1::timestamptz END AS t,"
        " CASE WHEN i % 2 = 0 THEN 'ended' END AS s) AS ended",
        NOW - timedelta(days=200),
    )
    await pool.execute(
        "INSERT INTO retirement_notices (org_id, legacy_plan, days_before, sent_at, event_id)"
        " SELECT 'gone-' || i, 'legacy_enterprise', 30, $1, 'n-' || i FROM generate_series(1, 20000) AS i",
        NOW,
    )
    await pool.execute(
        "INSERT INTO trial_reminders (org_id, trial_started_at, days_before, sent_at, event_id)"
        " SELECT 'gone-' || i, $1, 3, $1, 'r-' || i FROM generate_series(1, 20000) AS i",
        NOW - timedelta(days=200),
    )
    await pool.execute(
        "INSERT INTO parked (loop, key, reason) SELECT 'another-loop', 'k' || i, 'r'"
        " FROM generate_series(1, 20000) AS i"
    )
    read = await entries_read_by(pool, one, TABLES, lambda: ticks("grown-"))

    assert read < 2_000, read
