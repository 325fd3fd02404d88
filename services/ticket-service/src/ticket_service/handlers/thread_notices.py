"""Short answers in a ticket's chat thread, at most once per thread per period.

On a plan with ticket updates in chat but without two-way sync (Enterprise), a customer's reply in a ticket's
thread does not become a comment. Rather than let it vanish, the bot answers in the thread once per day: the reply
did not reach support, here is the ticket, and this plan (from the catalogue) includes two-way sync.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from care_schemas.catalogue import catalogue
from care_schemas.events.ticket import ImThread
from carekit.projection import current_plan
from ticket_service.adapters import postgres as db
from ticket_service.domain.model import Ticket
from ticket_service.handlers.deps import Deps

ONE_WAY = "one_way_reply"
ONE_WAY_PERIOD = timedelta(hours=24)


async def _due(conn: asyncpg.Connection, thread: ImThread, kind: str, deps: Deps, period: timedelta) -> bool:
    """Claim the thread's notice of this kind if none went out within `period` (concurrent events: one wins)."""
    assert thread.thread_ts is not None
    key = db.im_key(thread.platform.value, thread.workspace, thread.channel, thread.thread_ts)
    row = await conn.fetchrow(
        "INSERT INTO thread_notices (thread_key, kind, sent_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (thread_key, kind) DO UPDATE SET sent_at = EXCLUDED.sent_at"
        " WHERE thread_notices.sent_at <= EXCLUDED.sent_at - make_interval(secs => $4) RETURNING 1",
        key,
        kind,
        deps.clock(),
        period.total_seconds(),
    )
    return row is not None


async def tell_one_way(conn: asyncpg.Connection, deps: Deps, ticket: Ticket, thread: ImThread) -> bool:
    """Answer a customer's reply in a one-way (updates only) thread, once per thread per day; True if queued."""
    if not await _due(conn, thread, ONE_WAY, deps, ONE_WAY_PERIOD):
        return False
    plan = catalogue().get((await current_plan(conn, ticket.org_id)).plan)
    needed = catalogue().cheapest_with("im_ticket_interaction")
    upgrade = f" Two-way sync of threads and tickets comes with the {needed.name} plan." if needed else ""
    text = (
        f"Replies in this thread do not reach support on the {plan.name} plan: they are not added to ticket "
        f"{ticket.id}.{upgrade} To answer support, comment on the ticket: {deps.link(ticket.id)}"
    )
    await db.queue_chat_reply(conn, ticket.id, thread, text, deps.clock())
    return True
