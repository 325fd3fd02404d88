"""Repeat notices: an alert still firing is sent again every REPEAT_INTERVAL_S (3 h) after the last one sent."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from carekit.errors import TRANSIENT
from notify_service.adapters.repository import queue_repeats
from notify_service.config import Settings

log = logging.getLogger(__name__)


async def run_repeats(pool: asyncpg.Pool, settings: Settings) -> None:
    """Check forever; each pass is one idempotent statement (the round number is part of the natural key)."""
    while True:
        try:
            async with pool.acquire() as conn:
                queued = await queue_repeats(conn, settings.repeat_interval_s)
            if queued:
                log.info("queued %d repeat notices for alerts still firing", queued)
        except TRANSIENT as exc:
            log.warning("repeat check failed, will retry: %s", exc)
        await asyncio.sleep(settings.repeat_check_interval_s)
