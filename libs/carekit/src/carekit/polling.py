"""Background loops that poll the database: one pass at a time, an outage waited out until the next pass, anything
else raised for the loop's supervisor (carekit.runtime), which restarts the loop and counts the crash. Records a
pass cannot process are the pass's own business (parked or dead-lettered, carekit.parking): they never get here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NoReturn, TypeVar

import asyncpg

from carekit.faults import is_outage

T = TypeVar("T")


async def one_pass(step: Callable[[], Awaitable[T]], *, what: str, log: logging.Logger) -> T | None:
    """Run one pass: its result, or None after an outage (logged as `what` failing, tried again at the next pass).
    Any other exception is raised."""
    try:
        return await step()
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("%s failed, will retry: %s", what, exc)
        return None


async def poll_forever(
    step: Callable[[], Awaitable[object]],
    *,
    every_s: float,
    what: str,
    log: logging.Logger,
    again_when_busy: bool = True,
    wake: asyncio.Event | None = None,
) -> NoReturn:
    """Run `step` forever, a pass every `every_s` (sooner when `wake` is set: `woken_by`); while a pass reports work
    done (a truthy result) the next one runs at once (catching up after downtime) unless `again_when_busy` is False.
    An outage is waited out."""
    while True:
        if await one_pass(step, what=what, log=log) and again_when_busy:
            continue
        if wake is None:
            await asyncio.sleep(every_s)
        else:
            await sleep_until_woken(wake, every_s)


@contextlib.asynccontextmanager
async def woken_by(pool: asyncpg.Pool, *channels: str) -> AsyncIterator[asyncio.Event]:
    """An event set by every NOTIFY on `channels` while the block runs: one pooled connection LISTENs, and stops
    listening (the same callback removed, or asyncpg keeps it and warns) and goes back to the pool at the end."""
    wake = asyncio.Event()

    def notified(*_: object) -> None:
        wake.set()

    listener = await pool.acquire()
    try:
        for channel in channels:
            await listener.add_listener(channel, notified)
        yield wake
    finally:
        with contextlib.suppress(Exception):
            for channel in channels:
                await listener.remove_listener(channel, notified)
        await pool.release(listener)


async def sleep_until_woken(wake: asyncio.Event, seconds: float) -> bool:
    """Wait until `wake` is set (a LISTEN/NOTIFY callback, a new row in memory) or `seconds` have passed, then clear
    it; True when it was set. A cancellation always stops the wait, even one that arrives as `wake` is set.

    Not `asyncio.wait_for(wake.wait(), seconds)`: on Python 3.11 that returns normally when the cancellation and
    the wake-up land in the same turn of the event loop, so the loop goes on and the service's shutdown waits for it
    forever. `asyncio.timeout` keeps a cancellation from outside; ruff bans `asyncio.wait_for` (pyproject.toml)."""
    try:
        async with asyncio.timeout(seconds):
            await wake.wait()
    except TimeoutError:
        pass
    woken = wake.is_set()
    wake.clear()
    return woken
