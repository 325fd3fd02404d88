"""Delivery partitions leased to instances: each of the 64 partitions (every target belongs to one) is owned by one
instance at a time, so a target's rate limits, its Retry-After pause and its messages in flight live in one place,
and every instance alive takes a fair share. Leases are timed on the database's clock."""

from __future__ import annotations

import math
from collections.abc import Sequence

import asyncpg

from notify_service.domain.subscribers import PARTITIONS


async def heartbeat(pool: asyncpg.Pool, me: str, ttl_s: float, share: float = 1.0) -> int:
    """Say this instance is alive with its share (`DELIVERY_SHARE`), forget instances silent for longer than `ttl_s`;
    how many partitions this instance should hold: ceil(64 x its share / the shares of those alive), at least 1."""
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO delivery_instances (id, seen_at, share) VALUES ($1, now(), $2)"
            " ON CONFLICT (id) DO UPDATE SET seen_at = now(), share = $2",
            me,
            share,
        )
        await conn.execute("DELETE FROM delivery_instances WHERE seen_at < now() - make_interval(secs => $1)", ttl_s)
        shares: float = await conn.fetchval("SELECT sum(share) FROM delivery_instances")
        return fair_share(share, shares)


def fair_share(share: float, shares: float) -> int:
    """An instance's partitions: the instances' fair shares add up to at least all 64, so none is left unheld."""
    return max(1, min(PARTITIONS, math.ceil(PARTITIONS * share / max(shares, share) - 1e-9)))


async def renew(pool: asyncpg.Pool, me: str, ttl_s: float) -> set[int]:
    """Extend this instance's leases; the partitions it still owns."""
    rows = await pool.fetch(
        "UPDATE delivery_partitions SET lease_until = now() + make_interval(secs => $2)"
        " WHERE owner = $1 AND lease_until > now() RETURNING part",
        me,
        ttl_s,
    )
    return {r["part"] for r in rows}


async def acquire(pool: asyncpg.Pool, me: str, ttl_s: float, want: int) -> set[int]:
    """Take up to `want` partitions nobody holds (free, released, or whose owner stopped renewing)."""
    if want <= 0:
        return set()
    rows = await pool.fetch(
        """
        UPDATE delivery_partitions d SET owner = $1, lease_until = now() + make_interval(secs => $2)
        FROM (SELECT part FROM delivery_partitions WHERE owner IS NULL OR lease_until <= now()
              ORDER BY part LIMIT $3 FOR UPDATE SKIP LOCKED) free
        WHERE d.part = free.part
        RETURNING d.part
        """,
        me,
        ttl_s,
        want,
    )
    return {r["part"] for r in rows}


async def release(pool: asyncpg.Pool, me: str, parts: Sequence[int]) -> None:
    """Hand partitions back (their unsent notifications are already pending again)."""
    await pool.execute(
        "UPDATE delivery_partitions SET owner = NULL, lease_until = '-infinity' WHERE owner = $1 AND part = ANY($2)",
        me,
        list(parts),
    )


async def leave(pool: asyncpg.Pool, me: str) -> None:
    """A clean stop: every lease handed back at once, so that others need not wait for them to run out."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE delivery_partitions SET owner = NULL, lease_until = '-infinity' WHERE owner = $1", me
        )
        await conn.execute("DELETE FROM delivery_instances WHERE id = $1", me)
