"""The events a change publishes, built from the domain state (pure)."""

from __future__ import annotations

from datetime import datetime

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import (
    PlanRetirementNotice,
    PlanRetirementNoticeData,
    SupportPlanChanged,
    SupportPlanChangedData,
)
from plan_service.domain.model import Change

SOURCE = "/plan-service"


def plan_changed(change: Change) -> SupportPlanChanged:
    """SupportPlanChanged with the full entitlements after the change."""
    after = change.after
    trial = after.active_trial
    return SupportPlanChanged.build(
        source=SOURCE,
        subject=after.org_id,
        time=change.at,
        data=SupportPlanChangedData(
            org_id=after.org_id,
            plan=after.plan,
            previous_plan=change.before.plan,
            reason=change.reason,
            actor=change.actor,
            version=after.version,
            effective_at=change.at,
            entitlements=after.catalogue_plan.entitlements,
            trial_ends_at=trial.ends_at if trial is not None else None,
            tam=after.tam,
            timezone=after.timezone,
        ),
    )


def retirement_notice(org_id: str, legacy_plan: PlanCode, days_before: int, now: datetime) -> PlanRetirementNotice:
    retires = catalogue().get(legacy_plan).retires_at
    assert retires is not None
    return PlanRetirementNotice.build(
        source=SOURCE,
        subject=org_id,
        time=now,
        data=PlanRetirementNoticeData(
            org_id=org_id,
            legacy_plan=legacy_plan,
            retires_at=retires,
            days_before=days_before,
            target_plan=catalogue().retirement_target,
        ),
    )
