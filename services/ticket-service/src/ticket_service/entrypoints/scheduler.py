"""Background loops: the breach scheduler and the delivery of chat confirmations, safe with several instances."""

from __future__ import annotations

import asyncio
import logging

from carekit.polling import one_pass, poll_forever
from ticket_service import handlers
from ticket_service.adapters.metrics import BREACHES

log = logging.getLogger(__name__)


async def scan_breaches(deps: handlers.Deps) -> int:
    """One breach scan (tickets it cannot process are parked by the handler); how many breaches it emitted."""
    found = await handlers.scan_breaches(deps)
    if found:
        BREACHES.inc(found)
        log.info("emitted %d response breaches", found)
    return found


async def run(deps: handlers.Deps, interval_s: float) -> None:
    """Scan forever; a scan that found breaches runs again at once (catching up after downtime)."""
    await poll_forever(lambda: scan_breaches(deps), every_s=interval_s, what="breach scan", log=log)


CHAT_REPLY_SCAN_S = 2.0


async def deliver_chat_replies(deps: handlers.Deps) -> int:
    """One delivery pass; an outage is logged and left for the next pass (the replies stay queued)."""
    return (
        await one_pass(lambda: handlers.deliver_chat_replies(deps), what="delivering chat confirmations", log=log) or 0
    )


async def run_chat_replies(deps: handlers.Deps, interval_s: float = CHAT_REPLY_SCAN_S) -> None:
    """Deliver queued chat confirmations forever (requests also trigger a pass right after they commit)."""
    while True:
        if not await deliver_chat_replies(deps):
            await asyncio.sleep(interval_s)
