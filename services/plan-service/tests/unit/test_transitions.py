"""The transition rules as a table: who may move where, and what is refused with which message."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import Actor, ChangeReason, Tam
from plan_service.domain import transitions
from plan_service.domain.model import Conflict, Invalid, OrgPlan, Trial, TrialStatus

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
OWNER = Actor(sub="alice", role="org_owner")
B, D, E, P = PlanCode.BASIC, PlanCode.DEVELOPER, PlanCode.ENTERPRISE, PlanCode.PREMIUM


def org(plan: PlanCode, *, trial: bool = False, version: int = 3) -> OrgPlan:
    state = OrgPlan(org_id="org-1", plan=plan, since=NOW - timedelta(days=40), version=version)
    if trial:
        start = NOW - timedelta(days=3)
        state = replace(state, trial=Trial(start, start + timedelta(days=30), B, TrialStatus.ACTIVE))
    return state


# (current plan, on an active trial, target) -> (new plan, reason, trial status after) or the refusal
TABLE = [
    (B, False, D, (D, ChangeReason.SELF_SERVICE, None)),
    (B, False, E, (E, ChangeReason.SELF_SERVICE, None)),
    (D, False, B, (B, ChangeReason.SELF_SERVICE, None)),
    (D, False, E, (E, ChangeReason.SELF_SERVICE, None)),
    (E, False, B, (B, ChangeReason.SELF_SERVICE, None)),
    (E, False, D, (D, ChangeReason.SELF_SERVICE, None)),
    (P, False, E, (E, ChangeReason.SELF_SERVICE, None)),
    (P, False, D, (D, ChangeReason.SELF_SERVICE, None)),
    (P, False, B, (B, ChangeReason.SELF_SERVICE, None)),
    (PlanCode.LEGACY_ENTERPRISE, False, E, (E, ChangeReason.SELF_SERVICE, None)),
    (PlanCode.LEGACY_PREMIUM, False, B, (B, ChangeReason.SELF_SERVICE, None)),
    (D, True, D, (D, ChangeReason.TRIAL_CONVERSION, TrialStatus.CONVERTED)),
    (D, True, E, (E, ChangeReason.SELF_SERVICE, TrialStatus.SUPERSEDED)),
    (D, True, B, (B, ChangeReason.SELF_SERVICE, TrialStatus.SUPERSEDED)),
    (B, False, B, "already on Basic"),
    (D, False, D, "already on Developer"),
    (E, False, E, "already on Enterprise"),
]


@pytest.mark.parametrize(("current", "on_trial", "target", "expected"), TABLE)
def test_self_service_change_follows_the_table(
    current: PlanCode,
    on_trial: bool,
    target: PlanCode,
    expected: tuple[PlanCode, ChangeReason, TrialStatus | None] | str,
) -> None:
    state = org(current, trial=on_trial)
    if isinstance(expected, str):
        with pytest.raises(Conflict, match=expected):
            transitions.decide_change(state, target, OWNER, NOW)
        return
    plan, reason, trial_status = expected
    change = transitions.decide_change(state, target, OWNER, NOW)
    assert (change.after.plan, change.reason) == (plan, reason)
    assert change.after.version == state.version + 1
    if trial_status is None:
        assert change.after.trial is None
    else:
        assert change.after.trial is not None
        assert change.after.trial.status is trial_status
    assert change.before is state


@pytest.mark.parametrize(("target", "sales"), [(B, False), (D, False), (E, False), (P, True)])
def test_only_premium_goes_through_sales(target: PlanCode, sales: bool) -> None:
    assert transitions.needs_sales(target) is sales


def test_sales_approved_premium_is_recorded_as_sales_approval() -> None:
    change = transitions.decide_change(org(E), P, Actor(sub="sam", role="sales"), NOW)
    assert (change.after.plan, change.reason, change.actor.role) == (P, ChangeReason.SALES_APPROVAL, "sales")


def test_a_change_made_by_an_admin_is_recorded_as_admin_not_self_service() -> None:
    change = transitions.decide_change(org(B), E, Actor(sub="root", role="admin"), NOW)
    assert (change.after.plan, change.reason, change.actor.role) == (E, ChangeReason.ADMIN, "admin")
    approved = transitions.decide_change(org(E), P, Actor(sub="root", role="admin"), NOW)
    assert approved.reason is ChangeReason.SALES_APPROVAL


def test_a_new_change_takes_effect_now_and_keeps_since_when_the_plan_is_unchanged() -> None:
    change = transitions.decide_change(org(B), D, OWNER, NOW)
    assert change.after.since == NOW
    converted = transitions.decide_change(org(D, trial=True), D, OWNER, NOW)
    assert converted.after.since == org(D).since


def test_premium_request_for_an_org_already_on_premium_is_refused() -> None:
    with pytest.raises(Conflict, match="already on Premium"):
        transitions.check_sales_request(org(P), P)


@pytest.mark.parametrize(("raw", "expected"), [("basic", B), ("Developer", D), (" enterprise ", E), ("premium", P)])
def test_plan_codes_are_read_leniently(raw: str, expected: PlanCode) -> None:
    assert transitions.parse_target(raw) is expected


@pytest.mark.parametrize("raw", ["gold", "", "legacy-premium"])
def test_unknown_plan_is_refused_listing_the_valid_ones(raw: str) -> None:
    with pytest.raises(Invalid, match="choose one of: basic, developer, enterprise, premium"):
        transitions.parse_target(raw)


@pytest.mark.parametrize("raw", ["legacy_basic", "legacy_standard", "legacy_enterprise", "legacy_premium"])
def test_legacy_plans_cannot_be_bought(raw: str) -> None:
    with pytest.raises(Invalid, match=r"legacy plan and cannot be bought since 2025-02-17; choose one of: basic"):
        transitions.parse_target(raw)


def test_leaving_premium_drops_the_tam_and_keeps_it_otherwise() -> None:
    premium = replace(org(P), tam=Tam(name="Tia", email="tia@vendor.example"))
    assert transitions.decide_change(premium, E, OWNER, NOW).after.tam is None
    legacy = replace(org(PlanCode.LEGACY_PREMIUM), tam=Tam(name="Tia", email="tia@vendor.example"))
    assert transitions.decide_change(legacy, P, OWNER, NOW).after.tam == legacy.tam
