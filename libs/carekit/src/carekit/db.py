"""Postgres pool and migrations: the kit's SQL first, then the service's, each applied once."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import asyncpg

KIT_MIGRATIONS = resources.files("carekit").joinpath("migrations")
MIGRATION_LOCK = 7_140_001
# `by_key` for the rest of one transaction, as an SQL expression for a statement the transaction runs first anyway:
# no round trip of its own, for a caller who waits for each (notify-service's intake)
BY_KEY_LOCAL = "set_config('enable_seqscan', 'off', true)"

log = logging.getLogger(__name__)
_handing_back: set[asyncio.Task[None]] = set()


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections read and write json/jsonb as Python objects."""
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
    assert pool is not None
    return pool


async def by_key(conn: asyncpg.Connection) -> None:
    """Plans made on `conn` from now on, for the session (`BY_KEY_LOCAL`: for one transaction), read a table by an
    index wherever one serves, never whole (`enable_seqscan = off`; a table no index serves is still read whole).

    For statements that find their rows by key and run again and again: Postgres plans a prepared statement once
    for all after its first five runs, and on a table of a few hundred rows (a new deployment, the first seconds of
    a burst) that plan reads the whole table. It keeps that plan while the table grows, until the next ANALYZE of
    it, reading every row on every run. A plan made before this call keeps its form, so call it before the
    statements' first run on the connection. The pool's reset (RESET ALL) ends a session's setting."""
    await conn.execute("SET enable_seqscan = off")


@asynccontextmanager
async def by_key_connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the pool whose plans read by key (`by_key`) until it goes back to the pool: for reads served
    per request that find their rows by key or organisation, on tables whose statistics may have been taken while
    they were nearly empty (one round trip more than `pool.fetch`)."""
    async with pool.acquire() as conn:
        await by_key(conn)
        yield conn


@asynccontextmanager
async def acquired(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the pool, as `pool.acquire()`, handed back without waiting for it.

    The pool resets a connection before anyone may take it again (`RESET ALL`, `UNLISTEN *`, advisory locks
    released): one more round trip, which under load cost notify-service's HTTP intake about 2 ms a request, as
    much as its commit (bench/README.md, "the intake's last round trip"). The caller's work is over by then (its
    transaction committed or rolled back inside the block), so the reset runs on its own; a connection it cannot
    reset is closed by the pool, as always."""
    conn: asyncpg.Connection = await pool.acquire()
    try:
        yield conn
    finally:
        task = asyncio.get_running_loop().create_task(_hand_back(pool, conn))
        _handing_back.add(task)  # held until done: the loop keeps only a weak reference
        task.add_done_callback(_handing_back.discard)


async def _hand_back(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    try:
        await pool.release(conn)
    except Exception as exc:  # the pool already closed it; nobody waits for this task to hear it
        log.warning("a connection could not be handed back to the pool: %s: %s", type(exc).__name__, exc)


def _scripts(service_dir: Path | None) -> list[tuple[str, str]]:
    found = [
        (f"kit/{p.name}", p.read_text(encoding="utf-8"))
        for p in sorted(KIT_MIGRATIONS.iterdir(), key=lambda p: p.name)
        if p.name.endswith(".sql")
    ]
    if service_dir is not None:
        found += [(p.name, p.read_text(encoding="utf-8")) for p in sorted(service_dir.glob("*.sql"))]
    return found


class MigrationChanged(RuntimeError):
    """An applied migration's file was edited afterwards: the database no longer matches the code."""


def _checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


async def migrate(pool: asyncpg.Pool, service_dir: Path | None) -> list[str]:
    """Apply pending migrations under an advisory lock (safe with several instances); return their names.

    An applied migration whose file changed since stops start-up: add a new migration instead.
    """
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), checksum text)"
            )
            await conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
            done = {r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schema_migrations")}
            for name, sql in _scripts(service_dir):
                if name in done:
                    if done[name] not in (None, _checksum(sql)):
                        raise MigrationChanged(
                            f"migration {name} was edited after it was applied to this database; "
                            "put the change in a new migration file (or recreate a development database)"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", name, _checksum(sql)
                    )
                applied.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied
