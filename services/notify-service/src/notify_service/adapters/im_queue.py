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


async def due(conn: asyncpg.Connection, limit: int = 50) -> list[ImMessage]:
    rows = await conn.fetch(
        "SELECT id, kind, target, body, attempts, created_at FROM im_messages"
        " WHERE state = 'pending' AND next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return [ImMessage(r["id"], r["kind"], r["target"], r["body"], r["attempts"], r["created_at"]) for r in rows]


async def revive_redriven(conn: asyncpg.Connection, loop: str) -> int:
    """Dead messages an operator re-drove (their parked entry) are due again, with a fresh retry window."""
    status = await conn.execute(
        """
        UPDATE im_messages m SET state = 'pending', attempts = 0, next_attempt_at = now(), created_at = now()
        WHERE m.state = 'dead'
          AND EXISTS (SELECT 1 FROM parked p WHERE p.loop = $1 AND p.key = m.id::text AND p.redriven_at IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = $1 AND p.key = m.id::text AND p.redriven_at IS NULL)
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
