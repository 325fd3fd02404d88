"""The scheduler loop: runs the due jobs (trial expiry, retirement, warnings) every interval."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from carekit.faults import is_outage
from plan_service.handlers.jobs import run_due
from plan_service.handlers.plans import Clock

log = logging.getLogger(__name__)


async def run_forever(pool: asyncpg.Pool, clock: Clock, interval_s: float) -> None:
    """The scheduler loop: a run that meets an outage is retried on the next tick; an organisation that cannot be
    processed is parked by its job and the others go on; anything else ends the loop for its supervisor."""
    while True:
        try:
            ran = await run_due(pool, clock)
            if ran.trials_ended or ran.retired or ran.warned or ran.reminded:
                log.info("scheduler: %s", ran)
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("scheduler run failed, retrying next tick: %s", exc)
        await asyncio.sleep(interval_s)
