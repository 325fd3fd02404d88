"""Postgres reads and writes behind the Alertmanager API: an organisation's alerts and receivers (subscribers, no
secrets), and the time-outs of alerts posted without being resolved."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from pydantic import ValidationError

from care_schemas.events.alert import Alert, AlertStatus, alert_event
from care_schemas.topics import ALERT_EVENTS
from carekit.db import by_key_connection
from carekit.outbox import enqueue

MAX_ALERTS = 10_000
SOURCE = "/notify-service/alertmanager-api"
log = logging.getLogger(__name__)


async def firing(pool: asyncpg.Pool, org: str) -> list[asyncpg.Record]:
    """The organisation's firing alerts (at most MAX_ALERTS, by fingerprint), with when they time out if posted
    through this API (by key: the organisation's alerts, never every organisation's)."""
    async with by_key_connection(pool) as conn:
        rows: list[asyncpg.Record] = await conn.fetch(
            """
            SELECT a.fingerprint, a.alert, a.updated_at, e.ends_at FROM alerts a
            LEFT JOIN am_alert_ends e
                ON e.org_id = a.org_id AND e.fingerprint = a.fingerprint AND e.starts_at = a.starts_at
            WHERE a.org_id = $1 AND a.status = 'firing'
            ORDER BY a.fingerprint LIMIT $2
            """,
            org,
            MAX_ALERTS,
        )
    return rows


async def receivers(conn: asyncpg.Connection | asyncpg.Pool, org: str) -> list[asyncpg.Record]:
    """Every subscriber of the organisation as a receiver: name, scope, filters, state (never its secrets)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, name, type, project_id, cluster_id, severities, rules, state FROM subscribers"
        " WHERE org_id = $1 ORDER BY name, id",
        org,
    )
    return rows


async def note_ends(conn: asyncpg.Connection | asyncpg.Pool, alerts: Sequence[tuple[Alert, datetime]]) -> None:
    """Firing alerts time out at their `endsAt` unless posted again; resolved ones no longer time out. For a
    connection that plans by key (the intake's transaction, `carekit.db.BY_KEY_LOCAL`): on one that does not, a
    plan made after an ANALYZE that found am_alert_ends empty deletes by reading every time-out (20,000 for each
    post at 20,000; test_notify_scale.py)."""
    firing = [(a, ends) for a, ends in alerts if a.status is AlertStatus.FIRING]
    resolved = [a for a, _ in alerts if a.status is AlertStatus.RESOLVED]
    if firing:
        await conn.execute(
            """
            INSERT INTO am_alert_ends (org_id, fingerprint, starts_at, ends_at, alert)
            SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::jsonb[])
            ON CONFLICT (org_id, fingerprint) DO UPDATE SET starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
                alert = EXCLUDED.alert
            """,
            [a.org_id for a, _ in firing],
            [a.fingerprint for a, _ in firing],
            [a.starts_at for a, _ in firing],
            [ends for _, ends in firing],
            [a.model_dump(mode="json") for a, _ in firing],
        )
    if resolved:
        await conn.execute(
            "DELETE FROM am_alert_ends e USING unnest($1::text[], $2::text[]) AS t(org_id, fingerprint)"
            " WHERE e.org_id = t.org_id AND e.fingerprint = t.fingerprint",
            [a.org_id for a in resolved],
            [a.fingerprint for a in resolved],
        )


async def resolve_timed_out(pool: asyncpg.Pool, limit: int = 500) -> int:
    """Alerts posted through the API and not posted again by their `endsAt` are resolved then, as Alertmanager
    does: an AlertResolved goes out through the outbox, in the transaction that drops the time-out."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """
            DELETE FROM am_alert_ends e WHERE (e.org_id, e.fingerprint) IN (
                SELECT org_id, fingerprint FROM am_alert_ends WHERE ends_at <= now() ORDER BY ends_at LIMIT $1
                FOR UPDATE SKIP LOCKED)
            RETURNING e.org_id, e.fingerprint, e.starts_at, e.ends_at, e.alert,
                EXISTS (SELECT 1 FROM alerts a WHERE a.org_id = e.org_id AND a.fingerprint = e.fingerprint
                        AND a.starts_at > e.starts_at) AS superseded
            """,
            limit,
        )
        for r in rows:
            if r["superseded"]:
                continue
            try:
                alert = Alert.model_validate({**r["alert"], "status": "resolved", "ends_at": r["ends_at"]})
            except ValidationError as exc:  # stored before a schema change: nothing to resolve it with
                log.error("timed-out alert %s of %s cannot be read: %s", r["fingerprint"], r["org_id"], exc)
                continue
            await enqueue(conn, ALERT_EVENTS, alert.org_id, alert_event(alert, source=SOURCE))
        return len(rows)
