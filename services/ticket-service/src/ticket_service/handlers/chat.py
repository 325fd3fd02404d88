"""Chat use cases: places bound to organisations, thread replies as comments, confirmations in threads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

import asyncpg

from care_schemas.events.ticket import (
    AuthorKind,
    ImPlatform,
    ImThread,
    TicketStatus,
)
from carekit.chat import ChatFailure
from carekit.consumer import first_time
from carekit.db import by_key_connection
from carekit.parking import Isolation, park
from ticket_service.adapters import postgres as db
from ticket_service.domain.bindings import Binding
from ticket_service.domain.limits import MAX_COMMENT
from ticket_service.domain.model import Author, Comment, NewComment, Ticket
from ticket_service.handlers.deps import (
    CHAT_REPLY_ATTEMPTS,
    CHAT_REPLY_MAX_BACKOFF_S,
    Deps,
    log,
)
from ticket_service.handlers.thread_notices import tell_one_way
from ticket_service.handlers.tickets import write_comment


async def binding_at(deps: Deps, platform: ImPlatform, workspace: str, channel: str) -> Binding | None:
    """The binding of a chat place (active or suspended), or None when the place is not bound."""
    return await db.binding_at(deps.pool, platform, workspace, channel)


async def ticket_for_thread(deps: Deps, place: ImThread) -> Ticket | None:
    if place.thread_ts is None:
        return None
    async with by_key_connection(deps.pool) as conn:
        return await db.ticket_in_thread(conn, place.platform, place.workspace, place.channel, place.thread_ts)


async def once(deps: Deps, consumer: str, event_id: str, action: Callable[[], Awaitable[None]]) -> bool:
    """Run a chat side effect once per platform event id (a failure rolls back so the retry runs it)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await first_time(conn, consumer, event_id):
            return False
        await action()
        return True


async def chat_reply(deps: Deps, event_id: str, thread: ImThread, user: str, text: str) -> Comment | None:
    """A customer's message in a ticket's thread becomes a public comment on a two-way binding; applied once.

    The ticket is found by its thread, and updated, by key whatever the statistics (`carekit.db.by_key_connection`,
    as in `ticket_for_thread`): planned after an ANALYZE that found tickets empty, ten replies after 20,000 other
    tickets and their threads read 600,485 rows and index entries (tickets whole three times for each message); now
    50 (test_ticket_scale.py)."""
    async with by_key_connection(deps.pool) as conn, conn.transaction():
        if not await first_time(conn, f"{thread.platform.value}-replies", event_id):
            return None
        assert thread.thread_ts is not None
        ticket = await db.ticket_in_thread(conn, thread.platform, thread.workspace, thread.channel, thread.thread_ts)
        if ticket is None:
            return None
        binding = await db.binding_at(conn, thread.platform, thread.workspace, thread.channel)
        if binding is None or not binding.active or binding.org_id != ticket.org_id:
            return None
        if not binding.features.two_way:
            if binding.features.updates and text.strip():  # one-way: say so instead of dropping it silently
                await tell_one_way(conn, deps, ticket, thread)
            return None
        if ticket.status is TicketStatus.CLOSED:
            # refused as on the API; the thread is told once per ticket instead of the reply vanishing silently
            if await first_time(conn, "closed-ticket-notice", ticket.id):
                notice = (
                    f"Ticket {ticket.id} is closed, so replies here are no longer added to it. "
                    f"Mention me in the channel to raise a new request.\n{deps.link(ticket.id)}"
                )
                await db.queue_chat_reply(conn, ticket.id, thread, notice, deps.clock())
            return None
        body = text.strip()[:MAX_COMMENT]
        if not body:
            return None
        author = Author(sub=f"{thread.platform.value}:{user}", kind=AuthorKind.CUSTOMER, org_id=ticket.org_id)
        return await write_comment(conn, deps, ticket, author, NewComment(body=body), origin=thread)


# a confirmation that can never be sent (the platform refused it for good, or it fails inside ticket-service) is
# parked under this name (GET /v1/ops/parked) and the others go on
CHAT_REPLIES = Isolation("chat-replies")


async def _deliver(deps: Deps, conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> None:
    try:
        await deps.send(ImPlatform(row["platform"]), row["channel"], row["thread"], row["body"])
    except ChatFailure as exc:  # the platform refused or is away for now: retried with backoff
        attempts = row["attempts"] + 1
        if attempts >= CHAT_REPLY_ATTEMPTS:
            log.error("gave up confirming ticket %s in its chat thread: %s", row["ticket_id"], exc)
            await park(conn, CHAT_REPLIES.loop, str(row["id"]), f"gave up after {attempts} attempts: {exc}")
            return
        log.warning("confirming ticket %s in its chat thread will be retried: %s", row["ticket_id"], exc)
        backoff = min(2**attempts, CHAT_REPLY_MAX_BACKOFF_S)
        await db.chat_reply_failed(conn, row["id"], str(exc), now + timedelta(seconds=backoff))
        return
    await db.chat_reply_done(conn, row["id"])


async def deliver_chat_replies(deps: Deps, *, limit: int = 50) -> int:
    """Send the confirmations owed to chat threads; a refused one is retried later with backoff, one that can
    never be sent is parked. Return how many were handled. Each is sent at least once (a crash between sending
    and recording may send it twice).

    The due replies are found by key whatever the statistics (`carekit.db.by_key_connection`): while a platform is
    away every reply waits up to two hours of retries, and those given up stay parked for good; planned after an
    ANALYZE that found the tables empty, ten passes after 20,000 replies waiting and 20,000 parked read both
    tables whole on every pass, every 2 s (400,039 rows and index entries; planned by key, 200,039: every parked
    reply, until the parked check became a probe, `claim_chat_replies`); now 39 (test_ticket_scale.py)."""
    now = deps.clock()
    async with by_key_connection(deps.pool) as conn, conn.transaction():
        due = await db.claim_chat_replies(conn, now, limit, CHAT_REPLIES.loop)
        for row in due:
            await CHAT_REPLIES.run(conn, str(row["id"]), partial(_deliver, deps, conn, row, now))
        return len(due)
