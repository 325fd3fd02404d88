"""SupportPlanChanged carries what consumers need: full entitlements, previous plan, reason, version, trial end."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import Actor, ChangeReason, plan_event_adapter
from plan_service.domain import events, transitions, trial
from plan_service.domain.model import OrgPlan

pytestmark = pytest.mark.unit
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OWNER = Actor(sub="alice", role="org_owner")


def test_change_event_carries_full_entitlements_previous_plan_and_version() -> None:
    state = OrgPlan(org_id="org-9", plan=PlanCode.DEVELOPER, since=NOW, version=4, timezone="Europe/Berlin")
    event = events.plan_changed(transitions.decide_change(state, PlanCode.ENTERPRISE, OWNER, NOW))
    d = event.data
    assert (event.subject, event.source, event.type) == ("org-9", "/plan-service", "care.plan.changed.v1")
    assert (d.plan, d.previous_plan, d.reason, d.version) == (
        PlanCode.ENTERPRISE,
        PlanCode.DEVELOPER,
        ChangeReason.SELF_SERVICE,
        5,
    )
    assert d.entitlements == catalogue().get(PlanCode.ENTERPRISE).entitlements
    assert (d.actor, d.timezone, d.effective_at, d.trial_ends_at, d.tam) == (OWNER, "Europe/Berlin", NOW, None, None)
    assert plan_event_adapter.validate_json(event.to_json_bytes()) == event


def test_trial_start_event_says_when_the_trial_ends() -> None:
    state = OrgPlan(org_id="org-9", plan=PlanCode.BASIC, since=NOW, version=1)
    event = events.plan_changed(trial.decide_start(state, OWNER, NOW))
    assert event.data.reason is ChangeReason.TRIAL_START
    assert event.data.trial_ends_at == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def test_retirement_notice_names_the_instant_and_the_target() -> None:
    notice = events.retirement_notice("org-3", PlanCode.LEGACY_PREMIUM, 7, NOW)
    assert (notice.data.retires_at, notice.data.days_before, notice.data.target_plan) == (
        datetime(2026, 1, 15, tzinfo=UTC),
        7,
        PlanCode.BASIC,
    )
