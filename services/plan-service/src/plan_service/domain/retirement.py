"""Legacy retirement: the exact instant, the 30- and 7-day warnings, catch-up after downtime."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import Actor, ChangeReason
from plan_service.domain.model import Change, Conflict, Invalid, OrgPlan, advance

RETIREMENT_ACTOR = Actor(sub="plan-service", role="system")


def retires_at(plan: PlanCode) -> datetime | None:
    return catalogue().get(plan).retires_at


def retired(plan: PlanCode, now: datetime) -> bool:
    """True from the retirement instant on (00:00 UTC of the date, whatever the organisation's zone)."""
    at = retires_at(plan)
    return at is not None and now >= at


def retired_plans(now: datetime) -> list[PlanCode]:
    """Legacy plans whose retirement instant has passed: anyone still on one is overdue."""
    return [p.code for p in catalogue().legacy() if retired(p.code, now)]


def warning_due(plan: PlanCode, now: datetime) -> int | None:
    """The one warning (days before) to send now: the latest whose moment has passed, before retirement.

    After downtime only the most recent warning goes out; an earlier one that was missed is not sent late.
    """
    at = retires_at(plan)
    if at is None or now >= at:
        return None
    due = [d for d in catalogue().retirement_warning_days if now >= at - timedelta(days=d)]
    return min(due) if due else None


def plans_in_warning(now: datetime) -> dict[PlanCode, int]:
    """Legacy plan -> warning due now."""
    out: dict[PlanCode, int] = {}
    for p in catalogue().legacy():
        days = warning_due(p.code, now)
        if days is not None:
            out[p.code] = days
    return out


def decide_retirement(state: OrgPlan, now: datetime) -> Change | None:
    """Move an organisation off a retired legacy plan to the retirement target; None when nothing to do."""
    if not retired(state.plan, now):
        return None
    at = retires_at(state.plan)
    assert at is not None
    return advance(
        state,
        reason=ChangeReason.LEGACY_RETIREMENT,
        actor=RETIREMENT_ACTOR,
        now=now,
        plan=catalogue().retirement_target,
        note=f"{state.catalogue_plan.name} retired at {at.isoformat()}",
    )


def decide_import(
    state: OrgPlan, legacy_plan: PlanCode, since: datetime | None, actor: Actor, now: datetime
) -> Change | None:
    """Seed an organisation on a legacy plan; only one that never changed plan, and idempotently."""
    plan = catalogue().get(legacy_plan)
    if plan.family != "legacy":
        codes = ", ".join(p.code.value for p in catalogue().legacy())
        raise Invalid(f"{legacy_plan.value} is not a legacy plan; import one of: {codes}")
    if since is not None and since > now:
        raise Invalid(
            f"{state.org_id}: since {since.isoformat()} is in the future; give the date the organisation"
            " joined its legacy plan, or leave it out"
        )
    if state.plan == legacy_plan:
        return None
    if state.version > 0:
        raise Conflict(
            f"{state.org_id} already has a plan history (now on {state.catalogue_plan.name}, version {state.version});"
            " legacy import only seeds organisations that never changed plan"
        )
    change = advance(state, reason=ChangeReason.ADMIN, actor=actor, now=now, plan=legacy_plan, note="legacy import")
    if since is not None:
        change = replace(change, after=replace(change.after, since=since))
    return change
