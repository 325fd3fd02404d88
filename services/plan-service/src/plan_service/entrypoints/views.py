"""What plan-service's HTTP API answers, as models (so the OpenAPI document says it and tests can check it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from care_schemas.catalogue import Entitlements, Plan
from care_schemas.events.plan import Actor, Tam

# Times are ISO 8601 with their offset, exactly as stored (an organisation's own instants, never re-zoned).
IsoTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Catalogue(BaseModel):
    connected_care: list[Plan]
    legacy: list[Plan]
    retirement_target: str
    retirement_warning_days: list[int]
    legacy_not_purchasable_from: IsoTime


class TrialView(BaseModel):
    status: Literal["active", "converted", "ended", "superseded"]
    started_at: IsoTime
    ends_at: IsoTime
    returns_to: str


class SalesRequest(BaseModel):
    id: str
    org_id: str
    plan: str
    status: Literal["pending", "approved", "declined", "withdrawn"]
    note: str | None
    requested_by: Actor
    requested_by_email: str | None = Field(default=None, description="the requester's address, when known")
    created_at: IsoTime
    decided_at: IsoTime | None
    decided_by: Actor | None
    decision_reason: str | None


class HistoryEntry(BaseModel):
    version: int
    plan: str
    previous_plan: str | None
    reason: str
    note: str | None
    actor: Actor
    effective_at: IsoTime
    event_id: str


class Notice(BaseModel):
    legacy_plan: str
    days_before: int
    sent_at: IsoTime


class PlanView(BaseModel):
    """An organisation's plan: what it includes, since when, trial, TAM, pending Premium request, history."""

    org_id: str
    plan: str
    name: str
    family: str
    since: IsoTime | None = Field(description="null while nothing ever changed: Basic since always")
    version: int
    timezone: str
    entitlements: Entitlements
    retires_at: IsoTime | None
    trial: TrialView | None
    trial_available: bool
    tam: Tam | None
    pending_sales_request: SalesRequest | None
    history: list[HistoryEntry]
    retirement_notices: list[Notice]


class PlanChange(BaseModel):
    """The answer of every request that changes (or asks to change) the plan: plan changes, trials, approvals.

    `status` is `changed` with the new `plan`, or `sales_request_created` (202) with the pending `sales_request`.
    """

    status: Literal["changed", "sales_request_created"]
    plan: PlanView | None = None
    sales_request: SalesRequest | None = None
    message: str | None = None


class SalesDecision(BaseModel):
    sales_request: SalesRequest
    plan: PlanView | None = None


class SalesRequests(BaseModel):
    sales_requests: list[SalesRequest]
    next_offset: int | None


class Pane(BaseModel):
    code: str
    name: str
    meant_for: str
    current: bool
    action: Literal["CURRENT", "Upgrade", "Downgrade", "Contact sales"]
    entitlements: Entitlements


class LegacyPane(BaseModel):
    code: str
    name: str
    current: bool
    action: str
    retires_at: IsoTime | None
    moves_to: str
    entitlements: Entitlements


class SupportPage(BaseModel):
    org_id: str
    current_plan: str
    plans: list[Pane]
    legacy_plan: LegacyPane | None = None
    pending_sales_request: SalesRequest | None


class Imported(BaseModel):
    imported: list[str]
    unchanged: list[str]


class ContactChatView(BaseModel):
    platform: Literal["slack", "lark"]
    workspace: str
    channel: str


class EffectiveContacts(BaseModel):
    owner_email: str | None = Field(description="where plan, trial, sales and retirement notices go")
    technical_email: str | None = Field(description="where ticket notices go when a ticket names no reporter")


class Contacts(BaseModel):
    """The organisation's notification contacts: what its owners set, the default, and what applies."""

    org_id: str
    owner_email: str | None
    technical_email: str | None
    chat: ContactChatView | None
    unsubscribed: list[str]
    default_email: str | None = Field(
        description="the e-mail of the customer who last changed something for the organisation; used where an "
        "address was never set"
    )
    effective: EffectiveContacts
    version: int
    updated_at: IsoTime | None
