"""Postgres access for delivery: claim due notifications, record results in batches, dead letters, re-drive."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg
from pydantic import ValidationError

from care_schemas.bounded import describe_validation
from care_schemas.envelope import utcnow
from care_schemas.events.alert import Alert, AlertStatus
from care_schemas.events.deadletter import MAX_REASON, NotificationDeadLettered, NotificationDeadLetteredData
from care_schemas.topics import NOTIFY_DEADLETTER
from carekit.faults import storable
from carekit.outbox import enqueue

SOURCE = "/notify-service"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    id: int
    subscriber_id: str
    org_id: str
    channel: str
    grp: str
    attempts: int
    window_from: datetime
    alert: Alert


@dataclass(frozen=True)
class Result:
    """What became of one message: the notifications it carried and the answer."""

    rows: Sequence[Claimed]
    outcome: str  # delivered | retry | dead | cancelled | resplit (413: the rows stay in flight, re-sent smaller)
    http_status: int | None
    detail: str
    latency_ms: float
    retry_in_s: float = 0.0


async def release_in_flight(pool: asyncpg.Pool) -> int:
    """After a crash, notifications that were being sent are due again (they may be sent twice)."""
    status = await pool.execute("UPDATE notifications SET state = 'pending' WHERE state = 'sending'")
    return int(status.split()[-1])


async def claim(pool: asyncpg.Pool, limit: int, skip: Sequence[str] = ()) -> list[Claimed]:
    """Mark due notifications as being sent: due ones, plus first attempts of the same groups (grouping);
    a resolved notice waits while a firing notice of its alert is still queued, and until one was delivered
    (a dead-lettered firing notice holds it until staff re-drive it); subscribers in `skip` (their workers
    already hold a full backlog) are left for later, so they cannot crowd other targets out."""
    rows = await pool.fetch(
        """
        WITH due_groups AS (
            SELECT DISTINCT grp FROM (
                SELECT grp FROM notifications WHERE state = 'pending' AND next_attempt_at <= now()
                  AND subscriber_id <> ALL($2::text[])
                ORDER BY next_attempt_at LIMIT $1
            ) d
        ), picked AS (
            SELECT n.id FROM notifications n
            WHERE n.state = 'pending' AND n.subscriber_id <> ALL($2::text[])
              AND (n.next_attempt_at <= now() OR (n.attempts = 0 AND n.grp IN (SELECT grp FROM due_groups)))
              AND NOT (n.status = 'resolved' AND (
                    EXISTS (
                        SELECT 1 FROM notifications f WHERE f.subscriber_id = n.subscriber_id
                          AND f.fingerprint = n.fingerprint AND f.starts_at = n.starts_at AND f.status = 'firing'
                          AND f.state IN ('pending', 'sending'))
                    OR NOT EXISTS (
                        SELECT 1 FROM notifications f WHERE f.subscriber_id = n.subscriber_id
                          AND f.fingerprint = n.fingerprint AND f.starts_at = n.starts_at AND f.status = 'firing'
                          AND f.state = 'delivered')))
            ORDER BY n.id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE notifications n SET state = 'sending' FROM picked WHERE n.id = picked.id
        RETURNING n.id, n.subscriber_id, n.org_id, n.channel, n.grp, n.attempts, n.window_from, n.alert,
                  n.fingerprint, n.status, n.starts_at
        """,
        limit,
        list(skip),
    )
    claimed: list[Claimed] = []
    unreadable: list[tuple[asyncpg.Record, str]] = []
    for r in sorted(rows, key=lambda r: r["id"]):
        try:
            alert = Alert.model_validate(r["alert"])
        except ValidationError as exc:  # stored before a schema change, or edited by hand: only this row fails
            unreadable.append((r, f"the stored alert no longer validates: {describe_validation(exc)}"))
            continue
        claimed.append(
            Claimed(
                r["id"], r["subscriber_id"], r["org_id"], r["channel"], r["grp"], r["attempts"], r["window_from"], alert
            )
        )
    if unreadable:
        await _isolate_unreadable(pool, unreadable)
    return claimed


async def _isolate_unreadable(pool: asyncpg.Pool, rows: Sequence[tuple[asyncpg.Record, str]]) -> None:
    """Dead-letter claimed notifications whose stored alert cannot be read, with the reason, so that staff see and
    can re-drive them (after fixing the row); every other notification goes on."""
    async with pool.acquire() as conn, conn.transaction():
        for r, reason in rows:
            log.warning("notification %s isolated: %s", r["id"], reason)
            await _dead_letter(
                conn,
                notification_id=r["id"],
                subscriber_id=r["subscriber_id"],
                org_id=r["org_id"],
                channel=r["channel"],
                fingerprint=r["fingerprint"],
                reason=reason,
            )
            if r["status"] == AlertStatus.FIRING.value:
                await conn.execute(PARK_RESOLVED, r["subscriber_id"], r["fingerprint"], r["starts_at"])


async def record(pool: asyncpg.Pool, results: Sequence[Result]) -> list[tuple[Claimed, str]]:
    """Write attempts and move notifications on, in one transaction; returns the dead-lettered rows."""
    results = [replace(res, detail=storable(res.detail)[:MAX_REASON]) for res in results]
    delivered = [r.id for res in results if res.outcome == "delivered" for r in res.rows]
    retries = [(r.id, res.detail, res.retry_in_s) for res in results if res.outcome == "retry" for r in res.rows]
    dead = [(r, res.detail) for res in results if res.outcome == "dead" for r in res.rows]
    cancelled = [r.id for res in results if res.outcome == "cancelled" for r in res.rows]
    attempts = [res for res in results if res.outcome != "cancelled"]
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids, fingerprints, attempt,"
            " outcome, http_status, detail, latency_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            [
                (
                    res.rows[0].org_id,
                    res.rows[0].subscriber_id,
                    res.rows[0].channel,
                    [r.id for r in res.rows],
                    [r.alert.fingerprint for r in res.rows],
                    max(r.attempts for r in res.rows) + 1,
                    res.outcome,
                    res.http_status,
                    res.detail,
                    res.latency_ms,
                )
                for res in attempts
            ],
        )
        if cancelled:
            await conn.execute(
                "UPDATE notifications SET state = 'cancelled', last_error = 'cancelled: subscriber deleted or"
                " suspended' WHERE id = ANY($1::bigint[]) AND state = 'sending'",
                cancelled,
            )
        if delivered:
            await conn.execute(
                "UPDATE notifications SET state = 'delivered', attempts = attempts + 1, delivered_at = now(),"
                " last_error = NULL WHERE id = ANY($1::bigint[]) AND state = 'sending'",
                delivered,
            )
        if retries:
            await conn.execute(
                """
                UPDATE notifications n SET state = 'pending', attempts = attempts + 1, last_error = r.detail,
                    next_attempt_at = now() + make_interval(secs => r.delay)
                FROM unnest($1::bigint[], $2::text[], $3::float8[]) AS r(id, detail, delay)
                WHERE n.id = r.id AND n.state = 'sending'
                """,
                [r[0] for r in retries],
                [r[1] for r in retries],
                [r[2] for r in retries],
            )
        for row, reason in dead:
            await dead_letter(conn, row, reason)
    return dead


async def _dead_letter(
    conn: asyncpg.Connection,
    *,
    notification_id: int,
    subscriber_id: str,
    org_id: str,
    channel: str,
    fingerprint: str,
    reason: str,
) -> bool:
    """Mark a notification being sent as dead, keep the failure for operators and publish NotificationDeadLettered
    through the outbox; False when it was no longer being sent."""
    reason = storable(reason)[:MAX_REASON]
    updated = await conn.fetchval(
        "UPDATE notifications SET state = 'dead', attempts = attempts + 1, last_error = $2"
        " WHERE id = $1 AND state = 'sending' RETURNING attempts",
        notification_id,
        reason,
    )
    if updated is None:
        return False
    await conn.execute(
        "INSERT INTO dead_letters (notification_id, subscriber_id, org_id, channel, fingerprint, attempts, reason)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        notification_id,
        subscriber_id,
        org_id,
        channel,
        fingerprint,
        updated,
        reason,
    )
    event = NotificationDeadLettered.build(
        source=SOURCE,
        subject=subscriber_id,
        data=NotificationDeadLetteredData(
            notification_id=str(notification_id),
            subscriber_id=subscriber_id,
            org_id=org_id,
            channel=channel,
            fingerprint=fingerprint,
            attempts=updated,
            reason=reason,
            dead_lettered_at=utcnow(),
        ),
    )
    await enqueue(conn, NOTIFY_DEADLETTER, subscriber_id, event)
    return True


async def dead_letter(conn: asyncpg.Connection, row: Claimed, reason: str) -> None:
    """Dead-letter a claimed notification; a resolved notice waiting for this firing one is parked with it."""
    done = await _dead_letter(
        conn,
        notification_id=row.id,
        subscriber_id=row.subscriber_id,
        org_id=row.org_id,
        channel=row.channel,
        fingerprint=row.alert.fingerprint,
        reason=reason,
    )
    if done and row.alert.status is AlertStatus.FIRING:
        await conn.execute(PARK_RESOLVED, row.subscriber_id, row.alert.fingerprint, row.alert.starts_at)


# A resolved notice whose alert never had a firing notice delivered, and none is on its way, waits for a re-drive
# of the dead-lettered firing notice: it is parked (never due) rather than scanned by every claim meanwhile.
PARK_RESOLVED = """
    UPDATE notifications r SET next_attempt_at = 'infinity'
    WHERE r.subscriber_id = $1 AND r.fingerprint = $2 AND r.starts_at = $3 AND r.status = 'resolved'
      AND r.state = 'pending' AND NOT EXISTS (
        SELECT 1 FROM notifications f WHERE f.subscriber_id = r.subscriber_id AND f.fingerprint = r.fingerprint
          AND f.starts_at = r.starts_at AND f.status = 'firing' AND f.state IN ('pending', 'sending', 'delivered'))
"""


async def redrive(pool: asyncpg.Pool, dead_letter_id: int, by: str) -> bool:
    """Queue a dead-lettered notification again with a fresh retry window; False if unknown or already done."""
    async with pool.acquire() as conn, conn.transaction():
        notification_id = await conn.fetchval(
            "UPDATE dead_letters SET redriven_at = now(), redriven_by = $2 WHERE id = $1 AND redriven_at IS NULL"
            " RETURNING notification_id",
            dead_letter_id,
            by,
        )
        if notification_id is None:
            return False
        revived = await conn.fetchrow(
            "UPDATE notifications SET state = 'pending', next_attempt_at = now(), window_from = now()"
            " WHERE id = $1 AND state = 'dead' RETURNING subscriber_id, fingerprint, starts_at, status",
            notification_id,
        )
        if revived is not None and revived["status"] == "firing":
            # its parked resolved notice is due again; the claim still holds it until the firing one is delivered
            await conn.execute(
                "UPDATE notifications SET next_attempt_at = now(), window_from = now() WHERE subscriber_id = $1"
                " AND fingerprint = $2 AND starts_at = $3 AND status = 'resolved' AND state = 'pending'"
                " AND next_attempt_at = 'infinity'",
                revived["subscriber_id"],
                revived["fingerprint"],
                revived["starts_at"],
            )
        await conn.execute("NOTIFY notifications")
        return True
