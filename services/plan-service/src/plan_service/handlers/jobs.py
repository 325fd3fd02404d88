"""Scheduled use cases: trial expiry, legacy retirement and its warnings. Safe with several instances.

Each job locks the organisations it works on with `FOR UPDATE SKIP LOCKED` and the domain re-checks
their state, so a second instance (or a second run) finds nothing left to do. Anything overdue, e.g.
after downtime, is done on the next run. Each organisation is processed in a savepoint: one that can never be
processed is parked with its reason (carekit.parking) and the job goes on with the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import asyncpg

from care_schemas.catalogue import PlanCode
from care_schemas.topics import PLAN_EVENTS
from carekit.db import by_key_connection
from carekit.outbox import enqueue
from carekit.parking import Isolation
from plan_service.adapters import postgres as repo
from plan_service.adapters.metrics import RETIREMENT_NOTICES
from plan_service.domain import retirement, trial
from plan_service.domain.events import retirement_notice
from plan_service.handlers.notices import remind_trials
from plan_service.handlers.plans import Clock, commit_change

log = logging.getLogger(__name__)
BATCH = 100


@dataclass
class Ran:
    trials_ended: int = 0
    retired: int = 0
    warned: int = 0
    reminded: int = 0


# one name per job: the loop name under which an organisation it cannot process is parked (GET /v1/ops/parked)
TRIAL_EXPIRY = Isolation("trial-expiry")
RETIREMENT = Isolation("legacy-retirement")
WARNINGS = Isolation("retirement-warnings")


async def _expire(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> bool:
    change = trial.decide_expiry(repo.org_of(row), now)
    if change is not None:
        await commit_change(conn, change)
    return change is not None


async def _retire(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> bool:
    change = retirement.decide_retirement(repo.org_of(row), now)
    if change is not None:
        await commit_change(conn, change)
    return change is not None


async def _warn(conn: asyncpg.Connection, org_id: str, plan: PlanCode, days: int, now: datetime) -> bool:
    event = retirement_notice(org_id, plan, days, now)
    if not await repo.record_notice(conn, org_id, plan, days, event.id, now):
        return False
    await enqueue(conn, PLAN_EVENTS, org_id, event)
    RETIREMENT_NOTICES.labels(str(days)).inc()
    return True


async def expire_trials(pool: asyncpg.Pool, clock: Clock) -> int:
    done = 0
    while True:
        async with by_key_connection(pool) as conn, conn.transaction():
            due = clock()
            rows = await repo.lock_due_trials(conn, due, BATCH, TRIAL_EXPIRY.loop)
            now = max(clock(), due)  # after the locks: a change committed meanwhile is never dated after this one
            for row in rows:
                done += bool(await TRIAL_EXPIRY.run(conn, row["org_id"], partial(_expire, conn, row, now)))
        if len(rows) < BATCH:
            return done


async def retire_legacy(pool: asyncpg.Pool, clock: Clock) -> int:
    done = 0
    while plans := retirement.retired_plans(due := clock()):
        async with by_key_connection(pool) as conn, conn.transaction():
            rows = await repo.lock_on_plans(conn, plans, BATCH, RETIREMENT.loop)
            now = max(clock(), due)  # never before the instant the rows were chosen for (a clock stepping back)
            for row in rows:
                done += bool(await RETIREMENT.run(conn, row["org_id"], partial(_retire, conn, row, now)))
        if len(rows) < BATCH:
            break
    return done


async def send_warnings(pool: asyncpg.Pool, clock: Clock) -> int:
    done = 0
    for plan, days in retirement.plans_in_warning(clock()).items():
        while True:
            async with by_key_connection(pool) as conn, conn.transaction():
                rows = await repo.lock_unwarned(conn, plan, days, BATCH, WARNINGS.loop)
                now = clock()
                for row in rows:
                    org = row["org_id"]
                    done += bool(await WARNINGS.run(conn, org, partial(_warn, conn, org, plan, days, now)))
            if len(rows) < BATCH:
                break
    return done


async def run_due(pool: asyncpg.Pool, clock: Clock) -> Ran:
    """Everything due by `clock()`, including anything overdue; the clock is read again for every batch.

    A run over many organisations takes a while: reading the clock once would date its last changes
    before changes the organisations' owners made in the meantime (history out of order, `since` going back).
    """
    return Ran(
        trials_ended=await expire_trials(pool, clock),
        retired=await retire_legacy(pool, clock),
        warned=await send_warnings(pool, clock),
        reminded=await remind_trials(pool, clock),
    )
