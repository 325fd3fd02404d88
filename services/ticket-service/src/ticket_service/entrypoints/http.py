"""Tickets API under /v1: thin routes that parse, call a handler and shape the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from care_schemas.bounded import Day, Id, bounded
from care_schemas.catalogue import PlanCode, Severity
from care_schemas.events.alert import AlertRef
from care_schemas.events.ticket import (
    ImPlatform,
    ImThread,
    TicketChannel,
    TicketKind,
    TicketStatus,
)
from carekit.identity import CurrentIdentity
from carekit.problems import responses
from ticket_service import handlers
from ticket_service.adapters import postgres as db
from ticket_service.domain.errors import Forbidden, Invalid, NotFound
from ticket_service.domain.limits import MAX_HOLIDAYS, MAX_OFFSET, MAX_PAGE, MAX_SEARCH, MAX_SHORT_FIELD
from ticket_service.domain.model import Comment, CommentFacts, NewComment, NewTicket, Ticket, TicketFacts
from ticket_service.entrypoints.common import AppDeps, CurrentAuthor, Engineer, author_of
from ticket_service.handlers import alert_actions

router = APIRouter(prefix="/v1", tags=["tickets"], responses=responses(404, 409))
TicketId = Annotated[Id, Path()]


class OpenTicket(NewTicket):
    channel: Literal[TicketChannel.API, TicketChannel.CONSOLE] = TicketChannel.API
    org_id: Annotated[str, bounded(MAX_SHORT_FIELD, min_length=1, strip=True)] | None = Field(
        default=None, description="engineers only: on whose behalf"
    )


class CommentView(CommentFacts):
    @classmethod
    def of(cls, c: Comment) -> CommentView:
        return cls(**c.model_dump(exclude={"ticket_id"}))


class ConversationTurnView(BaseModel):
    """One question asked to the assistant in the thread the ticket was raised from, and its answer."""

    question: str
    asked_by: str
    asked_at: datetime
    answer: str | None = Field(description="null when no answer had arrived")
    sources: list[dict[str, str]]
    could_help: bool | None


class TicketView(TicketFacts):
    plan: PlanCode
    response_due_at: datetime | None
    first_response_at: datetime | None
    breached: bool
    timezone: str = Field(
        description="the organisation's zone when the ticket was opened: its business hours count in it"
    )
    im_thread: ImThread | None
    opened_at: datetime
    updated_at: datetime
    link: str
    comments: list[CommentView] | None = None
    conversation: list[ConversationTurnView] | None = Field(
        default=None, description="the AI chat conversation the ticket was raised from (on a single ticket)"
    )
    alert: AlertRef | None = Field(
        default=None, description="the alert the ticket was opened from (its message's Open ticket; on a single ticket)"
    )

    @classmethod
    def of(cls, t: Ticket, link: str, comments: list[Comment] | None = None) -> TicketView:
        return cls(
            **t.model_dump(exclude={"response_targets", "created_by", "breached_at", "resolved_at"}),
            breached=t.breached_at is not None,
            link=link,
            comments=None if comments is None else [CommentView.of(c) for c in comments],
        )


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: TicketStatus


class SeverityChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: Severity


@router.post("/tickets", status_code=201)
async def open_ticket(body: OpenTicket, author: CurrentAuthor, deps: AppDeps) -> TicketView:
    """Open a ticket for the caller's organisation (engineers name `org_id`)."""
    org = author.org_id or body.org_id
    if author.org_id is not None and body.org_id not in (None, author.org_id):
        raise Forbidden("customers open tickets for their own organisation only; leave org_id out")
    if org is None:
        raise Invalid("org_id is required when a support engineer opens a ticket on a customer's behalf")
    new = NewTicket(**body.model_dump(exclude={"channel", "org_id"}))
    if new.reporter_email is None and author.email:  # a customer reports for themselves unless they name someone
        new = new.model_copy(update={"reporter_email": author.email})
    ticket, _ = await handlers.open_ticket(deps, org, author, new, channel=body.channel)
    return TicketView.of(ticket, deps.link(ticket.id))


