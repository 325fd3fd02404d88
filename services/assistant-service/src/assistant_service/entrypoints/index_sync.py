"""The loop that keeps this instance's search index in step with the articles in Postgres: woken by NOTIFY when
an instance changes one, and polling as a fallback (a notification lost while the connection was down)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from assistant_service.adapters.articles import CHANNEL
from assistant_service.handlers.articles import catch_up
from assistant_service.handlers.deps import Deps
from carekit.polling import one_pass, sleep_until_woken

log = logging.getLogger(__name__)


async def follow(deps: Deps, poll_interval_s: float) -> None:
    """Apply article changes as they are committed, by any instance; an outage is waited out."""
    wake = asyncio.Event()
    listener = await deps.pool.acquire()

    def notified(*_: object) -> None:
        wake.set()

    try:
        await listener.add_listener(CHANNEL, notified)
        while True:
            applied = await one_pass(
                lambda: catch_up(deps.pool, deps.knowledge), what="applying article changes", log=log
            )
            if applied:
                log.info("applied %d article changes (revision %d)", applied, deps.knowledge.revision)
            await sleep_until_woken(wake, poll_interval_s)
    finally:
        with contextlib.suppress(Exception):
            await listener.remove_listener(CHANNEL, notified)
        await deps.pool.release(listener)
