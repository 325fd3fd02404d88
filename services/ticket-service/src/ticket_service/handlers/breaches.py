"""The response-target breach scan."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import asyncpg

from care_schemas.events.ticket import (
    TicketResponseBreached,
    TicketResponseBreachedData,
)
from care_schemas.topics import TICKET_EVENTS
from carekit.db import by_key_connection
from carekit.outbox import enqueue
from carekit.parking import Isolation
from carekit.projection import current_plan
from ticket_service.adapters import postgres as db
from ticket_service.handlers.deps import (
    SOURCE,
    Deps,
)

# a ticket whose breach cannot be recorded (its stored row no longer validates...) is parked under this name
BREACHES = Isolation("breach-scheduler")


async def _breach(deps: Deps, conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> bool:
    ticket = db.ticket_of(row)
    if not await db.mark_breached(conn, ticket.id, now):
        return False
    assert ticket.response_due_at is not None
    plan = await current_plan(conn, ticket.org_id)
    event = TicketResponseBreached.build(
        source=SOURCE,
        subject=ticket.id,
        data=TicketResponseBreachedData(
            ticket_id=ticket.id,
            org_id=ticket.org_id,
            severity=ticket.severity,
            summary=ticket.summary,
            link=deps.link(ticket.id),
            response_due_at=ticket.response_due_at,
            detected_at=now,
            tam=plan.tam if plan.entitlements.tam else None,
        ),
        time=now,
    )
    await enqueue(conn, TICKET_EVENTS, ticket.id, event)
    return True


async def scan_breaches(deps: Deps, *, limit: int = 200) -> int:
    """Emit TicketResponseBreached once for each ticket whose due time passed unanswered; return how many tickets
    were handled (emitted, or parked because they could not be: the others go on).

    The scan finds its tickets by key whatever the statistics (`carekit.db.by_key_connection`; the index of tickets
    still owed a response, migration 006), and so does each breach's plan and mark: planned after an ANALYZE that
    found tickets and parked empty (a new deployment), ten scans after 20,000 tickets that were not due, answered in
    time or already breached read 400,310 rows and index entries of tickets and parked, both whole on every scan;
    by key with the old index, 100,075 (the 10,000 answered in time, on every scan); now 75 (test_ticket_scale.py)."""
    now = deps.clock()
    async with by_key_connection(deps.pool) as conn, conn.transaction():
        rows = await db.claim_breached(conn, now, limit, BREACHES.loop)
        for row in rows:
            await BREACHES.run(conn, row["id"], partial(_breach, deps, conn, row, now))
        return len(rows)
