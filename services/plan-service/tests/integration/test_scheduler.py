"""The scheduler: trial expiry, legacy retirement at its instant, warnings once, safe with two instances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio
from plan_harness import in_process, settings_for

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import Actor, ChangeReason, PlanRetirementNotice, SupportPlanChanged
from carekit.db import create_pool, migrate
from carekit_testing import FakeClock, PlanTopicReader, create_database, eventually, within
from plan_service import handlers
from plan_service.app import MIGRATIONS
from plan_service.handlers import jobs

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
Auth = Callable[..., dict[str, str]]
ADMIN = Actor(sub="root", role="admin")
OWNER = Actor(sub="alice", role="org_owner")
RETIRES = datetime(2026, 1, 15, tzinfo=UTC)
SEEDED = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session")
async def two_instances(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two pools on one plan-service database: the scheduler of two instances."""
    url = await create_database(database_url, "plan")
    first, second = await create_pool(url), await create_pool(url)
    await migrate(first, MIGRATIONS)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def seed(pool: asyncpg.Pool, unique: str, legacy: int, trials: int) -> tuple[list[str], list[str]]:
    legacy_orgs = [f"leg-{unique}-{i:02}" for i in range(legacy)]
    plans = [PlanCode.LEGACY_ENTERPRISE, PlanCode.LEGACY_PREMIUM]
    await handlers.legacy_import(pool, [(o, plans[i % 2], None) for i, o in enumerate(legacy_orgs)], ADMIN, SEEDED)
    trial_orgs = [f"trial-{unique}-{i:02}" for i in range(trials)]
    for org in trial_orgs:
        await handlers.start_trial(pool, org, OWNER, SEEDED)
    return legacy_orgs, trial_orgs


async def test_two_instances_running_the_jobs_at_once_move_and_warn_each_org_exactly_once(
    two_instances: tuple[asyncpg.Pool, asyncpg.Pool], unique: str
) -> None:
    a, b = two_instances
    legacy_orgs, trial_orgs = await seed(a, unique, legacy=150, trials=30)

    async def both(at: datetime) -> tuple[jobs.Ran, jobs.Ran]:
        first, second = await asyncio.gather(jobs.run_due(a, FakeClock(at)), jobs.run_due(b, FakeClock(at)))
        return first, second

    thirty = await both(RETIRES - timedelta(days=26))
    assert thirty[0].warned + thirty[1].warned == 150
    trials_done = await both(SEEDED + timedelta(days=30))
    assert (trials_done[0].trials_ended + trials_done[1].trials_ended, trials_done[0].warned) == (30, 0)
    seven = await both(RETIRES - timedelta(days=6))
    assert seven[0].warned + seven[1].warned == 150
    assert sum(r.warned for r in await both(RETIRES - timedelta(days=5))) == 0, "each warning once"
    moved = await both(RETIRES)
    assert moved[0].retired + moved[1].retired == 150
    assert all(r.retired == r.trials_ended == r.warned == 0 for r in await both(RETIRES + timedelta(days=1)))

    notices = await a.fetch("SELECT days_before, count(*) AS n FROM retirement_notices GROUP BY 1 ORDER BY 1")
    assert [(r["days_before"], r["n"]) for r in notices] == [(7, 150), (30, 150)]
    per_org = await a.fetch(
        "SELECT org_id, plan, version, (SELECT count(*) FROM plan_history h WHERE h.org_id = o.org_id) AS changes"
        " FROM orgs o ORDER BY org_id"
    )
    assert {(r["plan"], r["version"], r["changes"]) for r in per_org} == {("basic", 2, 2)}
    assert sorted(r["org_id"] for r in per_org) == sorted(legacy_orgs + trial_orgs)
    events = await a.fetch("SELECT event_type, count(*) AS n FROM outbox GROUP BY 1 ORDER BY 1")
    assert [(r["event_type"], r["n"]) for r in events] == [
        ("care.plan.changed.v1", 2 * 180),
        ("care.plan.retirement_notice.v1", 300),
    ]


async def test_jobs_down_through_the_warnings_send_only_the_last_one_then_catch_up_the_move(
    two_instances: tuple[asyncpg.Pool, asyncpg.Pool], unique: str
) -> None:
    pool, _ = two_instances
    [org], _ = await seed(pool, unique, legacy=1, trials=0)
    assert (await jobs.run_due(pool, FakeClock(RETIRES - timedelta(days=3)))).warned == 1
    assert [r["days_before"] for r in await pool.fetch("SELECT days_before FROM retirement_notices")] == [7]
    ran = await jobs.run_due(pool, FakeClock(RETIRES + timedelta(days=40)))
    assert (ran.retired, ran.warned) == (1, 0)
    [entry] = [h for h in (await handlers.plan_view(pool, org, RETIRES))["history"] if h["version"] == 2]
    assert (entry["plan"], entry["reason"], entry["actor"]) == (
        "basic",
        "legacy_retirement",
        {"sub": "plan-service", "role": "system"},
    )
    assert entry["note"] == "Enterprise (legacy) retired at 2026-01-15T00:00:00+00:00"


