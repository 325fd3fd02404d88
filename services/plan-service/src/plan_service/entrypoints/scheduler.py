"""The scheduler loop: runs the due jobs (trial expiry, retirement, warnings) every interval."""

from __future__ import annotations

import logging

import asyncpg

from carekit.polling import poll_forever
from plan_service.handlers.jobs import run_due
from plan_service.handlers.plans import Clock

log = logging.getLogger(__name__)


async def run_forever(pool: asyncpg.Pool, clock: Clock, interval_s: float) -> None:
    """The scheduler loop: a run that meets an outage is retried on the next tick; an organisation that cannot be
    processed is parked by its job and the others go on; anything else ends the loop for its supervisor."""

    async def tick() -> None:
        ran = await run_due(pool, clock)
        if ran.trials_ended or ran.retired or ran.warned or ran.reminded:
            log.info("scheduler: %s", ran)

    await poll_forever(tick, every_s=interval_s, what="scheduler run", log=log)
