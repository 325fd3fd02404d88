"""Deleted subscribers' notifications, purged after the subscriber a batch at a time (migrations/015): the delete
itself holds the organisation's intake lock only for the subscriber's row (adapters/subscribers.py, `delete`)."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from carekit.db import by_key_connection
from carekit.polling import poll_forever, woken_by
from notify_service.adapters import metrics, subscribers

log = logging.getLogger(__name__)
PROGRESS_EVERY = 100_000  # rows between progress lines while a long history goes


async def purge_deleted(pool: asyncpg.Pool, batch: int) -> int:
    """Delete the notifications of every deleted subscriber, `batch` rows per statement, each its own transaction,
    then forget its purge; how many were deleted."""
    done = logged = 0
    async with by_key_connection(pool) as conn:
        for subscriber_id in await subscribers.purging(conn):
            after = subscribers.FIRST
            while True:
                purged = await subscribers.purge_batch(conn, subscriber_id, after, batch)
                metrics.PURGED.inc(purged.deleted)
                done += purged.deleted
                if not purged.more:
                    break
                after = purged.after
                if done - logged >= PROGRESS_EVERY:
                    log.info("purging deleted subscribers' notifications: %d so far", done)
                    logged = done
                await asyncio.sleep(0)  # let the service's other work in between batches
            if not await subscribers.purged(conn, subscriber_id):
                log.warning("a notification of deleted subscriber %s came after its purge; next pass", subscriber_id)
    return done


async def run_purges(pool: asyncpg.Pool, batch: int, interval_s: float) -> None:
    """Forever: purge when a subscriber is deleted (woken by its NOTIFY), and every `interval_s` (a purge a crash
    cut short, or a NOTIFY missed while Postgres was away); an outage is waited out."""

    async def purge() -> None:
        done = await purge_deleted(pool, batch)
        if done:
            log.info("purged %d notifications of deleted subscribers", done)

    async with woken_by(pool, subscribers.PURGES) as wake:
        await poll_forever(
            purge, every_s=interval_s, what="purging deleted subscribers", log=log, again_when_busy=False, wake=wake
        )