class Ticking(FakeClock):
    """A clock that moves a second each time it is read, as real time does while a long run goes on."""

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


async def test_a_long_run_dates_each_move_when_it_was_made_not_when_the_run_began(
    two_instances: tuple[asyncpg.Pool, asyncpg.Pool], unique: str
) -> None:
    """Dated at the run's start, the last batches of a long run would read as happening before changes the
    owners made meanwhile: history out of order and `since` going back."""
    pool, _ = two_instances
    await seed(pool, unique, legacy=jobs.BATCH + 50, trials=0)
    clock = Ticking(RETIRES)
    assert (await jobs.run_due(pool, clock)).retired == jobs.BATCH + 50
    moves = await pool.fetch(
        "SELECT effective_at, count(*) AS n FROM plan_history WHERE reason = 'legacy_retirement' GROUP BY 1 ORDER BY 1"
    )
    assert [r["n"] for r in moves] == [jobs.BATCH, 50]
    assert RETIRES < moves[0]["effective_at"] < moves[1]["effective_at"] <= clock.now
    since = await pool.fetch("SELECT DISTINCT since FROM orgs ORDER BY 1")
    assert [r["since"] for r in since] == [r["effective_at"] for r in moves]


class SteppingBack(FakeClock):
    """A wall clock that NTP steps back by two seconds every other read."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.reads = 0

    def __call__(self) -> datetime:
        self.reads += 1
        return self.now - timedelta(seconds=2 * (self.reads % 2 == 0))


async def test_a_clock_stepping_back_across_the_instant_neither_stalls_the_run_nor_dates_a_move_before_it(
    two_instances: tuple[asyncpg.Pool, asyncpg.Pool], unique: str
) -> None:
    pool, _ = two_instances
    await seed(pool, unique, legacy=jobs.BATCH + 10, trials=0)
    ran = await within(jobs.run_due(pool, SteppingBack(RETIRES + timedelta(seconds=1))), 30)
    assert ran.retired == jobs.BATCH + 10
    first = await pool.fetchval("SELECT min(effective_at) FROM plan_history WHERE reason = 'legacy_retirement'")
    assert first >= RETIRES


async def test_scheduler_loop_retires_at_the_instant_and_ends_trials_as_time_moves(
    database_url: str, kafka_bootstrap: str, plan_topic: PlanTopicReader, auth: Auth, unique: str
) -> None:
    clock = FakeClock(RETIRES - timedelta(seconds=2))
    db = await create_database(database_url, "plan")
    settings = settings_for(db, kafka_bootstrap, plan_scheduler_enabled=True, plan_scheduler_interval_s=0.05)
    legacy, on_trial = f"leg-{unique}", f"trial-{unique}"
    async with in_process(settings, clock) as service:
        api, pool = service.client, service.runtime.pool
        imported = await api.post(
            "/v1/admin/legacy-import",
            json=[{"org_id": legacy, "legacy_plan": "legacy_premium"}],
            headers=auth("vendor", "admin"),
        )
        assert imported.status_code == 200, imported.text
        assert (await api.post(f"/v1/orgs/{on_trial}/trial", headers=auth(on_trial, "org_owner"))).status_code == 200

        async def plan_of(org: str) -> str:
            return str((await api.get(f"/v1/orgs/{org}/plan", headers=auth(org, "member"))).json()["plan"])

        async def warned() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM retirement_notices WHERE org_id = $1", legacy))

        await eventually(warned, timeout_s=10)
        await asyncio.sleep(0.3)  # several ticks before the instant: still on the legacy plan
        assert await plan_of(legacy) == "legacy_premium"

        clock.set(RETIRES)
        await eventually(lambda: _is(plan_of(legacy), "basic"), timeout_s=10)
        clock.advance(timedelta(days=45))  # as if the service had been down past the trial's end
        await eventually(lambda: _is(plan_of(on_trial), "basic"), timeout_s=10)

    events = await plan_topic.events(legacy, 3)
    assert [type(e).__name__ for e in events] == ["SupportPlanChanged", "PlanRetirementNotice", "SupportPlanChanged"]
    notice, moved = events[1], events[2]
    assert isinstance(notice, PlanRetirementNotice)
    assert (notice.data.days_before, notice.data.retires_at, notice.data.target_plan) == (7, RETIRES, PlanCode.BASIC)
    assert isinstance(moved, SupportPlanChanged)
    assert (moved.data.plan, moved.data.previous_plan, moved.data.reason, moved.data.version) == (
        PlanCode.BASIC,
        PlanCode.LEGACY_PREMIUM,
        ChangeReason.LEGACY_RETIREMENT,
        2,
    )
    assert moved.data.effective_at == RETIRES
    trial_events = await plan_topic.events(on_trial, 2)
    ended = trial_events[-1]
    assert isinstance(ended, SupportPlanChanged)
    assert (ended.data.reason, ended.data.plan, ended.data.trial_ends_at) == (
        ChangeReason.TRIAL_END,
        PlanCode.BASIC,
        None,
    )


async def _is(value: Awaitable[str], expected: str) -> bool:
    return await value == expected
