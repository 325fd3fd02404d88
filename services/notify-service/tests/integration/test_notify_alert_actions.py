"""Acknowledge and Open ticket on real Postgres: an acknowledged firing gets no repeat (a new firing does), the first
acknowledgement stays, and a ticket opened from an alert is told once when that alert resolves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio

from care_schemas.catalogue import PlanCode, Severity
from care_schemas.events.action import (
    AlertAcknowledged,
    AlertAcknowledgedData,
    ChatMessage,
    TicketAlertResolved,
    action_event_adapter,
)
from care_schemas.events.alert import Alert, AlertRef, AlertStatus
from care_schemas.events.ticket import ImPlatform, TicketChannel, TicketKind, TicketOpened, TicketOpenedData
from notify_service.adapters import alert_actions as store
from notify_service.adapters.repository import queue_repeats
from notify_service.handlers import alert_actions

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
HOURS_3 = 3 * 3600.0


@pytest_asyncio.fixture(loop_scope="session")
async def pool(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The migrated pool (conftest.py) with the one slack subscriber these tests notify."""
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
        " VALUES ('sub-a', 'org-1', 'proj-1', 'slack', 'a', '\\x00', '{}', 't')"
    )
    return pool


async def _notified_4h_ago(pool: asyncpg.Pool, alert: Alert) -> None:
    await pool.execute(
        "INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (org_id, fingerprint) DO UPDATE SET status = EXCLUDED.status, starts_at = EXCLUDED.starts_at,"
        " alert = EXCLUDED.alert",
        alert.org_id,
        alert.fingerprint,
        alert.status.value,
        alert.starts_at,
        alert.model_dump(mode="json"),
        f"e-{alert.fingerprint}-{alert.starts_at.timestamp()}",
    )
    await pool.execute(
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " round, alert, state, attempts, delivered_at) VALUES ('sub-a', $1, 'slack', 'sub-a/', $2, 'firing',"
        " 'critical', $3, 0, $4, 'delivered', 1, now() - interval '4 hours')"
        " ON CONFLICT DO NOTHING",
        alert.org_id,
        alert.fingerprint,
        alert.starts_at,
        alert.model_dump(mode="json"),
    )


def _ack(alert: Alert, user: str) -> AlertAcknowledged:
    message = ChatMessage(platform=ImPlatform.SLACK, workspace="T1", channel="C1", message_id="1.2")
    return AlertAcknowledged.build(
        source="/ticket-service",
        subject=alert.fingerprint,
        data=AlertAcknowledgedData(
            alert=AlertRef(org_id=alert.org_id, fingerprint=alert.fingerprint, starts_at=alert.starts_at),
            acknowledged_by=user,
            acknowledged_at=datetime.now(UTC),
            subscriber_id="sub-a",
            message=message,
        ),
    )


