"""Work nobody waits for lets the requests under way finish first (carekit.foreground), for a bounded time."""

from __future__ import annotations

import asyncio

import pytest

from carekit.foreground import Foreground
from carekit_testing import within

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]


async def test_with_no_request_under_way_nothing_waits() -> None:
    foreground = Foreground()
    assert not foreground.busy
    await within(foreground.finish(3600), 1)


async def test_it_waits_for_the_requests_under_way_and_not_for_those_that_start_after() -> None:
    foreground = Foreground()
    first_ends, second_ends = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def request(name: str, ends: asyncio.Event) -> None:
        with foreground.under_way():
            await ends.wait()
        order.append(f"{name} stored")

    first = asyncio.create_task(request("first", first_ends))
    await asyncio.sleep(0)  # under way
    waiting = asyncio.create_task(foreground.finish(3600))
    await asyncio.sleep(0)
    second = asyncio.create_task(request("second", second_ends))  # starts while the first is under way
    await asyncio.sleep(0)
    assert foreground.busy
    assert not waiting.done(), "the first request is under way"
    first_ends.set()
    await within(waiting, 1)
    order.append("went on")
    assert not second.done(), "it did not wait for the request that started after it began to wait"
    second_ends.set()
    await within(asyncio.gather(first, second), 1)
    assert order == ["first stored", "went on", "second stored"]
    assert not foreground.busy


async def test_a_request_that_stays_under_way_is_waited_for_no_longer_than_the_bound() -> None:
    foreground = Foreground()
    never = asyncio.Event()

    async def request() -> None:
        with foreground.under_way():
            await never.wait()

    stuck = asyncio.create_task(request())
    await asyncio.sleep(0)
    await within(foreground.finish(0.01), 1)
    assert foreground.busy, "still under way: the wait ended at its bound"
    stuck.cancel()
    await asyncio.gather(stuck, return_exceptions=True)
    assert not foreground.busy, "a request cut short is no longer under way"
