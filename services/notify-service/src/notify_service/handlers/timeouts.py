"""Alerts posted through the Alertmanager API resolve when their `endsAt` passes without a new post (Alertmanager's
`resolve_timeout`, 5 minutes when the sender gave no end): the resolved event goes out through the outbox."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from carekit.faults import is_outage
from notify_service.adapters.am_api import resolve_timed_out

log = logging.getLogger(__name__)


async def run_timeouts(pool: asyncpg.Pool, interval_s: float) -> None:
    """Forever: resolve what timed out; an outage is waited out."""
    while True:
        try:
            if await resolve_timed_out(pool):
                continue
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("alert time-outs will retry: %s", exc)
        await asyncio.sleep(interval_s)
