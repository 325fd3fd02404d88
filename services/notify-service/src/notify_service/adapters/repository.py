"""Postgres access for alerts, subscribers and the notification queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from care_schemas.events.alert import Alert, AlertFiring, AlertResolved


async def store_alerts(conn: asyncpg.Connection, events: Sequence[AlertFiring | AlertResolved]) -> None:
    """Upsert the active-alert state, keeping the newest status per fingerprint."""
    await conn.executemany(
        """
        INSERT INTO alerts (org_id, fingerprint, status, starts_at, ends_at, alert, event_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (org_id, fingerprint) DO UPDATE SET status = EXCLUDED.status, starts_at = EXCLUDED.starts_at,
            ends_at = EXCLUDED.ends_at, alert = EXCLUDED.alert, event_id = EXCLUDED.event_id, updated_at = now()
        """,
        [
            (
                e.data.org_id,
                e.data.fingerprint,
                e.data.status.value,
                e.data.starts_at,
                e.data.ends_at,
                e.data.model_dump(mode="json"),
                e.id,
            )
            for e in events
        ],
    )


async def enqueue_notifications(conn: asyncpg.Connection, events: Sequence[AlertFiring | AlertResolved]) -> int:
    """One notification per matching subscriber; the natural key makes a replay harmless."""
    rows = [
        (
            e.data.org_id,
            e.data.project_id,
            e.data.cluster_id,
            e.data.fingerprint,
            e.data.status.value,
            e.data.starts_at,
            e.data.model_dump(mode="json"),
        )
        for e in events
    ]
    result = await conn.fetchval(
        """
        WITH incoming AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                                 $7::jsonb[])
                AS t(org_id, project_id, cluster_id, fingerprint, status, starts_at, alert)
        ), inserted AS (
            INSERT INTO notifications (subscriber_id, org_id, fingerprint, status, starts_at, alert)
            SELECT s.id, i.org_id, i.fingerprint, i.status, i.starts_at, i.alert
            FROM incoming i JOIN subscribers s
              ON s.org_id = i.org_id AND s.project_id = i.project_id
             AND (s.cluster_id IS NULL OR s.cluster_id = i.cluster_id)
            ON CONFLICT DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM inserted
        """,
        *[list(col) for col in zip(*rows, strict=True)],
    )
    await conn.execute("NOTIFY notifications")
    return int(result)


@dataclass(frozen=True)
class Due:
    id: int
    subscriber_id: str
    subscriber_name: str
    config: dict[str, Any]
    attempts: int
    alert: Alert


async def claim_due(conn: asyncpg.Connection, limit: int) -> list[Due]:
    """Lock due notifications for this worker (other workers skip them)."""
    rows = await conn.fetch(
        """
        SELECT n.id, n.subscriber_id, s.name, s.config, n.attempts, n.alert
        FROM notifications n JOIN subscribers s ON s.id = n.subscriber_id
        WHERE n.state = 'pending' AND n.next_attempt_at <= now()
        ORDER BY n.next_attempt_at, n.id
        LIMIT $1
        FOR UPDATE OF n SKIP LOCKED
        """,
        limit,
    )
    return [
        Due(r["id"], r["subscriber_id"], r["name"], r["config"], r["attempts"], Alert.model_validate(r["alert"]))
        for r in rows
    ]


async def record_attempt(
    conn: asyncpg.Connection,
    due: Due,
    *,
    outcome: str,
    http_status: int | None,
    detail: str | None,
    latency_ms: float,
    retry_in_s: float | None,
) -> None:
    """Record the attempt and move the notification on: delivered, retried later or dead."""
    attempt = due.attempts + 1
    await conn.execute(
        "INSERT INTO delivery_attempts (notification_id, attempt, outcome, http_status, detail, latency_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        due.id,
        attempt,
        outcome,
        http_status,
        detail,
        latency_ms,
    )
    if outcome == "delivered":
        await conn.execute(
            "UPDATE notifications SET state = 'delivered', attempts = $2, delivered_at = now(), last_error = NULL "
            "WHERE id = $1",
            due.id,
            attempt,
        )
    elif retry_in_s is not None:
        await conn.execute(
            "UPDATE notifications SET attempts = $2, last_error = $3, "
            "next_attempt_at = now() + make_interval(secs => $4) WHERE id = $1",
            due.id,
            attempt,
            detail,
            retry_in_s,
        )
    else:
        await conn.execute(
            "UPDATE notifications SET state = 'dead', attempts = $2, last_error = $3 WHERE id = $1",
            due.id,
            attempt,
            detail,
        )
