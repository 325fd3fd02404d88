"""Acting on an alert from its chat message: Acknowledge becomes an AlertAcknowledged for notify-service (through
the outbox); a ticket opened from an alert carries it (TicketOpened.alert); when notify-service says that alert
resolved, the ticket gets a comment saying so (once)."""

from __future__ import annotations

from enum import Enum

from care_schemas.events.action import (
    ACK_ACTION,
    AlertAcknowledged,
    AlertAcknowledgedData,
    AlertButton,
    ChatMessage,
    TicketAlertResolved,
)
from care_schemas.events.alert import AlertRef
from care_schemas.events.ticket import AuthorKind, ImPlatform, Visibility
from care_schemas.topics import ALERT_ACTIONS
from carekit.consumer import first_time
from carekit.db import by_key_connection
from carekit.outbox import enqueue
from ticket_service.adapters import postgres as db
from ticket_service.domain.errors import Conflict
from ticket_service.domain.model import Author, NewComment
from ticket_service.handlers.deps import Deps
from ticket_service.handlers.tickets import write_comment

SOURCE = "/ticket-service"
ALERTS_AUTHOR = "Connected Care alerts"


async def may_act(deps: Deps, platform: ImPlatform, workspace: str, channel: str, button: AlertButton) -> bool:
    """Only in a place bound (and active) for the alert's own organisation."""
    async with by_key_connection(deps.pool) as conn:
        binding = await db.binding_at(conn, platform, workspace, channel)
    return binding is not None and binding.active and binding.org_id == button.o


class Press(Enum):
    """What a press of an alert button comes to, whichever platform it was pressed in."""

    NOT_HERE = "not_here"  # not in a place bound (and active) for the alert's organisation: nothing recorded
    ACKNOWLEDGED = "acknowledged"  # AlertAcknowledged is on its way to notify-service (or this press was taken)
    OPEN_FORM = "open_form"  # the caller shows the platform's ticket form pre-filled from the alert


async def press(
    deps: Deps,
    action: str,
    button: AlertButton,
    message: ChatMessage,
    user: str,
    user_name: str | None,
    press_id: str,
) -> Press:
    """One handler for Slack's and Lark's Acknowledge and Open ticket: the binding check, then the event."""
    if not await may_act(deps, message.platform, message.workspace, message.channel, button):
        return Press.NOT_HERE
    if action == ACK_ACTION:
        await acknowledge(deps, button, user, user_name, message, press_id)
        return Press.ACKNOWLEDGED
    return Press.OPEN_FORM


async def acknowledge(
    deps: Deps, button: AlertButton, user: str, user_name: str | None, message: ChatMessage, press: str
) -> bool:
    """Publish who acknowledged which firing (once per press); False for a press already taken."""
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await first_time(conn, "alert-acks", press):
            return False
        event = AlertAcknowledged.build(
            source=SOURCE,
            subject=button.f,
            data=AlertAcknowledgedData(
                alert=button.alert,
                acknowledged_by=user,
                acknowledged_by_name=user_name,
                acknowledged_at=deps.clock(),
                subscriber_id=button.sub,
                message=message,
                shown=list(button.m) or [button.f],
            ),
        )
        await enqueue(conn, ALERT_ACTIONS, button.o, event)
        return True


async def ticket_alert(deps: Deps, ticket_id: str) -> AlertRef | None:
    """The alert a ticket was opened from, if any (the caller has checked the ticket is visible)."""
    async with by_key_connection(deps.pool) as conn:
        return await db.alert_of(conn, ticket_id)


async def alert_resolved(deps: Deps, event: TicketAlertResolved) -> bool:
    """A comment on the ticket opened from the alert: it resolved (once per firing of that alert, whatever events say
    so: every notify-service deployment that saw the ticket opened and the alert resolve tells it, each with an event
    of its own; nothing on a closed ticket)."""
    d = event.data
    author = Author(sub=ALERTS_AUTHOR, kind=AuthorKind.CUSTOMER, org_id=d.alert.org_id)
    body = (
        f"The alert this ticket was opened from has resolved: {d.rule}: {d.summary} "
        f"(fingerprint {d.alert.fingerprint}, firing since {d.alert.starts_at:%Y-%m-%d %H:%M} UTC, "
        f"resolved at {d.resolved_at:%Y-%m-%d %H:%M} UTC)."
    )
    async with by_key_connection(deps.pool) as conn, conn.transaction():
        firing = f"{d.ticket_id}/{d.alert.org_id}/{d.alert.fingerprint}/{d.alert.starts_at.isoformat()}"
        if not await first_time(conn, "alert-resolved", firing):
            return False
        ticket = await db.get_ticket(conn, d.ticket_id, for_update=True)
        if ticket is None or ticket.org_id != d.alert.org_id:
            return False
        try:
            async with conn.transaction():
                await write_comment(
                    conn, deps, ticket, author, NewComment(body=body[:20_000], visibility=Visibility.PUBLIC)
                )
        except Conflict:
            return False  # closed: nothing more is said on it
        return True
