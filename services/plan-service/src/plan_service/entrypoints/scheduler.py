"""The scheduler loop: runs the due jobs (trial expiry, retirement, warnings) every interval."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from carekit.errors import TRANSIENT
from plan_service.handlers.jobs import run_due
from plan_service.handlers.plans import Clock

log = logging.getLogger(__name__)


async def run_forever(pool: asyncpg.Pool, clock: Clock, interval_s: float) -> None:
    """The scheduler loop: a failed run (database away) is retried on the next tick."""
    while True:
        try:
            ran = await run_due(pool, clock)
            if ran.trials_ended or ran.retired or ran.warned:
                log.info("scheduler: %s", ran)
        except TRANSIENT as exc:
            log.warning("scheduler run failed, retrying next tick: %s", exc)
        await asyncio.sleep(interval_s)
