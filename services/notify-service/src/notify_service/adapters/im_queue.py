"""Postgres access for ticket updates and TAM emails: a durable queue keyed by (event id, kind)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from carekit.faults import storable
from notify_service.domain.ticket_updates import Outgoing


@dataclass(frozen=True)
class ImMessage:
    id: int
    kind: str
    target: dict[str, Any]
    body: dict[str, Any]
    attempts: int
    created_at: datetime
    org_id: str = ""


async def enqueue(conn: asyncpg.Connection | asyncpg.Pool, event_id: str, messages: Sequence[Outgoing]) -> int:
    """Queue the messages an event causes; a redelivered event adds nothing."""
    added = 0
    for m in messages:
        row = await conn.fetchrow(
            "INSERT INTO im_messages (event_id, kind, org_id, target, body) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (event_id, kind) DO NOTHING RETURNING id",
            event_id,
            m.kind,
            m.org_id,
            m.target,
            m.body,
        )
        added += row is not None
    if added:
        await conn.execute("NOTIFY im_messages")
    return added


async def due(conn: asyncpg.Connection, limit: int = 50, kinds: Sequence[str] | None = None) -> list[ImMessage]:
    """Pending messages whose time has come (of these kinds), claimed for this transaction."""
    rows = await conn.fetch(
        "SELECT id, kind, target, body, attempts, created_at, org_id FROM im_messages"
        " WHERE state = 'pending' AND next_attempt_at <= now() AND ($2::text[] IS NULL OR kind = ANY($2::text[]))"
        " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
        list(kinds) if kinds is not None else None,
    )
    return [
        ImMessage(r["id"], r["kind"], r["target"], r["body"], r["attempts"], r["created_at"], r["org_id"]) for r in rows
    ]


async def revive_redriven(conn: asyncpg.Connection, loop: str) -> int:
    """Dead messages an operator re-drove (their parked entry) are due again, with a fresh retry window. Found from
    the re-driven entries (kept until the retention period ends), each message by its id: looking through every
    dead message (kept for good, re-drivable) for a re-driven entry cost more with every message that ever died.
    The messages are probes by id (`id = ANY`) whatever the plan: as a join, planned while the tables were nearly
    empty, it read every dead message once an index served the re-driven entries (test_notify_scale.py)."""
    status = await conn.execute(
        """
        UPDATE im_messages m SET state = 'pending', attempts = 0, next_attempt_at = now(), created_at = now()
        WHERE m.id = ANY (ARRAY(SELECT DISTINCT p.key::bigint FROM parked p
                                WHERE p.loop = $1 AND p.redriven_at IS NOT NULL AND p.key ~ '^[0-9]{1,18}$'
                                  AND NOT EXISTS (SELECT 1 FROM parked w WHERE w.loop = $1 AND w.key = p.key
                                                  AND w.redriven_at IS NULL OFFSET 0)))
          AND m.state = 'dead'
        """,
        loop,
    )
    return int(status.split()[-1])


async def settle(conn: asyncpg.Connection, message_id: int, state: str, error: str | None, retry_in_s: float) -> None:
    error = storable(error)[:4000] if error is not None else None
    await conn.execute(
        "UPDATE im_messages SET state = $2, attempts = attempts + 1, last_error = $3,"
        " delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,"
        " next_attempt_at = now() + make_interval(secs => $4) WHERE id = $1",
        message_id,
        state,
        error,
        retry_in_s,
    )


FAILED_COLUMNS = (
    "id, event_id, kind, org_id, target, state, attempts, last_error, created_at, next_attempt_at, body->>'notice'"
    " AS notice"
)


async def failed(
    pool: asyncpg.Pool, *, org_id: str | None, state: str | None, kind: str | None, limit: int
) -> list[asyncpg.Record]:
    """Messages that failed for good (`dead`) or are being retried (`retrying`: pending after a failed attempt),
    newest first."""
    rows: list[asyncpg.Record] = await pool.fetch(
        f"""
        SELECT {FAILED_COLUMNS} FROM im_messages
        WHERE state <> 'delivered' AND (state = 'dead' OR attempts > 0)
          AND ($1::text IS NULL OR org_id = $1) AND ($3::text IS NULL OR kind = $3)
          AND ($2::text IS NULL OR ($2 = 'dead' AND state = 'dead') OR ($2 = 'retrying' AND state = 'pending'))
        ORDER BY id DESC LIMIT $4
        """,  # noqa: S608  -- constant column list
        org_id,
        state,
        kind,
        limit,
    )
    return rows


async def redrive(pool: asyncpg.Pool, message_id: int, loops: Sequence[str], by: str) -> str | None:
    """Queue a dead or retrying message again at once with a fresh retry window; its parked entry (if any) is
    marked re-driven. The state it was in, or None when there is no such failed message."""
    async with pool.acquire() as conn, conn.transaction():
        before = await conn.fetchval(
            "SELECT state FROM im_messages WHERE id = $1 AND state <> 'delivered' AND (state = 'dead' OR attempts > 0)"
            " FOR UPDATE",
            message_id,
        )
        if before is None:
            return None
        await conn.execute(
            "UPDATE im_messages SET state = 'pending', attempts = 0, next_attempt_at = now(), created_at = now()"
            " WHERE id = $1",
            message_id,
        )
        await conn.execute(
            "UPDATE parked SET redriven_at = now(), redriven_by = $3 WHERE loop = ANY($1::text[]) AND key = $2"
            " AND redriven_at IS NULL",
            list(loops),
            str(message_id),
            by,
        )
        await conn.execute("NOTIFY im_messages")
        return str(before)
