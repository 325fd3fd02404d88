"""Developer trial arithmetic: 30 days in the organisation's zone, one per org, back to the previous plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import Actor, ChangeReason
from plan_service.domain import trial
from plan_service.domain.model import Conflict, OrgPlan, TrialStatus

pytestmark = pytest.mark.unit
OWNER = Actor(sub="alice", role="org_owner")


def org(plan: PlanCode = PlanCode.BASIC, timezone: str = "UTC") -> OrgPlan:
    return OrgPlan(org_id="org-1", plan=plan, since=datetime(2025, 1, 1, tzinfo=UTC), version=1, timezone=timezone)


@pytest.mark.parametrize(
    ("start", "timezone", "end"),
    [
        # plain UTC: exactly 30 x 24 hours
        (datetime(2026, 6, 1, 12, 0, tzinfo=UTC), "UTC", datetime(2026, 7, 1, 12, 0, tzinfo=UTC)),
        # Berlin springs forward on 2026-03-29: 10:00 CET start ends 10:00 CEST, one hour fewer in UTC
        (datetime(2026, 3, 10, 9, 0, tzinfo=UTC), "Europe/Berlin", datetime(2026, 4, 9, 8, 0, tzinfo=UTC)),
        # New York falls back on 2026-11-01: 09:00 EDT start ends 09:00 EST, one hour more in UTC
        (datetime(2026, 10, 20, 13, 0, tzinfo=UTC), "America/New_York", datetime(2026, 11, 19, 14, 0, tzinfo=UTC)),
        # Tokyo has no DST: same as UTC arithmetic across a month and a year end
        (datetime(2026, 12, 20, 15, 30, tzinfo=UTC), "Asia/Tokyo", datetime(2027, 1, 19, 15, 30, tzinfo=UTC)),
    ],
)
def test_trial_ends_thirty_days_later_at_the_same_local_time(start: datetime, timezone: str, end: datetime) -> None:
    assert trial.trial_end(start, timezone) == end


def test_starting_the_trial_moves_to_developer_and_remembers_the_previous_plan() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    change = trial.decide_start(org(), OWNER, now)
    assert (change.after.plan, change.reason, change.after.version) == (PlanCode.DEVELOPER, ChangeReason.TRIAL_START, 2)
    assert change.after.trial is not None
    assert change.after.trial.return_plan is PlanCode.BASIC
    assert change.after.trial.ends_at == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def test_second_trial_is_refused_with_the_date_of_the_first_in_the_orgs_zone() -> None:
    # 2026-06-01 22:00 UTC is already 2 June in Tokyo
    first = trial.decide_start(org(timezone="Asia/Tokyo"), OWNER, datetime(2026, 6, 1, 22, 0, tzinfo=UTC)).after
    back_on_basic = replace(first, plan=PlanCode.BASIC)
    with pytest.raises(Conflict, match="already used its Developer trial on 2026-06-02"):
        trial.decide_start(back_on_basic, OWNER, datetime(2026, 9, 1, tzinfo=UTC))


@pytest.mark.parametrize("plan", [PlanCode.DEVELOPER, PlanCode.ENTERPRISE, PlanCode.PREMIUM, PlanCode.LEGACY_STANDARD])
def test_trial_is_refused_on_plans_that_already_include_developer(plan: PlanCode) -> None:
    with pytest.raises(Conflict, match="the Developer trial is for organisations on Basic"):
        trial.decide_start(org(plan), OWNER, datetime(2026, 6, 1, tzinfo=UTC))


def test_trial_ends_at_its_exact_instant_and_returns_to_the_previous_plan() -> None:
    on_trial = trial.decide_start(org(), OWNER, datetime(2026, 6, 1, 12, 0, tzinfo=UTC)).after
    end = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert trial.decide_expiry(on_trial, end - timedelta(microseconds=1)) is None
    change = trial.decide_expiry(on_trial, end)
    assert change is not None
    assert (change.after.plan, change.reason, change.actor.role) == (PlanCode.BASIC, ChangeReason.TRIAL_END, "system")
    assert change.after.trial is not None
    assert change.after.trial.status is TrialStatus.ENDED
    assert trial.decide_expiry(change.after, end + timedelta(days=1)) is None, "a second run changes nothing"


def test_overdue_trial_is_caught_up_later() -> None:
    on_trial = trial.decide_start(org(), OWNER, datetime(2026, 6, 1, 12, 0, tzinfo=UTC)).after
    change = trial.decide_expiry(on_trial, datetime(2026, 8, 15, tzinfo=UTC))
    assert change is not None
    assert change.after.plan is PlanCode.BASIC


def test_converted_or_superseded_trial_does_not_expire() -> None:
    on_trial = trial.decide_start(org(), OWNER, datetime(2026, 6, 1, 12, 0, tzinfo=UTC)).after
    assert on_trial.trial is not None
    for status in (TrialStatus.CONVERTED, TrialStatus.SUPERSEDED):
        state = replace(on_trial, trial=replace(on_trial.trial, status=status))
        assert trial.decide_expiry(state, datetime(2026, 12, 1, tzinfo=UTC)) is None


def test_trial_from_a_legacy_plan_retired_meanwhile_ends_on_basic() -> None:
    state = org(PlanCode.LEGACY_BASIC)
    on_trial = trial.decide_start(state, OWNER, datetime(2025, 2, 1, tzinfo=UTC)).after
    change = trial.decide_expiry(on_trial, datetime(2025, 3, 3, tzinfo=UTC))
    assert change is not None
    assert change.after.plan is PlanCode.BASIC
