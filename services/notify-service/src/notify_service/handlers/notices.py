"""Notices from plan and ticket events: keep the organisations' contacts, queue each notice once (by event id)
for the delivery loop that sends ticket updates (same retries, dead letters and re-drive)."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from care_schemas.events.plan import OrgContactsChanged, PlanEvent
from care_schemas.events.ticket import TicketEvent
from carekit.consumer import first_time
from carekit.db import by_key_connection
from carekit.projection import current_plan
from notify_service.adapters import im_queue, notices
from notify_service.config import Settings
from notify_service.domain.notices import (
    Addressed,
    Audience,
    Contacts,
    outgoing,
    plan_notice,
    ticket_notice,
    wanted,
)

CONSUMER = "notices"


def audience(settings: Settings) -> Audience:
    return Audience(settings.console_url.rstrip("/"), settings.sales_notice_email, settings.sales_chat)


async def _queue(conn: asyncpg.Connection, event_id: str, addressed: Addressed | None) -> int:
    if addressed is None:
        return 0
    plan = await current_plan(conn, addressed.org_id)
    messages = outgoing(addressed, chat_allowed=plan.entitlements.im_ticket_creation)
    if not addressed.customer:
        messages = [m.__class__(m.kind, notices.VENDOR, m.target, m.body) for m in messages]
    elif not messages:
        await notices.log_unaddressed(conn, addressed.org_id, addressed.notice.topic)
        return 0
    return await im_queue.enqueue(conn, event_id, messages)


async def _tell(
    conn: asyncpg.Connection,
    event_id: str,
    org_id: str,
    notice: Callable[[Contacts], Addressed | None],
) -> int:
    """Queue the notice an event causes for the organisation's contacts, once per event id, unless they
    unsubscribed from its kind."""
    if not await first_time(conn, CONSUMER, event_id):
        return 0
    contacts = await notices.contacts_of(conn, org_id)
    addressed = notice(contacts)
    if addressed is not None and not wanted(addressed, contacts):
        return 0
    return await _queue(conn, event_id, addressed)


async def take_in_plan_event(pool: asyncpg.Pool, event: PlanEvent, settings: Settings) -> int:
    """Contacts are kept; any other plan event queues the notice it causes, once per event id. By key whatever the
    statistics, as every event reads one organisation's contacts and plan: planned after an ANALYZE that found them
    empty, ten events after 20,000 other organisations read 200,010 rows, now 10 (test_notify_scale.py)."""
    async with by_key_connection(pool) as conn, conn.transaction():
        if isinstance(event, OrgContactsChanged):
            await notices.apply_contacts(conn, event)
            return 0
        readers = audience(settings)
        return await _tell(conn, event.id, event.data.org_id, lambda contacts: plan_notice(event, contacts, readers))


async def take_in_ticket_event(pool: asyncpg.Pool, event: TicketEvent, settings: Settings) -> int:
    """A customer-visible reply or status change is told to the ticket's reporter, once per event id (by key, as
    `take_in_plan_event`)."""
    async with by_key_connection(pool) as conn, conn.transaction():
        readers = audience(settings)
        return await _tell(conn, event.id, event.data.org_id, lambda contacts: ticket_notice(event, contacts, readers))