async def test_an_acknowledged_firing_gets_no_repeat_and_the_first_acknowledgement_stays(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    acked = alert.model_copy(update={"fingerprint": "fp-acked", "starts_at": datetime.now(UTC) - timedelta(hours=5)})
    other = alert.model_copy(update={"fingerprint": "fp-other", "starts_at": datetime.now(UTC) - timedelta(hours=5)})
    await _notified_4h_ago(pool, acked)
    await _notified_4h_ago(pool, other)
    await alert_actions.take_in_action(pool, _ack(acked, "U1"))
    await alert_actions.take_in_action(pool, _ack(acked, "U2"))
    async with pool.acquire() as conn:
        assert await queue_repeats(conn, HOURS_3) == 1, "only the alert nobody acknowledged is repeated"
        [row] = await conn.fetch("SELECT fingerprint FROM notifications WHERE round = 1")
    assert row["fingerprint"] == "fp-other"
    acks, _ = await store.acts(pool, "org-1", ["fp-acked", "fp-other"])
    assert list(acks) == ["fp-acked"]
    assert acks["fp-acked"].by == "U1"

    refired = acked.model_copy(update={"starts_at": datetime.now(UTC) - timedelta(hours=4, minutes=30)})
    await _notified_4h_ago(pool, refired)
    async with pool.acquire() as conn:
        assert await queue_repeats(conn, HOURS_3) == 1, "a new firing (new start) is repeated again"
    acks, _ = await store.acts(pool, "org-1", ["fp-acked"])
    assert acks == {}, "the acknowledgement belonged to the earlier firing"


async def test_an_acknowledgement_ends_when_the_alert_resolves_and_fires_again_with_the_same_start(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    firing = alert.model_copy(update={"fingerprint": "fp-episode", "starts_at": datetime.now(UTC) - timedelta(hours=5)})
    await _notified_4h_ago(pool, firing)
    await alert_actions.take_in_action(pool, _ack(firing, "U1"))
    async with pool.acquire() as conn:
        assert await queue_repeats(conn, HOURS_3) == 0, "acknowledged: no repeat"
        # it resolved and fired again with the same start: a new episode, notified again
        await conn.execute("UPDATE alerts SET episode = 1 WHERE fingerprint = 'fp-episode'")
        await conn.execute(
            "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
            " round, alert, state, attempts, delivered_at, episode) SELECT subscriber_id, org_id, channel, grp,"
            " fingerprint, status, severity, starts_at, round, alert, state, attempts, delivered_at, 1"
            " FROM notifications WHERE fingerprint = 'fp-episode'"
        )
        assert await queue_repeats(conn, HOURS_3) == 1, "the new episode is repeated: nobody acknowledged it"
    acks, _ = await store.acts(pool, "org-1", ["fp-episode"])
    assert acks == {}, "the message of the new episode shows no acknowledgement"


def _opened(alert: Alert, ticket_id: str) -> TicketOpened:
    return TicketOpened.build(
        source="/ticket-service",
        subject=ticket_id,
        data=TicketOpenedData(
            ticket_id=ticket_id,
            org_id=alert.org_id,
            kind=TicketKind.TECHNICAL,
            severity=Severity.S2,
            plan=PlanCode.ENTERPRISE,
            channel=TicketChannel.SLACK,
            summary=alert.summary,
            opened_at=datetime.now(UTC),
            response_due_at=None,
            link=f"https://support.example/tickets/{ticket_id}",
            alert=AlertRef(org_id=alert.org_id, fingerprint=alert.fingerprint, starts_at=alert.starts_at),
        ),
    )


async def test_a_ticket_opened_from_an_alert_is_told_once_when_it_resolves(pool: asyncpg.Pool, alert: Alert) -> None:
    firing = alert.model_copy(update={"fingerprint": "fp-ticket", "starts_at": datetime.now(UTC)})
    await _notified_4h_ago(pool, firing)
    await alert_actions.take_in_ticket(pool, _opened(firing, "T-1"))
    await alert_actions.take_in_ticket(pool, _opened(firing, "T-1"))
    _, tickets = await store.acts(pool, "org-1", ["fp-ticket"])
    assert tickets == {"fp-ticket": ("T-1", "https://support.example/tickets/T-1")}
    assert await store.tell_resolved(pool) == 0, "still firing: nothing to tell"

    ended = datetime.now(UTC)
    resolved = firing.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": ended})
    await _notified_4h_ago(pool, resolved)
    assert await store.tell_resolved(pool) == 1
    assert await store.tell_resolved(pool) == 0, "told once"
    [row] = await pool.fetch("SELECT topic, key, payload FROM outbox WHERE event_type = $1", TicketAlertResolved.TYPE)
    event = action_event_adapter.validate_json(row["payload"])
    assert isinstance(event, TicketAlertResolved)
    assert (row["topic"], row["key"]) == ("alert.actions.v1", "org-1")
    assert (event.data.ticket_id, event.data.alert.fingerprint, event.data.resolved_at) == ("T-1", "fp-ticket", ended)
