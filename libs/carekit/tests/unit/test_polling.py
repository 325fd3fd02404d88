"""Polling loops: an outage is waited out until the next pass, a bug goes to the supervisor, a busy loop catches up."""

from __future__ import annotations

import asyncio
import logging

import pytest

from carekit import polling
from carekit.polling import one_pass, poll_forever

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]
log = logging.getLogger("test-polling")


class Stop(Exception):
    """Ends a loop under test (any exception that is not an outage reaches the caller)."""


async def test_an_outage_is_logged_and_the_pass_gives_nothing(caplog: pytest.LogCaptureFixture) -> None:
    async def step() -> int:
        raise ConnectionRefusedError("Postgres is away")

    with caplog.at_level(logging.WARNING, logger="test-polling"):
        assert await one_pass(step, what="nightly purge", log=log) is None
    assert "nightly purge failed, will retry: Postgres is away" in caplog.text


async def test_a_pass_that_works_gives_its_result() -> None:
    async def step() -> int:
        return 7

    assert await one_pass(step, what="count", log=log) == 7


async def test_a_bug_is_raised_for_the_supervisor() -> None:
    async def step() -> int:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        await one_pass(step, what="count", log=log)


@pytest.mark.parametrize("again_when_busy", [True, False])
async def test_a_busy_pass_runs_again_at_once_an_idle_or_failed_one_waits(
    monkeypatch: pytest.MonkeyPatch, again_when_busy: bool
) -> None:
    events: list[str] = []
    results: list[int | Exception] = [3, 2, 0, ConnectionResetError("broker gone"), 1, Stop()]

    async def step() -> int:
        result = results.pop(0)
        events.append(f"pass {result!r}" if isinstance(result, int) else f"pass {type(result).__name__}")
        if isinstance(result, Exception):
            raise result
        return result

    async def sleep(seconds: float) -> None:
        events.append(f"wait {seconds:g}")

    monkeypatch.setattr(polling.asyncio, "sleep", sleep)
    with pytest.raises(Stop):
        await poll_forever(step, every_s=5, what="scan", log=log, again_when_busy=again_when_busy)
    monkeypatch.undo()
    if again_when_busy:
        expected = [
            "pass 3", "pass 2", "pass 0", "wait 5", "pass ConnectionResetError", "wait 5", "pass 1", "pass Stop",
        ]  # fmt: skip
    else:
        expected = [
            "pass 3", "wait 5", "pass 2", "wait 5", "pass 0", "wait 5",
            "pass ConnectionResetError", "wait 5", "pass 1", "wait 5", "pass Stop",
        ]  # fmt: skip
    assert events == expected
    assert asyncio.sleep is not sleep  # the real sleep is back for the other tests


async def test_a_sleep_ends_when_woken_or_after_its_time_and_clears_the_wake() -> None:
    wake = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, wake.set)
    assert await polling.sleep_until_woken(wake, 5) is True
    assert not wake.is_set()
    assert await polling.sleep_until_woken(wake, 0.01) is False


async def test_a_loop_sleeping_until_woken_stops_when_cancelled_as_it_is_woken() -> None:
    """The cancellation and the wake-up land in the same turn of the event loop: the loop must still end (with
    asyncio.wait_for on Python 3.11 every one of these loops went on forever and the service's stop hung)."""

    async def relay(wake: asyncio.Event) -> None:
        while True:
            await polling.sleep_until_woken(wake, 1.0)

    still_running = 0
    for _ in range(50):
        wake = asyncio.Event()
        task = asyncio.create_task(relay(wake))
        await asyncio.sleep(0)  # the loop is now sleeping
        wake.set()
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=0.5)
        if not done:
            still_running += 1
            task.cancel()
            await asyncio.wait([task])
    assert still_running == 0
