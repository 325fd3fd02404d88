"""Deleted subscribers' notifications, purged after the subscriber a batch at a time (migrations/015): the delete
itself holds the organisation's intake lock only for the subscriber's row (adapters/subscribers.py, `delete`)."""

from __future__ import annotations

import logging
from functools import partial

import asyncpg

from carekit.db import by_key_connection
from carekit.parking import REDRIVEN, Isolation
from carekit.polling import poll_forever, woken_by
from notify_service.adapters import metrics, subscribers

log = logging.getLogger(__name__)
ISOLATION = Isolation(subscribers.PURGES_LOOP)
PROGRESS_EVERY = 100_000  # rows between progress lines while a long history goes


async def purge_deleted(pool: asyncpg.Pool, batch: int) -> int:
    """Delete the notifications of every deleted subscriber, `batch` rows per statement, each its own transaction,
    then forget its purge; how many were deleted. A subscriber whose batch fails for good (or with the same bug
    three times) is parked with the reason, and the others go on."""
    done = 0
    async with by_key_connection(pool) as conn:
        for subscriber_id in await subscribers.purging(conn):
            deleted, finished = await _purge_one(conn, subscriber_id, batch)
            done += deleted
            if finished and not await subscribers.purged(conn, subscriber_id):
                log.warning("a notification of deleted subscriber %s came after its purge; next pass", subscriber_id)
    return done


async def _purge_one(conn: asyncpg.Connection, subscriber_id: str, batch: int) -> tuple[int, bool]:
    """The subscriber's notifications, a batch at a time; how many were deleted, and whether all were (False: a
    batch failed, and the subscriber is parked or left for the next pass)."""
    done = logged = 0
    after = subscribers.FIRST
    while True:
        step = partial(subscribers.purge_batch, conn, subscriber_id, after, batch)
        purged = await ISOLATION.run(conn, subscriber_id, step)  # each batch its own transaction
        if purged is None:
            return done, False
        metrics.PURGED.inc(purged.deleted)
        done += purged.deleted
        if not purged.more:
            return done, True
        after = purged.after
        if done - logged >= PROGRESS_EVERY:
            log.info("purging deleted subscriber %s's notifications: %d so far", subscriber_id, done)
            logged = done


async def run_purges(pool: asyncpg.Pool, batch: int, interval_s: float) -> None:
    """Forever: purge when a subscriber is deleted (woken by its NOTIFY) or a parked purge is re-driven, and every
    `interval_s` (a purge a crash cut short, or a NOTIFY missed while Postgres was away); an outage is waited out."""

    async def purge() -> None:
        done = await purge_deleted(pool, batch)
        if done:
            log.info("purged %d notifications of deleted subscribers", done)

    async with woken_by(pool, subscribers.PURGES, REDRIVEN) as wake:
        await poll_forever(
            purge, every_s=interval_s, what="purging deleted subscribers", log=log, again_when_busy=False, wake=wake
        )
