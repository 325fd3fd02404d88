"""The events a change publishes, built from the domain state (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import (
    Actor,
    OrgContactsChanged,
    OrgContactsChangedData,
    PlanRetirementNotice,
    PlanRetirementNoticeData,
    SalesRequestChanged,
    SalesRequestChangedData,
    SalesRequestStatus,
    SupportPlanChanged,
    SupportPlanChangedData,
    TrialEnding,
    TrialEndingData,
)
from plan_service.domain.contacts import Contacts
from plan_service.domain.model import Change

SOURCE = "/plan-service"


@dataclass(frozen=True)
class SalesRequestFacts:
    """A sales request as stored, for its event."""

    id: str
    org_id: str
    plan: PlanCode
    status: SalesRequestStatus
    note: str | None
    requested_by: Actor
    requested_by_email: str | None
    decided_by: Actor | None
    reason: str | None


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


def contacts_changed(contacts: Contacts, actor: Actor, now: datetime) -> OrgContactsChanged:
    """OrgContactsChanged with the addresses as they apply now (defaults filled in)."""
    return OrgContactsChanged.build(
        source=SOURCE,
        subject=contacts.org_id,
        time=now,
        data=OrgContactsChangedData(
            org_id=contacts.org_id,
            version=contacts.version,
            owner_email=contacts.effective_owner,
            technical_email=contacts.effective_technical,
            chat=contacts.chat,
            unsubscribed=sorted(contacts.unsubscribed),
            actor=actor,
            changed_at=now,
        ),
    )


def sales_request_changed(request: SalesRequestFacts, now: datetime) -> SalesRequestChanged:
    return SalesRequestChanged.build(
        source=SOURCE,
        subject=request.org_id,
        time=now,
        data=SalesRequestChangedData(
            request_id=request.id,
            org_id=request.org_id,
            plan=request.plan,
            status=request.status,
            note=request.note,
            requested_by=request.requested_by,
            requested_by_email=request.requested_by_email,
            decided_by=request.decided_by,
            reason=request.reason,
            changed_at=now,
        ),
    )


def trial_ending(org_id: str, ends_at: datetime, returns_to: PlanCode, days_before: int, now: datetime) -> TrialEnding:
    return TrialEnding.build(
        source=SOURCE,
        subject=org_id,
        time=now,
        data=TrialEndingData(org_id=org_id, ends_at=ends_at, returns_to=returns_to, days_before=days_before),
    )
