"""Events on `ticket.events.v1` (key: ticket id)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, TypeAdapter

from care_schemas.bounded import Id, Timestamp, bounded
from care_schemas.catalogue import PlanCode, Severity
from care_schemas.envelope import CloudEvent, Frozen
from care_schemas.events.alert import AlertRef
from care_schemas.events.plan import Tam


class TicketKind(StrEnum):
    BILLING = "billing"
    TECHNICAL = "technical"


class TicketStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketChannel(StrEnum):
    API = "api"
    CONSOLE = "console"
    SLACK = "slack"
    LARK = "lark"


class Visibility(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


class ImPlatform(StrEnum):
    SLACK = "slack"
    LARK = "lark"


class ImMode(StrEnum):
    """What the binding behind an `im_thread` allows: updates only (Enterprise) or two-way sync (Premium)."""

    UPDATES = "updates"
    TWO_WAY = "two_way"


class ImThread(Frozen):
    """Where in a chat platform a ticket or comment lives."""

    platform: ImPlatform
    workspace: Annotated[str, bounded(256, min_length=1)] = Field(description="Slack team id or Lark tenant key")
    channel: Annotated[str, bounded(256, min_length=1)] = Field(description="Slack channel id or Lark chat id")
    thread_ts: Annotated[str, bounded(256)] | None = Field(
        default=None, description="Slack thread ts or Lark root message id"
    )
    message_id: Annotated[str, bounded(256)] | None = None


class TicketOpenedData(Frozen):
    ticket_id: Id
    org_id: Id
    kind: TicketKind
    severity: Severity
    summary: Annotated[str, bounded(255, min_length=1)]
    channel: TicketChannel
    plan: PlanCode
    reporter_email: Annotated[str, bounded(254)] | None = None
    cluster_id: Annotated[str, bounded(128)] | None = None
    response_due_at: Timestamp | None
    opened_at: Timestamp
    link: Annotated[str, bounded(2048)]
    im_thread: ImThread | None = None
    tam: Tam | None = None
    alert: AlertRef | None = Field(
        default=None, description="the alert the ticket was opened from (the Open ticket button of its message)"
    )


class TicketOpened(CloudEvent[TicketOpenedData]):
    TYPE: ClassVar[str] = "care.ticket.opened.v1"
    type: Literal["care.ticket.opened.v1"]


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    ENGINEER = "engineer"


class TicketCommentedData(Frozen):
    ticket_id: Id
    org_id: Id
    comment_id: Id
    author: Annotated[str, bounded(256)]
    author_kind: AuthorKind
    visibility: Visibility
    body: Annotated[str, bounded(20_000)] | None = Field(default=None, description="only set for public comments")
    summary: Annotated[str, bounded(255)]
    link: Annotated[str, bounded(2048)]
    origin: ImThread | None = Field(default=None, description="set when the comment came from a chat thread")
    im_thread: ImThread | None = Field(
        default=None,
        description="where updates should be posted: the ticket's own thread if its binding allows updates, "
        "else the organisation's active bound channel (thread_ts null), else null; null for internal comments",
    )
    im_mode: ImMode | None = Field(default=None, description="what the binding behind im_thread allows")
    commented_at: Timestamp
    reporter_email: Annotated[str, bounded(254)] | None = Field(
        default=None, description="the ticket's reporter, told of customer-visible replies"
    )


class TicketCommented(CloudEvent[TicketCommentedData]):
    TYPE: ClassVar[str] = "care.ticket.commented.v1"
    type: Literal["care.ticket.commented.v1"]


class TicketStatusChangedData(Frozen):
    ticket_id: Id
    org_id: Id
    previous_status: TicketStatus
    status: TicketStatus
    summary: Annotated[str, bounded(255)]
    link: Annotated[str, bounded(2048)]
    im_thread: ImThread | None = Field(default=None, description="where updates should be posted (as for comments)")
    im_mode: ImMode | None = None
    latest_public_comment: Annotated[str, bounded(20_000)] | None = Field(
        default=None, description="body of the latest public comment"
    )
    changed_at: Timestamp
    reporter_email: Annotated[str, bounded(254)] | None = Field(
        default=None, description="the ticket's reporter, told of status changes made by support"
    )
    changed_by: AuthorKind | None = Field(default=None, description="who moved the ticket (null: not said)")
    by_comment: bool = Field(default=False, description="the move followed a comment by itself")


class TicketStatusChanged(CloudEvent[TicketStatusChangedData]):
    TYPE: ClassVar[str] = "care.ticket.status_changed.v1"
    type: Literal["care.ticket.status_changed.v1"]


class TicketSeverityChangedData(Frozen):
    ticket_id: Id
    org_id: Id
    previous_severity: Severity
    severity: Severity
    response_due_at: Timestamp | None
    changed_at: Timestamp
    summary: Annotated[str, bounded(255)] | None = None
    link: Annotated[str, bounded(2048)] | None = None
    tam: Tam | None = Field(
        default=None, description="the organisation's TAM when its plan has one (a Premium TAM is told of S1/S2)"
    )


class TicketSeverityChanged(CloudEvent[TicketSeverityChangedData]):
    TYPE: ClassVar[str] = "care.ticket.severity_changed.v1"
    type: Literal["care.ticket.severity_changed.v1"]


class TicketResponseBreachedData(Frozen):
    ticket_id: Id
    org_id: Id
    severity: Severity
    summary: Annotated[str, bounded(255)]
    link: Annotated[str, bounded(2048)]
    response_due_at: Timestamp
    detected_at: Timestamp
    tam: Tam | None = None


class TicketResponseBreached(CloudEvent[TicketResponseBreachedData]):
    TYPE: ClassVar[str] = "care.ticket.response_breached.v1"
    type: Literal["care.ticket.response_breached.v1"]


TicketEvent = Annotated[
    TicketOpened | TicketCommented | TicketStatusChanged | TicketSeverityChanged | TicketResponseBreached,
    Field(discriminator="type"),
]
ticket_event_adapter: TypeAdapter[TicketEvent] = TypeAdapter(TicketEvent)
