"""The Developer free trial: one per organisation, 30 days, then back to the plan it had before."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import Actor, ChangeReason
from plan_service.domain.model import Change, Conflict, OrgPlan, Trial, TrialStatus, advance
from plan_service.domain.retirement import retired

TRIAL_PLAN = PlanCode.DEVELOPER
TRIAL_DAYS = 30
SYSTEM = Actor(sub="plan-service", role="system")


def trial_end(start: datetime, timezone: str) -> datetime:
    """30 calendar days later at the same wall-clock time in the organisation's zone (DST-aware)."""
    local = start.astimezone(ZoneInfo(timezone))
    return (local + timedelta(days=TRIAL_DAYS)).astimezone(start.tzinfo)


def decide_start(state: OrgPlan, actor: Actor, now: datetime) -> Change:
    """Start the one trial an organisation gets, from a plan below Developer."""
    if state.trial is not None:
        used = state.trial.started_at.astimezone(ZoneInfo(state.timezone)).date().isoformat()
        raise Conflict(
            f"this organisation already used its Developer trial on {used}; "
            "to keep Developer's entitlements, change to the paid Developer plan"
        )
    trial_plan = catalogue().get(TRIAL_PLAN)
    current = state.catalogue_plan
    if current.rank >= trial_plan.rank:
        raise Conflict(
            f"the Developer trial is for organisations on Basic; this organisation is on {current.name}, "
            "which already includes everything Developer offers"
        )
    trial = Trial(
        started_at=now, ends_at=trial_end(now, state.timezone), return_plan=state.plan, status=TrialStatus.ACTIVE
    )
    return advance(state, reason=ChangeReason.TRIAL_START, actor=actor, now=now, plan=TRIAL_PLAN, trial=trial)


def expired(state: OrgPlan, now: datetime) -> bool:
    trial = state.active_trial
    return trial is not None and now >= trial.ends_at


def plan_after_trial(return_plan: PlanCode, now: datetime) -> PlanCode:
    """The plan the organisation had before; a legacy plan retired meanwhile becomes the retirement target."""
    return catalogue().retirement_target if retired(return_plan, now) else return_plan


def decide_expiry(state: OrgPlan, now: datetime) -> Change | None:
    """At the trial's end, back to the previous plan; None when there is nothing to do (idempotent)."""
    trial = state.active_trial
    if trial is None or now < trial.ends_at:
        return None
    return advance(
        state,
        reason=ChangeReason.TRIAL_END,
        actor=SYSTEM,
        now=now,
        plan=plan_after_trial(trial.return_plan, now),
        trial=Trial(trial.started_at, trial.ends_at, trial.return_plan, TrialStatus.ENDED),
    )


REMINDER_DAYS = 3


def reminder_due(state: OrgPlan, now: datetime, days: int = REMINDER_DAYS) -> bool:
    """An active trial ends within `days`: its owners are told once (the caller records that it was)."""
    trial = state.active_trial
    return trial is not None and trial.ends_at - timedelta(days=days) <= now < trial.ends_at
