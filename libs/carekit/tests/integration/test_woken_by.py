"""A loop woken by Postgres NOTIFY (carekit.polling.woken_by), against a real Postgres."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest

from carekit.polling import poll_forever, woken_by
from carekit_testing import within

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_a_notify_on_any_of_its_channels_wakes_the_loop_and_the_connection_goes_back_to_the_pool(
    pool: asyncpg.Pool,
) -> None:
    passes: list[int] = []
    second, third = asyncio.Event(), asyncio.Event()

    async def step() -> None:
        passes.append(len(passes))
        (second if len(passes) == 2 else third if len(passes) == 3 else asyncio.Event()).set()

    async def loop() -> None:
        async with woken_by(pool, "kit_test_a", "kit_test_b") as wake:
            await poll_forever(step, every_s=3600, what="test loop", log=logging.getLogger("test-woken-by"), wake=wake)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.2)  # the first pass ran; the loop now sleeps for an hour unless woken
    assert passes == [0]
    await pool.execute("NOTIFY kit_test_a")
    await within(second.wait(), 5)
    await pool.execute("NOTIFY kit_test_b")
    await within(third.wait(), 5)
    task.cancel()
    await asyncio.wait([task])
    assert pool.get_size() - pool.get_idle_size() == 0  # the listening connection is back, listening no more
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
