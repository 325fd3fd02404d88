"""Alerts posted through the Alertmanager API resolve when their `endsAt` passes without a new post (Alertmanager's
`resolve_timeout`, 5 minutes when the sender gave no end): the resolved event goes out through the outbox."""

from __future__ import annotations

import logging

import asyncpg

from carekit.polling import poll_forever
from notify_service.adapters.am_api import resolve_timed_out

log = logging.getLogger(__name__)


async def run_timeouts(pool: asyncpg.Pool, interval_s: float) -> None:
    """Forever: resolve what timed out; an outage is waited out."""
    await poll_forever(lambda: resolve_timed_out(pool), every_s=interval_s, what="resolving timed-out alerts", log=log)
