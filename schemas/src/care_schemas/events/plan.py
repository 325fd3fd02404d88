"""Events on `plan.events.v1` (key: org id)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, TypeAdapter

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


# --- notification contacts and the notices they receive (issue 13) --------------------------------------------

EmailAddress = Annotated[
    str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
]
"""An e-mail address: `name@domain.tld` shape, no spaces or NUL, at most 254 characters."""


class NoticeKind(StrEnum):
    """The kinds of notice an organisation receives; each but the mandatory ones can be unsubscribed."""

    RETIREMENT = "retirement"  # legacy plan warnings (30 and 7 days) and the move itself: mandatory
    SALES_REQUEST = "sales_request"  # a Premium request approved or declined
    TRIAL = "trial"  # trial started, ending in 3 days
    TICKET = "ticket"  # a customer-visible reply or status change, to the ticket's reporter


MANDATORY_NOTICES: frozenset[NoticeKind] = frozenset({NoticeKind.RETIREMENT})


class ContactChat(Frozen):
    """A chat place notices are also posted to: one of the organisation's bound Slack channels or Lark groups."""

    platform: Literal["slack", "lark"]
    workspace: Annotated[str, bounded(256, min_length=1)] = Field(description="Slack team id or Lark tenant key")
    channel: Annotated[str, bounded(256, min_length=1)] = Field(description="Slack channel id or Lark chat id")


class OrgContactsChangedData(Frozen):
    """The organisation's notification contacts as they apply now: an address that was never set is the default
    (the e-mail of the customer who last changed something for the organisation), the technical address falls
    back to the owner address."""

    org_id: Id
    version: Int64 = Field(ge=1, description="per-organisation contacts version; only grows")
    owner_email: EmailAddress | None = Field(description="plan, trial, sales and retirement notices")
    technical_email: EmailAddress | None = Field(description="ticket notices when a ticket names no reporter")
    chat: ContactChat | None = None
    unsubscribed: Annotated[list[NoticeKind], Field(max_length=16)] = Field(default_factory=list)
    actor: Actor
    changed_at: Timestamp


class OrgContactsChanged(CloudEvent[OrgContactsChangedData]):
    TYPE: ClassVar[str] = "care.plan.contacts_changed.v1"
    type: Literal["care.plan.contacts_changed.v1"]


class SalesRequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class SalesRequestChangedData(Frozen):
    """A Premium sales request was made (`pending`), approved, declined (with the reason) or withdrawn."""

    request_id: Id
    org_id: Id
    plan: PlanCode
    status: SalesRequestStatus
    note: Annotated[str, bounded(500)] | None = None
    requested_by: Actor
    requested_by_email: EmailAddress | None = None
    decided_by: Actor | None = None
    reason: Annotated[str, bounded(500)] | None = Field(default=None, description="why it was declined")
    changed_at: Timestamp


class SalesRequestChanged(CloudEvent[SalesRequestChangedData]):
    TYPE: ClassVar[str] = "care.plan.sales_request_changed.v1"
    type: Literal["care.plan.sales_request_changed.v1"]


class TrialEndingData(Frozen):
    """The Developer trial ends soon (once per trial, `days_before` its end)."""

    org_id: Id
    ends_at: Timestamp
    returns_to: PlanCode
    days_before: int = Field(ge=0, le=366)


class TrialEnding(CloudEvent[TrialEndingData]):
    TYPE: ClassVar[str] = "care.plan.trial_ending.v1"
    type: Literal["care.plan.trial_ending.v1"]


PlanEvent = Annotated[
    SupportPlanChanged | PlanRetirementNotice | OrgContactsChanged | SalesRequestChanged | TrialEnding,
    Field(discriminator="type"),
]
plan_event_adapter: TypeAdapter[PlanEvent] = TypeAdapter(PlanEvent)
