"""A connection handed back without waiting (carekit.db.acquired), against a real Postgres: the caller goes on at
once, and the pool still resets the connection before anyone else gets it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from carekit.db import acquired, create_pool
from carekit_testing import within

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_the_caller_goes_on_before_the_reset_and_the_next_taker_gets_a_reset_connection(
    fresh_database_url: str,
) -> None:
    pool = await create_pool(fresh_database_url, min_size=1, max_size=1)
    try:
        async with acquired(pool) as conn:
            await conn.execute("SET statement_timeout = '7s'")  # session state the next taker must not inherit
            await conn.execute("LISTEN kit_acquired_test")
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_lock(4242)")  # a session lock, held past the transaction
            pid = conn.get_server_pid()
        assert pool.get_idle_size() == 0  # not handed back yet: the caller did not wait for the reset

        async with pool.acquire() as again:  # the one connection, once it is back
            assert again.get_server_pid() == pid
            assert await again.fetchval("SHOW statement_timeout") == "0"
            assert await again.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
            held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            assert await again.fetchval(held) == 0
    finally:
        await within(pool.close(), 10)


async def test_a_connection_that_died_inside_is_replaced_and_nothing_reaches_the_caller(
    fresh_database_url: str,
) -> None:
    pool = await create_pool(fresh_database_url, min_size=1, max_size=1)
    admin = await asyncpg.connect(fresh_database_url)
    try:
        async with acquired(pool) as conn:
            pid = conn.get_server_pid()
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            await asyncio.sleep(0.2)  # the server has closed it
        async with pool.acquire() as fresh:
            assert await fresh.fetchval("SELECT 1") == 1
            assert fresh.get_server_pid() != pid
    finally:
        await admin.close()
        await within(pool.close(), 10)
