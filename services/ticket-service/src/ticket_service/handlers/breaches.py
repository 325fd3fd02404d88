"""The response-target breach scan."""

from __future__ import annotations

from care_schemas.events.ticket import (
    TicketResponseBreached,
    TicketResponseBreachedData,
)
from care_schemas.topics import TICKET_EVENTS
from carekit.outbox import enqueue
from carekit.projection import current_plan
from ticket_service.adapters import postgres as db
from ticket_service.handlers.deps import (
    SOURCE,
    Deps,
)


async def scan_breaches(deps: Deps, *, limit: int = 200) -> int:
    """Emit TicketResponseBreached once for each ticket whose due time passed unanswered; return how many."""
    now = deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction():
        found = await db.claim_breached(conn, now, limit)
        for ticket in found:
            if not await db.mark_breached(conn, ticket.id, now):
                continue
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
        return len(found)
