"""Postgres reads of the alerts notify-service holds, as last sent to it (for operators and the command line)."""

from __future__ import annotations

import asyncpg

COLUMNS = "fingerprint, org_id, status, starts_at, updated_at, alert"


async def latest(pool: asyncpg.Pool, org_id: str, status: str | None, limit: int) -> list[asyncpg.Record]:
    """The organisation's alerts, most recently changed first; only those of `status` when it is given."""
    rows: list[asyncpg.Record] = await pool.fetch(
        f"SELECT {COLUMNS} FROM alerts"  # noqa: S608 - constant column list
        " WHERE org_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY updated_at DESC LIMIT $3",
        org_id,
        status,
        limit,
    )
    return rows


async def one(pool: asyncpg.Pool, org_id: str, fingerprint: str) -> asyncpg.Record | None:
    """One of the organisation's alerts by fingerprint, or None."""
    return await pool.fetchrow(
        f"SELECT {COLUMNS} FROM alerts WHERE org_id = $1 AND fingerprint = $2",  # noqa: S608 - constant column list
        org_id,
        fingerprint,
    )
