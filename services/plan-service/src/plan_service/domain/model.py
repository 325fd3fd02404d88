"""An organisation's plan state (the refusals a rule raises are the kit's); pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from care_schemas.catalogue import DEFAULT_PLAN, Plan, PlanCode, catalogue
from care_schemas.events.plan import Actor, ChangeReason, Tam
from carekit.refusals import Conflict, Invalid, NotFound, Refused

__all__ = ["Change", "Conflict", "Invalid", "NotFound", "OrgPlan", "Refused", "Trial", "TrialStatus", "advance"]


class TrialStatus(StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"  # became a paid Developer plan
    ENDED = "ended"  # ran its 30 days and the organisation went back
    SUPERSEDED = "superseded"  # the organisation moved to another plan during the trial


@dataclass(frozen=True)
class Trial:
    started_at: datetime
    ends_at: datetime
    return_plan: PlanCode
    status: TrialStatus

    @property
    def active(self) -> bool:
        return self.status is TrialStatus.ACTIVE


@dataclass(frozen=True)
class OrgPlan:
    """What plan-service knows about one organisation; `version` 0 means nothing was ever written."""

    org_id: str
    plan: PlanCode
    since: datetime
    version: int = 0
    timezone: str = "UTC"
    tam: Tam | None = None
    trial: Trial | None = None

    @classmethod
    def new(cls, org_id: str, now: datetime) -> OrgPlan:
        """A new organisation: on Basic, implicitly."""
        return cls(org_id=org_id, plan=DEFAULT_PLAN, since=now)

    @property
    def catalogue_plan(self) -> Plan:
        return catalogue().get(self.plan)

    @property
    def active_trial(self) -> Trial | None:
        return self.trial if self.trial is not None and self.trial.active else None


@dataclass(frozen=True)
class Change:
    """The outcome of a rule: the organisation's next state and why it changed."""

    before: OrgPlan
    after: OrgPlan
    reason: ChangeReason
    actor: Actor
    at: datetime
    note: str | None = None

    @property
    def plan_changed(self) -> bool:
        return self.before.plan != self.after.plan


def advance(
    state: OrgPlan,
    *,
    reason: ChangeReason,
    actor: Actor,
    now: datetime,
    plan: PlanCode | None = None,
    trial: Trial | None = None,
    tam: Tam | None = None,
    timezone: str | None = None,
    note: str | None = None,
) -> Change:
    """The next version of `state`; a TAM survives only on a plan that includes one."""
    new_plan = plan if plan is not None else state.plan
    new_tam = tam if tam is not None else state.tam
    if not catalogue().get(new_plan).entitlements.tam:
        new_tam = None
    after = replace(
        state,
        plan=new_plan,
        since=now if new_plan != state.plan else state.since,
        version=state.version + 1,
        tam=new_tam,
        trial=trial if trial is not None else state.trial,
        timezone=timezone or state.timezone,
    )
    return Change(before=state, after=after, reason=reason, actor=actor, at=now, note=note)
