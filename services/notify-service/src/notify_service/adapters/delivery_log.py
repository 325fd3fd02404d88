"""Postgres reads for the delivery log (owners) and the dead letters (staff)."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from carekit.db import by_key_connection


async def attempts(
    pool: asyncpg.Pool,
    org_id: str,
    subscriber_id: str | None,
    fingerprint: str | None,
    limit: int,
    kind: str | None = None,
    after_id: int | None = None,
) -> list[asyncpg.Record]:
    """The organisation's delivery attempts (alert notifications and notices), newest first, optionally for one
    subscriber, one alert, one kind (`alert` or `notice`), or only those after `after_id` (to follow the log); by
    key, never every organisation's attempts."""
    async with by_key_connection(pool) as conn:
        rows: list[asyncpg.Record] = await conn.fetch(
            """
            SELECT id, subscriber_id, channel, fingerprints, notification_ids, attempt, outcome, http_status, detail,
                   latency_ms, attempted_at, notice, recipient, message_id
            FROM delivery_attempts
            WHERE org_id = $1 AND ($2::text IS NULL OR subscriber_id = $2)
              AND ($3::text IS NULL OR $3 = ANY(fingerprints))
              AND ($5::text IS NULL OR ($5 = 'notice') = (notice IS NOT NULL)) AND ($6::bigint IS NULL OR id > $6)
            ORDER BY id DESC LIMIT $4
            """,
            org_id,
            subscriber_id,
            fingerprint,
            limit,
            kind,
            after_id,
        )
    return rows


async def counts_by_outcome(
    pool: asyncpg.Pool, org_id: str, subscriber_id: str | None, since: datetime, bucket: timedelta
) -> list[tuple[int, str, int]]:
    """(bucket index from `since`, outcome, attempts) for the organisation's attempts since `since`."""
    rows = await pool.fetch(
        """
        SELECT floor(extract(epoch FROM attempted_at - $3) / $4)::int AS i, outcome, count(*)::int AS n
        FROM delivery_attempts
        WHERE org_id = $1 AND ($2::text IS NULL OR subscriber_id = $2) AND attempted_at >= $3
        GROUP BY 1, 2
        """,
        org_id,
        subscriber_id,
        since,
        bucket.total_seconds(),
    )
    return [(r["i"], r["outcome"], r["n"]) for r in rows]


async def dead_letters(
    pool: asyncpg.Pool, org_id: str | None, include_redriven: bool, limit: int
) -> list[asyncpg.Record]:
    """Notifications that failed for good, newest first."""
    rows: list[asyncpg.Record] = await pool.fetch(
        """
        SELECT id, notification_id, subscriber_id, org_id, channel, fingerprint, attempts, reason, created_at,
               redriven_at, redriven_by
        FROM dead_letters
        WHERE ($1::text IS NULL OR org_id = $1) AND ($2 OR redriven_at IS NULL)
        ORDER BY id DESC LIMIT $3
        """,
        org_id,
        include_redriven,
        limit,
    )
    return rows
