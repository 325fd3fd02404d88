"""Parked records: what a background loop isolated, visible to operators and re-drivable.

A loop processes each record in a savepoint (`Isolation.run`); an outage rolls the whole pass back to be
retried, a permanent failure (or the same unknown error POISON_ATTEMPTS times) parks that record with its reason
and the loop goes on with the others. Loops leave parked keys out of their queries with a condition such as
`NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = $2 AND p.key = t.id::text AND p.redriven_at IS NULL OFFSET 0)`
(the partial unique index on (loop, key) answers it), on a connection planned by key (`carekit.db`): OFFSET 0 keeps
it a probe for each candidate, where as a join a plan may read every record the loop ever parked on every pass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from carekit.faults import Fault, Retries, storable

T = TypeVar("T")
REDRIVEN = "parked_redriven"  # NOTIFY channel, payload the loop's name: a parked record of that loop was re-driven


async def park(conn: asyncpg.Connection | asyncpg.Pool, loop: str, key: str, reason: str) -> None:
    """Keep `key` out of `loop` until an operator re-drives it."""
    await conn.execute(
        "INSERT INTO parked (loop, key, reason) VALUES ($1, $2, $3)"
        " ON CONFLICT (loop, key) WHERE redriven_at IS NULL DO UPDATE SET reason = EXCLUDED.reason",
        loop,
        storable(key)[:512],
        storable(reason)[:4000],
    )


async def parked(
    pool: asyncpg.Pool, *, loop: str | None = None, include_redriven: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """Parked records, newest first."""
    rows = await pool.fetch(
        "SELECT id, loop, key, reason, parked_at, redriven_at, redriven_by FROM parked"
        " WHERE ($1::text IS NULL OR loop = $1) AND ($2 OR redriven_at IS NULL) ORDER BY id DESC LIMIT $3",
        loop,
        include_redriven,
        limit,
    )
    return [
        {
            "id": r["id"],
            "loop": r["loop"],
            "key": r["key"],
            "reason": r["reason"],
            "parked_at": r["parked_at"].isoformat(),
            "redriven_at": r["redriven_at"].isoformat() if r["redriven_at"] else None,
            "redriven_by": r["redriven_by"],
        }
        for r in rows
    ]


async def redrive(pool: asyncpg.Pool, parked_id: int, by: str) -> str | None:
    """Let the loop try the record again; the loop's name, or None if unknown or already re-driven."""
    async with pool.acquire() as conn, conn.transaction():
        loop: str | None = await conn.fetchval(
            "UPDATE parked SET redriven_at = now(), redriven_by = $2 WHERE id = $1 AND redriven_at IS NULL"
            " RETURNING loop",
            parked_id,
            by,
        )
        if loop is not None:
            await conn.execute("SELECT pg_notify($1, $2)", REDRIVEN, loop)
        return loop


class Isolation:
    """Runs one record's step of a loop in a savepoint and decides by the error what happens on failure."""

    def __init__(self, loop: str) -> None:
        self.loop = loop
        self.retries = Retries(loop)

    async def run(self, conn: asyncpg.Connection, key: str, step: Callable[[], Awaitable[T]]) -> T | None:
        """The step's result; None when it failed and was rolled back (parked, or left for the next pass).

        An outage raises: the caller's whole transaction is retried later.
        """
        try:
            async with conn.transaction():
                result = await step()
        except Exception as exc:
            decision = self.retries.decide(key, exc)
            if decision.fault is Fault.OUTAGE:
                raise
            if decision.isolate:
                await park(conn, self.loop, key, decision.reason)
                self.retries.isolated(key, decision.reason)
            return None
        self.retries.succeeded(key)
        return result
