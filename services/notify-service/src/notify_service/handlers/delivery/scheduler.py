"""Repeat notices: an alert still firing is sent again every REPEAT_INTERVAL_S (3 h) after the last one sent."""

from __future__ import annotations

import logging
from functools import partial

import asyncpg

from carekit.db import by_key_connection
from carekit.faults import is_outage
from carekit.parking import Isolation
from carekit.polling import poll_forever
from notify_service.adapters.repository import REPEATS_LOOP, queue_repeats, repeat_candidates
from notify_service.config import Settings

log = logging.getLogger(__name__)
REPEATS = Isolation(REPEATS_LOOP)


async def repeat_once(pool: asyncpg.Pool, settings: Settings) -> int:
    """One pass: one idempotent statement for every alert due (the round number is part of the natural key). When
    it fails for a reason other than an outage, the alerts are queued one by one and the one at fault is parked."""
    # by key whatever the statistics: planned after an ANALYZE that found notifications empty, the check read the
    # whole table every 30 s (test_notify_scale.py, `test_the_repeat_check_reads_only_what_is_due_...`)
    async with by_key_connection(pool) as conn:
        try:
            return await queue_repeats(conn, settings.repeat_interval_s)
        except Exception as exc:
            if is_outage(exc):
                raise
            log.warning("repeat check failed as a whole (%s); queueing alert by alert", exc)
        queued = 0
        async with conn.transaction():
            for latest in await repeat_candidates(conn, settings.repeat_interval_s):
                one = partial(queue_repeats, conn, settings.repeat_interval_s, latest)
                queued += await REPEATS.run(conn, str(latest), one) or 0
        return queued


async def run_repeats(pool: asyncpg.Pool, settings: Settings) -> None:
    """Check forever; an outage is retried on the next check."""

    async def check() -> None:
        queued = await repeat_once(pool, settings)
        if queued:
            log.info("queued %d repeat notices for alerts still firing", queued)

    await poll_forever(check, every_s=settings.repeat_check_interval_s, what="repeat check", log=log)
