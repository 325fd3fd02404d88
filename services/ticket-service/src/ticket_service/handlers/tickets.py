"""Ticket use cases: open, read, list, comment, move along the lifecycle, change severity."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from care_schemas.catalogue import Severity
from care_schemas.events.alert import AlertRef
from care_schemas.events.chat import ChatThread
from care_schemas.events.ticket import (
    AuthorKind,
    ImThread,
    TicketChannel,
    TicketCommented,
    TicketCommentedData,
    TicketOpened,
    TicketOpenedData,
    TicketSeverityChanged,
    TicketSeverityChangedData,
    TicketStatus,
    TicketStatusChanged,
    TicketStatusChangedData,
    Visibility,
)
from care_schemas.topics import TICKET_EVENTS
from carekit.db import by_key_connection
from carekit.outbox import enqueue
from carekit.projection import current_plan
from ticket_service.adapters import chat_turns
from ticket_service.adapters import postgres as db
from ticket_service.adapters.metrics import TICKETS_OPENED
from ticket_service.domain import tickets as rules
from ticket_service.domain.bindings import update_target
from ticket_service.domain.errors import Conflict, Forbidden, NotFound
from ticket_service.domain.model import Author, Comment, NewComment, NewTicket, Ticket
from ticket_service.handlers.deps import (
    SOURCE,
    Deps,
    calendar,
)


async def open_ticket(
    deps: Deps,
    org_id: str,
    author: Author,
    new: NewTicket,
    *,
    channel: TicketChannel,
    im_thread: ImThread | None = None,
    source_key: str | None = None,
    alert: AlertRef | None = None,
) -> tuple[Ticket, bool]:
    """Open a ticket if the plan allows it (the target in force now stays with it); False when it already existed.

    A ticket raised from a chat thread owes that thread a confirmation, queued in the same transaction.

    Its look-ups (a chat submission's source key, the plan, the thread) are made by key whatever the statistics
    (`carekit.db.by_key_connection`): planned after an ANALYZE that found the tables empty, ten tickets raised from
    chat after 20,000 other tickets and organisations read 400,300 rows and index entries; now 10
    (test_ticket_scale.py)."""
    async with by_key_connection(deps.pool) as conn, conn.transaction():
        if source_key is not None and (existing := await db.ticket_by_source(conn, source_key)) is not None:
            return existing, False
        plan = await current_plan(conn, org_id)
        rules.check_can_open(new.kind, new.severity, plan.plan, plan.entitlements)
        if im_thread is not None and im_thread.thread_ts is not None:
            existing = await db.ticket_in_thread(
                conn, im_thread.platform, im_thread.workspace, im_thread.channel, im_thread.thread_ts
            )
            if existing is not None:
                raise Conflict(f"this thread already has ticket {existing.id}: {deps.link(existing.id)}")
        now = deps.clock()
        cal = calendar(plan.timezone, await db.holidays(conn, org_id))
        targets = dict(plan.entitlements.response_targets)
        ticket = Ticket(
            id=f"tkt-{uuid.uuid4().hex[:16]}",
            org_id=org_id,
            kind=new.kind,
            severity=new.severity,
            status=TicketStatus.OPEN,
            summary=new.summary,
            description=new.description,
            cluster_id=new.cluster_id,
            environment=new.environment,
            components=list(new.components),
            affected_version=new.affected_version,
            reporter_email=new.reporter_email,
            channel=channel,
            created_by=author.sub,
            plan=plan.plan,
            response_targets=targets,
            timezone=cal.zone.key,
            response_due_at=rules.response_due(now, new.kind, new.severity, targets, cal),
            first_response_at=None,
            resolved_at=None,
            breached_at=None,
            im_thread=im_thread,
            opened_at=now,
            updated_at=now,
        )
        try:
            inserted = await db.insert_ticket(conn, ticket, source_key)
        except asyncpg.UniqueViolationError:  # a concurrent form from the same thread won the race
            inserted = False
        if not inserted:
            raise Conflict("a ticket for this chat thread or submission was opened at the same moment; see the thread")
        alert = alert if alert is not None and alert.org_id == org_id else None
        if alert is not None:
            await db.link_alert(conn, ticket.id, alert)
        event = TicketOpened.build(
            source=SOURCE,
            subject=ticket.id,
            data=TicketOpenedData(
                ticket_id=ticket.id,
                org_id=org_id,
                kind=ticket.kind,
                severity=ticket.severity,
                summary=ticket.summary,
                channel=channel,
                plan=plan.plan,
                reporter_email=ticket.reporter_email,
                cluster_id=ticket.cluster_id,
                response_due_at=ticket.response_due_at,
                opened_at=now,
                link=deps.link(ticket.id),
                im_thread=im_thread,
                tam=plan.tam if plan.entitlements.tam else None,
                alert=alert,
            ),
            time=now,
        )
        await enqueue(conn, TICKET_EVENTS, ticket.id, event)
        if im_thread is not None and im_thread.thread_ts is not None:
            # raised from a thread the assistant answered in: the ticket carries that conversation
            await chat_turns.attach_conversation(conn, ticket.id, conversation_in(im_thread))
            text = f"Ticket {ticket.id} opened: {ticket.summary}\n{deps.link(ticket.id)}"
            await db.queue_chat_reply(conn, ticket.id, im_thread, text, now)
        created = ticket
    TICKETS_OPENED.labels(created.kind.value, channel.value).inc()
    return created, True


def conversation_in(thread: ImThread) -> str:
    """The id of the assistant conversation held in a chat thread."""
    assert thread.thread_ts is not None
    return ChatThread(
        platform=thread.platform, workspace=thread.workspace, channel=thread.channel, thread_ts=thread.thread_ts
    ).conversation_id


async def visible_ticket(conn: asyncpg.Connection | asyncpg.Pool, ticket_id: str, viewer: Author, lock: bool) -> Ticket:
    ticket = await db.get_ticket(conn, ticket_id, for_update=lock)
    if ticket is None or not viewer.may_see(ticket.org_id):
        raise NotFound(f"no ticket {ticket_id}")
    return ticket


async def read_ticket(deps: Deps, ticket_id: str, viewer: Author) -> tuple[Ticket, list[Comment]]:
    """The ticket and its comments; customers see only their organisation's tickets and public comments."""
    async with by_key_connection(deps.pool) as conn:
        ticket = await visible_ticket(conn, ticket_id, viewer, lock=False)
        return ticket, await db.comments(conn, ticket_id, include_internal=viewer.is_engineer)


async def list_tickets(
    deps: Deps, viewer: Author, filters: dict[str, str | None], limit: int, offset: int, search: str | None = None
) -> list[Ticket]:
    if viewer.org_id is not None:
        filters = {**filters, "org_id": viewer.org_id}
    return await db.list_tickets(deps.pool, filters, limit, offset, search=search)


async def _status_event(
    conn: asyncpg.Connection,
    deps: Deps,
    ticket: Ticket,
    previous: TicketStatus,
    new: TicketStatus,
    now: datetime,
    by: AuthorKind,
    by_comment: bool,
) -> None:
    target, mode = update_target(ticket.im_thread, await db.org_bindings(conn, ticket.org_id))
    event = TicketStatusChanged.build(
        source=SOURCE,
        subject=ticket.id,
        data=TicketStatusChangedData(
            ticket_id=ticket.id,
            org_id=ticket.org_id,
            previous_status=previous,
            status=new,
            summary=ticket.summary,
            link=deps.link(ticket.id),
            im_thread=target,
            im_mode=mode,
            latest_public_comment=await db.latest_public_comment(conn, ticket.id),
            changed_at=now,
            reporter_email=ticket.reporter_email,
            changed_by=by,
            by_comment=by_comment,
        ),
        time=now,
    )
    await enqueue(conn, TICKET_EVENTS, ticket.id, event)


async def _move(
    conn: asyncpg.Connection,
    deps: Deps,
    ticket: Ticket,
    new: TicketStatus,
    now: datetime,
    by: AuthorKind,
    by_comment: bool = False,
) -> None:
    changes: dict[str, object] = {"status": new.value, "updated_at": now}
    if new is TicketStatus.RESOLVED and ticket.resolved_at is None:
        changes["resolved_at"] = now
    await db.update_ticket(conn, ticket.id, **changes)
    await _status_event(conn, deps, ticket, ticket.status, new, now, by, by_comment)


async def write_comment(
    conn: asyncpg.Connection,
    deps: Deps,
    ticket: Ticket,
    author: Author,
    new: NewComment,
    origin: ImThread | None = None,
) -> Comment | None:
    """Add a comment inside the caller's transaction; None when the chat message was already applied."""
    rules.check_can_comment(ticket.status)
    now = deps.clock()
    comment = Comment(
        id=f"cmt-{uuid.uuid4().hex[:16]}",
        ticket_id=ticket.id,
        author=author.sub,
        author_kind=author.kind,
        visibility=new.visibility,
        body=new.body,
        origin=origin,
        created_at=now,
    )
    origin_key = None
    if origin is not None and origin.message_id:
        origin_key = db.im_key(origin.platform.value, origin.workspace, origin.channel, origin.message_id)
    if not await db.insert_comment(conn, comment, origin_key):
        return None
    public = new.visibility is Visibility.PUBLIC
    if public:  # an internal comment must leave no trace a customer can see, not even `updated_at`
        changes: dict[str, object] = {"updated_at": now}
        if author.is_engineer and ticket.first_response_at is None:
            changes["first_response_at"] = now
        await db.update_ticket(conn, ticket.id, **changes)
    target, mode = (None, None)
    if public:
        target, mode = update_target(ticket.im_thread, await db.org_bindings(conn, ticket.org_id))
    event = TicketCommented.build(
        source=SOURCE,
        subject=ticket.id,
        data=TicketCommentedData(
            ticket_id=ticket.id,
            org_id=ticket.org_id,
            comment_id=comment.id,
            author=author.sub,
            author_kind=author.kind,
            visibility=new.visibility,
            body=new.body if public else None,
            summary=ticket.summary,
            link=deps.link(ticket.id),
            origin=origin,
            im_thread=target,
            im_mode=mode,
            commented_at=now,
            reporter_email=ticket.reporter_email,
        ),
        time=now,
    )
    await enqueue(conn, TICKET_EVENTS, ticket.id, event)
    after = rules.status_after_comment(ticket.status, author.kind, public)
    if after is not ticket.status:
        await _move(conn, deps, ticket, after, now, author.kind, by_comment=True)
    return comment


async def add_comment(deps: Deps, ticket_id: str, author: Author, new: NewComment) -> Comment:
    if new.visibility is Visibility.INTERNAL and not author.is_engineer:
        raise Forbidden("internal comments are for support engineers; post a public comment")
    async with by_key_connection(deps.pool) as conn, conn.transaction():
        ticket = await visible_ticket(conn, ticket_id, author, lock=True)
        comment = await write_comment(conn, deps, ticket, author, new)
        assert comment is not None  # only chat messages can be duplicates
        return comment


async def change_status(deps: Deps, ticket_id: str, author: Author, new: TicketStatus) -> Ticket:
    async with by_key_connection(deps.pool) as conn, conn.transaction():
        ticket = await visible_ticket(conn, ticket_id, author, lock=True)
        rules.check_transition(ticket.status, new, by_engineer=author.is_engineer)
        await _move(conn, deps, ticket, new, deps.clock(), author.kind)
        return await visible_ticket(conn, ticket_id, author, lock=False)


async def change_severity(deps: Deps, ticket_id: str, author: Author, severity: Severity) -> Ticket:
    """Change severity; the due time is recomputed from the creation time under the plan in force then.

    Once the initial response has been given, its due time stays: the response was measured against the target in
    force when it was given, so raising the severity afterwards cannot turn an on-time answer into a breach."""
    async with by_key_connection(deps.pool) as conn, conn.transaction():
        ticket = await visible_ticket(conn, ticket_id, author, lock=True)
        if ticket.status is TicketStatus.CLOSED:
            raise Conflict("the ticket is closed; its severity can no longer change")
        rules.check_severity(ticket.kind, severity)
        if severity is ticket.severity:
            return ticket
        cal = calendar(ticket.timezone, await db.holidays(conn, ticket.org_id))
        due = rules.response_due(ticket.opened_at, ticket.kind, severity, ticket.response_targets, cal)
        if ticket.first_response_at is not None:
            due = ticket.response_due_at
        now = deps.clock()
        plan = await current_plan(conn, ticket.org_id)
        await db.update_ticket(conn, ticket.id, severity=severity.value, response_due_at=due, updated_at=now)
        event = TicketSeverityChanged.build(
            source=SOURCE,
            subject=ticket.id,
            data=TicketSeverityChangedData(
                ticket_id=ticket.id,
                org_id=ticket.org_id,
                previous_severity=ticket.severity,
                severity=severity,
                response_due_at=due,
                changed_at=now,
                summary=ticket.summary,
                link=deps.link(ticket.id),
                tam=plan.tam if plan.entitlements.tam else None,
            ),
            time=now,
        )
        await enqueue(conn, TICKET_EVENTS, ticket.id, event)
        return await visible_ticket(conn, ticket_id, author, lock=False)
