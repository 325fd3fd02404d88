"""Events on `plan.events.v1` (key: org id)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, TypeAdapter

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
    sub: str = Field(min_length=1)
    role: str = Field(min_length=1)


class Tam(Frozen):
    name: str = Field(min_length=1)
    email: str = Field(min_length=3)


class SupportPlanChangedData(Frozen):
    org_id: str = Field(min_length=1)
    plan: PlanCode
    previous_plan: PlanCode | None
    reason: ChangeReason
    actor: Actor
    version: int = Field(ge=1, description="per-organisation version; only grows")
    effective_at: AwareDatetime
    entitlements: Entitlements
    trial_ends_at: AwareDatetime | None = None
    tam: Tam | None = None
    timezone: str = "UTC"


class SupportPlanChanged(CloudEvent[SupportPlanChangedData]):
    TYPE: ClassVar[str] = "care.plan.changed.v1"
    type: Literal["care.plan.changed.v1"] = "care.plan.changed.v1"


class PlanRetirementNoticeData(Frozen):
    org_id: str = Field(min_length=1)
    legacy_plan: PlanCode
    retires_at: AwareDatetime
    days_before: int = Field(ge=0)
    target_plan: PlanCode


class PlanRetirementNotice(CloudEvent[PlanRetirementNoticeData]):
    TYPE: ClassVar[str] = "care.plan.retirement_notice.v1"
    type: Literal["care.plan.retirement_notice.v1"] = "care.plan.retirement_notice.v1"


PlanEvent = Annotated[SupportPlanChanged | PlanRetirementNotice, Field(discriminator="type")]
plan_event_adapter: TypeAdapter[PlanEvent] = TypeAdapter(PlanEvent)
