"""The 3-hour repeat on real Postgres: it counts from the last notice sent for that alert to that subscriber."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from care_schemas.events.alert import Alert, AlertSeverity
from notify_service.adapters.repository import queue_repeats

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
HOURS_3 = 3 * 3600.0


async def _firing(conn: asyncpg.Connection, alert: Alert, notices: list[tuple[str, int, timedelta]]) -> None:
    """A subscriber, the alert (still firing), and notices delivered `ago` (severity, round, ago), oldest first."""
    await conn.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
        " VALUES ('sub-r', $1, $2, 'webhook', 'r', '\\x00', '{}', 't')",
        alert.org_id,
        alert.project_id,
    )
    await conn.execute(
        "INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id) VALUES ($1, $2, 'firing', $3, $4,"
        " 'e1')",
        alert.org_id,
        alert.fingerprint,
        alert.starts_at,
        alert.model_dump(mode="json"),
    )
    for severity, rnd, ago in notices:
        await conn.execute(
            "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
            " round, alert, state, attempts, delivered_at) VALUES ('sub-r', $1, 'webhook', 'sub-r/', $2, 'firing', $3,"
            " $4, $5, $6, 'delivered', 1, now() - $7::interval)",
            alert.org_id,
            alert.fingerprint,
            severity,
            alert.starts_at,
            rnd,
            alert.model_copy(update={"severity": AlertSeverity(severity)}).model_dump(mode="json"),
            ago,
        )


async def test_after_a_severity_change_the_repeat_counts_from_the_newer_notice(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    critical = alert.model_copy(update={"severity": AlertSeverity.CRITICAL, "starts_at": datetime.now(UTC)})
    async with pool.acquire() as conn:
        # warning sent 4 h ago, then the alert became critical and that was sent 10 minutes ago
        await _firing(conn, critical, [("warning", 0, timedelta(hours=4)), ("critical", 0, timedelta(minutes=10))])
        assert await queue_repeats(conn, HOURS_3) == 0, "no repeat 10 minutes after the last notice"
        await conn.execute(
            "UPDATE notifications SET delivered_at = now() - interval '3 hours 1 minute' WHERE severity = 'critical'"
        )
        assert await queue_repeats(conn, HOURS_3) == 1
        assert await queue_repeats(conn, HOURS_3) == 0, "one repeat per round"
