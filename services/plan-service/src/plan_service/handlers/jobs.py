"""Scheduled use cases: trial expiry, legacy retirement and its warnings. Safe with several instances.

Each job locks the organisations it works on with `FOR UPDATE SKIP LOCKED` and the domain re-checks
their state, so a second instance (or a second run) finds nothing left to do. Anything overdue, e.g.
after downtime, is done on the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

from care_schemas.topics import PLAN_EVENTS
from carekit.outbox import enqueue
from plan_service.adapters import postgres as repo
from plan_service.adapters.metrics import RETIREMENT_NOTICES
from plan_service.domain import retirement, trial
from plan_service.domain.events import retirement_notice
from plan_service.handlers.plans import Clock, commit_change

log = logging.getLogger(__name__)
BATCH = 100


@dataclass
class Ran:
    trials_ended: int = 0
    retired: int = 0
    warned: int = 0


async def expire_trials(pool: asyncpg.Pool, clock: Clock) -> int:
    done = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = clock()
            states = await repo.lock_due_trials(conn, due, BATCH)
            now = max(clock(), due)  # after the locks: a change committed meanwhile is never dated after this one
            for state in states:
                change = trial.decide_expiry(state, now)
                if change is not None:
                    await commit_change(conn, change)
                    done += 1
        if len(states) < BATCH:
            return done


async def retire_legacy(pool: asyncpg.Pool, clock: Clock) -> int:
    done = 0
    while plans := retirement.retired_plans(due := clock()):
        async with pool.acquire() as conn, conn.transaction():
            states = await repo.lock_on_plans(conn, plans, BATCH)
            now = max(clock(), due)  # never before the instant the rows were chosen for (a clock stepping back)
            for state in states:
                change = retirement.decide_retirement(state, now)
                if change is not None:
                    await commit_change(conn, change)
                    done += 1
        if len(states) < BATCH:
            break
    return done


async def send_warnings(pool: asyncpg.Pool, clock: Clock) -> int:
    done = 0
    for plan, days in retirement.plans_in_warning(clock()).items():
        while True:
            async with pool.acquire() as conn, conn.transaction():
                states = await repo.lock_unwarned(conn, plan, days, BATCH)
                now = clock()
                for state in states:
                    event = retirement_notice(state.org_id, plan, days, now)
                    if await repo.record_notice(conn, state.org_id, plan, days, event.id, now):
                        await enqueue(conn, PLAN_EVENTS, state.org_id, event)
                        RETIREMENT_NOTICES.labels(str(days)).inc()
                        done += 1
            if len(states) < BATCH:
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
    )
