"""Background loops: the breach scheduler and the delivery of chat confirmations, safe with several instances."""

from __future__ import annotations

import asyncio
import logging

from carekit.faults import is_outage
from ticket_service import handlers
from ticket_service.adapters.metrics import BREACHES

log = logging.getLogger(__name__)


async def run(deps: handlers.Deps, interval_s: float) -> None:
    """Scan forever; a scan that finds a full batch runs again at once (catching up after downtime)."""
    while True:
        try:
            found = await handlers.scan_breaches(deps)
        except Exception as exc:
            if not is_outage(exc):
                raise  # a bug: the supervisor restarts the loop and counts it (tickets it cannot process are parked)
            log.warning("breach scan will retry: %s", exc)
            found = 0
        if found:
            BREACHES.inc(found)
            log.info("emitted %d response breaches", found)
            continue
        await asyncio.sleep(interval_s)


CHAT_REPLY_SCAN_S = 2.0


async def deliver_chat_replies(deps: handlers.Deps) -> int:
    """One delivery pass; errors are logged and left for the next pass (the replies stay queued)."""
    try:
        return await handlers.deliver_chat_replies(deps)
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("chat confirmations will be retried: %s", exc)
        return 0


async def run_chat_replies(deps: handlers.Deps, interval_s: float = CHAT_REPLY_SCAN_S) -> None:
    """Deliver queued chat confirmations forever (requests also trigger a pass right after they commit)."""
    while True:
        if not await deliver_chat_replies(deps):
            await asyncio.sleep(interval_s)