@router.get("/tickets")
async def list_tickets(
    author: CurrentAuthor,
    deps: AppDeps,
    status: TicketStatus | None = None,
    severity: Severity | None = None,
    kind: TicketKind | None = None,
    org_id: Annotated[Id | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(description="words the summary or description contain"),
        bounded(MAX_SEARCH),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[TicketView]:
    """Newest first; customers only ever see their own organisation's tickets."""
    filters = {
        "status": status.value if status else None,
        "severity": severity.value if severity else None,
        "kind": kind.value if kind else None,
        "org_id": org_id,
    }
    tickets = await handlers.list_tickets(deps, author, filters, limit, offset, search=q)
    return [TicketView.of(t, deps.link(t.id)) for t in tickets]


@router.get("/queue")
async def queue(
    _engineer: Engineer, deps: AppDeps, limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100
) -> list[TicketView]:
    """Engineers: tickets not yet resolved, of every organisation, the first response due soonest first (overdue at
    the top); tickets already answered or without a target follow, oldest first."""
    return [TicketView.of(t, deps.link(t.id)) for t in await db.queue(deps.pool, limit)]


@router.get("/tickets/{ticket_id}")
async def read_ticket(ticket_id: TicketId, author: CurrentAuthor, deps: AppDeps) -> TicketView:
    ticket, comments = await handlers.read_ticket(deps, ticket_id, author)
    view = TicketView.of(ticket, deps.link(ticket.id), comments)
    turns = await handlers.assistant.ticket_conversation(deps, ticket.id)
    if turns is not None:
        view.conversation = [
            ConversationTurnView(
                question=t.question,
                asked_by=t.asked_by,
                asked_at=t.asked_at,
                answer=t.answer,
                sources=[{k: str(v) for k, v in s.items()} for s in t.sources],
                could_help=t.could_help,
            )
            for t in turns
        ]
    view.alert = await alert_actions.ticket_alert(deps, ticket.id)
    return view


@router.post("/tickets/{ticket_id}/comments", status_code=201)
async def comment(ticket_id: TicketId, body: NewComment, author: CurrentAuthor, deps: AppDeps) -> CommentView:
    return CommentView.of(await handlers.add_comment(deps, ticket_id, author, body))


@router.post("/tickets/{ticket_id}/status")
async def change_status(ticket_id: TicketId, body: StatusChange, author: CurrentAuthor, deps: AppDeps) -> TicketView:
    ticket = await handlers.change_status(deps, ticket_id, author, body.status)
    return TicketView.of(ticket, deps.link(ticket.id))


@router.post("/tickets/{ticket_id}/severity")
async def change_severity(
    ticket_id: TicketId, body: SeverityChange, author: CurrentAuthor, deps: AppDeps
) -> TicketView:
    ticket = await handlers.change_severity(deps, ticket_id, author, body.severity)
    return TicketView.of(ticket, deps.link(ticket.id))


# --- IM bindings (staff) -----------------------------------------------------------------------------------------

PlaceId = Annotated[str, Field(min_length=1, max_length=MAX_SHORT_FIELD, pattern=r"^[A-Za-z0-9_.:-]+$")]


class NewBinding(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_id: PlaceId
    platform: ImPlatform
    workspace: PlaceId = Field(description="Slack team id or Lark tenant key")
    channel: PlaceId = Field(description="Slack channel id or Lark chat id")
    name: Annotated[str, bounded(MAX_SHORT_FIELD)] | None = None


class BindingView(BaseModel):
    id: str
    org_id: str
    platform: ImPlatform
    workspace: str
    channel: str
    name: str | None
    features: dict[str, bool]
    state: str
    reason: str | None
    created_at: datetime


def _binding_view(row: dict[str, object]) -> BindingView:
    return BindingView(
        features={"updates": bool(row["updates"]), "two_way": bool(row["two_way"])},
        **{k: v for k, v in row.items() if k not in ("updates", "two_way")},
    )


@router.post("/im-bindings", status_code=201)
async def bind(body: NewBinding, engineer: Engineer, deps: AppDeps) -> BindingView:
    """Bind a Slack workspace+channel or a Lark group to an organisation, with the features its plan allows."""
    binding = await handlers.create_binding(
        deps, engineer.sub, body.org_id, body.platform, body.workspace, body.channel, body.name
    )
    row = await db.binding_row(deps.pool, binding.id)
    assert row is not None
    return _binding_view(dict(row))


@router.get("/im-bindings")
async def list_bindings(
    _engineer: Engineer, deps: AppDeps, org_id: Annotated[Id | None, Query()] = None
) -> list[BindingView]:
    return [_binding_view(dict(r)) for r in await db.binding_rows(deps.pool, org_id)]


@router.get("/orgs/{org_id}/im-bindings")
async def org_bindings(org_id: Annotated[Id, Path()], identity: CurrentIdentity, deps: AppDeps) -> list[BindingView]:
    """The organisation's chat places bound for tickets, for its members (the console's settings page) and engineers."""
    if not author_of(identity).may_see(org_id):
        raise NotFound(f"no organisation {org_id}")
    return [_binding_view(dict(r)) for r in await db.binding_rows(deps.pool, org_id)]


@router.delete("/im-bindings/{binding_id}", status_code=204)
async def unbind(binding_id: TicketId, _engineer: Engineer, deps: AppDeps) -> Response:
    if not await db.delete_binding(deps.pool, binding_id):
        raise NotFound(f"no IM binding {binding_id}")
    return Response(status_code=204)


# --- holidays ----------------------------------------------------------------------------------------------------


class Holidays(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holidays: Annotated[list[Day], Field(max_length=MAX_HOLIDAYS)]


OrgId = Annotated[Id, Path()]


@router.put("/orgs/{org_id}/holidays")
async def set_holidays(org_id: OrgId, body: Holidays, _engineer: Engineer, deps: AppDeps) -> Holidays:
    """Replace an organisation's holidays (local dates); they count for tickets opened or re-targeted later."""
    return Holidays(holidays=await handlers.set_holidays(deps, org_id, body.holidays))


@router.get("/orgs/{org_id}/holidays")
async def get_holidays(org_id: OrgId, identity: CurrentIdentity, deps: AppDeps) -> Holidays:
    author = author_of(identity)
    if not author.may_see(org_id):
        raise NotFound(f"no organisation {org_id}")
    return Holidays(holidays=await db.holidays(deps.pool, org_id))
