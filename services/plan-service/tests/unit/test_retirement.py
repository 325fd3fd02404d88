"""Legacy retirement: the exact instant whatever the zone, one warning at a time, catch-up after downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import Actor, ChangeReason
from plan_service.domain import retirement
from plan_service.domain.model import Conflict, Invalid, OrgPlan

pytestmark = pytest.mark.unit
ENT_RETIRES = datetime(2026, 1, 15, tzinfo=UTC)
STD_RETIRES = datetime(2025, 2, 17, tzinfo=UTC)
ADMIN = Actor(sub="root", role="admin")


def org(plan: PlanCode, timezone: str = "UTC", version: int = 1) -> OrgPlan:
    return OrgPlan(
        org_id="org-1", plan=plan, since=datetime(2020, 1, 1, tzinfo=UTC), version=version, timezone=timezone
    )


@pytest.mark.parametrize(
    ("plan", "at"),
    [
        (PlanCode.LEGACY_BASIC, STD_RETIRES),
        (PlanCode.LEGACY_STANDARD, STD_RETIRES),
        (PlanCode.LEGACY_ENTERPRISE, ENT_RETIRES),
        (PlanCode.LEGACY_PREMIUM, ENT_RETIRES),
    ],
)
def test_legacy_plan_retires_at_its_exact_instant(plan: PlanCode, at: datetime) -> None:
    assert retirement.decide_retirement(org(plan), at - timedelta(microseconds=1)) is None
    change = retirement.decide_retirement(org(plan), at)
    assert change is not None
    assert (change.after.plan, change.reason) == (PlanCode.BASIC, ChangeReason.LEGACY_RETIREMENT)
    assert change.after.version == 2


def test_retirement_instant_is_midnight_utc_whatever_the_orgs_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    state = org(PlanCode.LEGACY_ENTERPRISE, timezone="Asia/Tokyo")
    # 08:59 on 15 January in Tokyo is still 14 January in UTC
    assert retirement.decide_retirement(state, datetime(2026, 1, 15, 8, 59, tzinfo=tokyo)) is None
    assert retirement.decide_retirement(state, datetime(2026, 1, 15, 9, 0, tzinfo=tokyo)) is not None


def test_retirement_moves_to_basic_never_to_a_nearest_plan_and_drops_the_legacy_tam() -> None:
    change = retirement.decide_retirement(org(PlanCode.LEGACY_PREMIUM), ENT_RETIRES)
    assert change is not None
    assert change.after.plan is PlanCode.BASIC
    assert change.after.tam is None


def test_retirement_caught_up_long_after_downtime_and_a_second_run_changes_nothing() -> None:
    change = retirement.decide_retirement(org(PlanCode.LEGACY_ENTERPRISE), ENT_RETIRES + timedelta(days=200))
    assert change is not None
    assert retirement.decide_retirement(change.after, ENT_RETIRES + timedelta(days=201)) is None


@pytest.mark.parametrize("plan", [PlanCode.BASIC, PlanCode.DEVELOPER, PlanCode.ENTERPRISE, PlanCode.PREMIUM])
def test_connected_care_plans_never_retire(plan: PlanCode) -> None:
    assert retirement.decide_retirement(org(plan), datetime(2099, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (timedelta(days=31), None),
        (timedelta(days=30, microseconds=1), None),
        (timedelta(days=30), 30),
        (timedelta(days=8), 30),
        (timedelta(days=7), 7),
        (timedelta(days=1), 7),
        (timedelta(microseconds=1), 7),
        (timedelta(0), None),  # retired: no warning any more, the move happens instead
        (-timedelta(days=3), None),
    ],
)
def test_warning_due_is_the_latest_whose_moment_passed(before: timedelta, expected: int | None) -> None:
    assert retirement.warning_due(PlanCode.LEGACY_ENTERPRISE, ENT_RETIRES - before) == expected


def test_plans_in_warning_lists_only_plans_not_yet_retired() -> None:
    assert retirement.plans_in_warning(ENT_RETIRES - timedelta(days=10)) == {
        PlanCode.LEGACY_ENTERPRISE: 30,
        PlanCode.LEGACY_PREMIUM: 30,
    }
    assert retirement.retired_plans(ENT_RETIRES - timedelta(days=10)) == [
        PlanCode.LEGACY_BASIC,
        PlanCode.LEGACY_STANDARD,
    ]


def test_import_seeds_a_fresh_org_once_and_refuses_one_with_history() -> None:
    fresh = org(PlanCode.BASIC, version=0)
    since = datetime(2021, 5, 1, tzinfo=UTC)
    change = retirement.decide_import(fresh, PlanCode.LEGACY_PREMIUM, since, ADMIN, ENT_RETIRES - timedelta(days=60))
    assert change is not None
    assert (change.after.plan, change.after.since, change.reason) == (
        PlanCode.LEGACY_PREMIUM,
        since,
        ChangeReason.ADMIN,
    )
    assert retirement.decide_import(change.after, PlanCode.LEGACY_PREMIUM, None, ADMIN, ENT_RETIRES) is None
    with pytest.raises(Conflict, match="already has a plan history"):
        retirement.decide_import(org(PlanCode.ENTERPRISE, version=2), PlanCode.LEGACY_PREMIUM, None, ADMIN, ENT_RETIRES)
    with pytest.raises(Invalid, match="is not a legacy plan"):
        retirement.decide_import(fresh, PlanCode.ENTERPRISE, None, ADMIN, ENT_RETIRES)


def test_import_with_a_since_in_the_future_is_refused_saying_what_to_give() -> None:
    fresh = org(PlanCode.BASIC, version=0)
    now = ENT_RETIRES - timedelta(days=60)
    with pytest.raises(Invalid, match="since 2030-01-01T00:00:00\\+00:00 is in the future; give the date"):
        retirement.decide_import(fresh, PlanCode.LEGACY_PREMIUM, datetime(2030, 1, 1, tzinfo=UTC), ADMIN, now)
    assert retirement.decide_import(fresh, PlanCode.LEGACY_PREMIUM, now, ADMIN, now) is not None
