"""Use cases: take in a batch of alerts; deliver one due notification."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from care_schemas.events.alert import AlertFiring, AlertResolved
from notify_service.adapters import repository


async def take_in_alerts(pool: asyncpg.Pool, events: Sequence[AlertFiring | AlertResolved]) -> int:
    """Store the alerts and queue one notification per matching subscriber, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await repository.store_alerts(conn, events)
        return await repository.enqueue_notifications(conn, events)
