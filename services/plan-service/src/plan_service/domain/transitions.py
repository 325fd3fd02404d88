"""Who may move where: self-service changes, Premium through sales, trial conversion."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import Actor, ChangeReason
from plan_service.domain.model import Change, Conflict, Invalid, OrgPlan, TrialStatus, advance

ADMIN_ROLE = "admin"


def purchasable_codes() -> list[str]:
    return [p.code.value for p in catalogue().connected_care() if p.purchasable]


def parse_target(raw: str) -> PlanCode:
    """The Connected Care plan an organisation asked for; anything else is refused naming the valid codes."""
    valid = ", ".join(purchasable_codes())
    try:
        code = PlanCode(raw.strip().lower())
    except ValueError:
        raise Invalid(f"unknown plan {raw!r}; choose one of: {valid}") from None
    plan = catalogue().get(code)
    if not plan.purchasable:
        since = catalogue().legacy_not_purchasable_from.date().isoformat()
        raise Invalid(f"{plan.name} is a legacy plan and cannot be bought since {since}; choose one of: {valid}")
    return code


def needs_sales(target: PlanCode) -> bool:
    """Moving to a plan that is not self-service (Premium) goes through a sales request."""
    return not catalogue().get(target).self_service


def decide_change(state: OrgPlan, target: PlanCode, actor: Actor, now: datetime, note: str | None = None) -> Change:
    """A self-service move (or a sales-approved one when `actor` approved it); refuses a move to the same plan."""
    trial = state.active_trial
    if target == state.plan:
        if trial is not None and target == PlanCode.DEVELOPER:
            return advance(
                state,
                reason=ChangeReason.TRIAL_CONVERSION,
                actor=actor,
                now=now,
                trial=replace(trial, status=TrialStatus.CONVERTED),
                note=note,
            )
        name = catalogue().get(target).name
        raise Conflict(f"this organisation is already on {name}; choose another plan to change to")
    if needs_sales(target):
        reason = ChangeReason.SALES_APPROVAL
    else:  # history's "why": the customer's own move, or vendor staff acting for them
        reason = ChangeReason.ADMIN if actor.role == ADMIN_ROLE else ChangeReason.SELF_SERVICE
    new_trial = replace(trial, status=TrialStatus.SUPERSEDED) if trial is not None else None
    return advance(state, reason=reason, actor=actor, now=now, plan=target, trial=new_trial, note=note)


def check_sales_request(state: OrgPlan, target: PlanCode) -> None:
    """Refuse a Premium request for an organisation already on it."""
    if state.plan == target:
        raise Conflict(f"this organisation is already on {catalogue().get(target).name}")
