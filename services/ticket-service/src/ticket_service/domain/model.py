"""Ticket, comment and the commands that create them (validated with the documented limits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from care_schemas.bounded import bounded
from care_schemas.catalogue import PlanCode, ResponseTarget, Severity
from care_schemas.events.ticket import AuthorKind, ImThread, TicketChannel, TicketKind, TicketStatus, Visibility
from ticket_service.domain import limits

EMAIL_PATTERN = r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$"
Short = Annotated[str, bounded(limits.MAX_SHORT_FIELD, min_length=1, strip=True)]
Component = Annotated[str, bounded(limits.MAX_COMPONENT, min_length=1, strip=True)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=limits.MAX_EMAIL, pattern=EMAIL_PATTERN)]


class NewTicket(BaseModel):
    """What a customer submits, from the API, the console, Slack or Lark."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: Annotated[str, bounded(limits.MAX_SUMMARY, min_length=1, strip=True)]
    description: Annotated[str, bounded(limits.MAX_DESCRIPTION)] = ""
    severity: Severity
    kind: TicketKind
    cluster_id: Short | None = None
    environment: Short | None = None
    components: Annotated[list[Component], Field(max_length=limits.MAX_COMPONENTS)] = []
    affected_version: Short | None = None
    reporter_email: Email | None = None


class NewComment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    body: Annotated[str, bounded(limits.MAX_COMMENT, min_length=1, strip=True)]
    visibility: Visibility = Visibility.PUBLIC


@dataclass(frozen=True)
class Author:
    """Who acts: a verified API identity or a chat user; engineers answer, customers ask."""

    sub: str
    kind: AuthorKind
    org_id: str | None  # None for staff, who see every organisation
    email: str | None = None  # the `email` claim of an API caller's token, when it has one

    @property
    def is_engineer(self) -> bool:
        return self.kind is AuthorKind.ENGINEER

    def may_see(self, org_id: str) -> bool:
        return self.org_id is None or self.org_id == org_id


class TicketFacts(BaseModel):
    """What a ticket says about itself, as stored and as the API shows it (`TicketView` adds to these)."""

    id: str
    org_id: str
    kind: TicketKind
    severity: Severity
    status: TicketStatus
    summary: str
    description: str
    cluster_id: str | None
    environment: str | None
    components: list[str]
    affected_version: str | None
    reporter_email: str | None
    channel: TicketChannel


class Ticket(TicketFacts):
    model_config = ConfigDict(frozen=True)

    created_by: str
    plan: PlanCode
    response_targets: dict[Severity, ResponseTarget]
    timezone: str
    response_due_at: AwareDatetime | None
    first_response_at: AwareDatetime | None
    resolved_at: AwareDatetime | None
    breached_at: AwareDatetime | None
    im_thread: ImThread | None
    opened_at: AwareDatetime
    updated_at: AwareDatetime


class CommentFacts(BaseModel):
    """What a comment says about itself, as stored and as the API shows it (`CommentView`)."""

    id: str
    author: str
    author_kind: AuthorKind
    visibility: Visibility
    body: str
    origin: ImThread | None
    created_at: datetime


class Comment(CommentFacts):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
