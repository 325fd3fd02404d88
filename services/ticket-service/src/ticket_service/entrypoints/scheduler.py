"""The breach scheduler: scans for unanswered tickets past their due time, safe with several instances."""

from __future__ import annotations

import asyncio
import logging

from carekit.errors import TRANSIENT
from ticket_service import handlers

log = logging.getLogger(__name__)


async def run(deps: handlers.Deps, interval_s: float) -> None:
    """Scan forever; a scan that finds a full batch runs again at once (catching up after downtime)."""
    while True:
        try:
            found = await handlers.scan_breaches(deps)
        except TRANSIENT as exc:
            log.warning("breach scan will retry: %s", exc)
            found = 0
        if found:
            log.info("emitted %d response breaches", found)
            continue
        await asyncio.sleep(interval_s)
