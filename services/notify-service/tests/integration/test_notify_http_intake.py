"""The HTTP intake's store, on a real Postgres: a request cancelled while its transaction waits (its client went
away) still stores what it started to, since rows it inserts as being sent must reach this process's senders."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from notify_helpers import settings as notify_settings

from care_schemas.events.alert import Alert, alert_event
from care_schemas.topics import ALERT_EVENTS
from carekit.kafka import encode
from carekit_testing import eventually
from notify_service.adapters import mutes
from notify_service.handlers.delivery.dispatcher import Local
from notify_service.handlers.intake import AlertIntake

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def _waiting_on_a_lock(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))


async def test_a_request_cancelled_while_its_transaction_waits_still_stores_its_alerts(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    event = alert_event(alert, source="/t")
    intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local())  # type: ignore[arg-type]
    async with pool.acquire() as holder, holder.transaction():
        await mutes.lock_for_intake(holder, [alert.org_id])  # another intake transaction of the organisation
        request = asyncio.create_task(intake.accept([event], [(alert.org_id, encode(event, ALERT_EVENTS))], "http"))
        await eventually(lambda: _waiting_on_a_lock(pool), timeout_s=10)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request

    async def stored() -> list[str]:
        rows = await pool.fetch("SELECT event_id FROM alerts WHERE org_id = $1", alert.org_id)
        return [r["event_id"] for r in rows]

    assert await eventually(stored, timeout_s=10) == [event.id]
