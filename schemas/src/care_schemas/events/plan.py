"""Events on `plan.events.v1` (key: org id)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, TypeAdapter

from care_schemas.bounded import Id, Int64, Timestamp, bounded
from care_schemas.catalogue import Entitlements, PlanCode
from care_schemas.envelope import CloudEvent, Frozen


class ChangeReason(StrEnum):
    SELF_SERVICE = "self_service"
    SALES_APPROVAL = "sales_approval"
    TRIAL_START = "trial_start"
    TRIAL_END = "trial_end"
    TRIAL_CONVERSION = "trial_conversion"
    LEGACY_RETIREMENT = "legacy_retirement"
    ADMIN = "admin"
    TAM_ASSIGNED = "tam_assigned"
    SETTINGS_CHANGED = "settings_changed"  # e.g. the organisation's time zone; the plan itself is unchanged


class Actor(Frozen):
    sub: Annotated[str, bounded(256, min_length=1)]
    role: Annotated[str, bounded(64, min_length=1)]


class Tam(Frozen):
    name: Annotated[str, bounded(200, min_length=1)]
    email: Annotated[str, bounded(254, min_length=3)]


class SupportPlanChangedData(Frozen):
    org_id: Id
    plan: PlanCode
    previous_plan: PlanCode | None
    reason: ChangeReason
    actor: Actor
    version: Int64 = Field(ge=1, description="per-organisation version; only grows")
    effective_at: Timestamp
    entitlements: Entitlements
    trial_ends_at: Timestamp | None = None
    tam: Tam | None = None
    timezone: Annotated[str, bounded(64, min_length=1)] = Field(
        default="UTC", description="IANA name, checked by plan-service; consumers fall back to UTC for one they lack"
    )


class SupportPlanChanged(CloudEvent[SupportPlanChangedData]):
    TYPE: ClassVar[str] = "care.plan.changed.v1"
    type: Literal["care.plan.changed.v1"]


class PlanRetirementNoticeData(Frozen):
    org_id: Id
    legacy_plan: PlanCode
    retires_at: Timestamp
    days_before: int = Field(ge=0, le=10_000)
    target_plan: PlanCode


class PlanRetirementNotice(CloudEvent[PlanRetirementNoticeData]):
    TYPE: ClassVar[str] = "care.plan.retirement_notice.v1"
    type: Literal["care.plan.retirement_notice.v1"]


PlanEvent = Annotated[SupportPlanChanged | PlanRetirementNotice, Field(discriminator="type")]
plan_event_adapter: TypeAdapter[PlanEvent] = TypeAdapter(PlanEvent)
