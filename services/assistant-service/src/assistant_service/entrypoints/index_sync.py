"""The loop that keeps this instance's search index in step with the articles in Postgres: woken by NOTIFY when
an instance changes one, and polling as a fallback (a notification lost while the connection was down)."""

from __future__ import annotations

import logging

from assistant_service.adapters.articles import CHANNEL
from assistant_service.handlers.articles import catch_up
from assistant_service.handlers.deps import Deps
from carekit.polling import poll_forever, woken_by

log = logging.getLogger(__name__)


async def follow(deps: Deps, poll_interval_s: float) -> None:
    """Apply article changes as they are committed, by any instance; an outage is waited out."""

    async def apply() -> None:
        applied = await catch_up(deps.pool, deps.knowledge)
        if applied:
            log.info("applied %d article changes (revision %d)", applied, deps.knowledge.revision)

    async with woken_by(deps.pool, CHANNEL) as wake:
        await poll_forever(
            apply, every_s=poll_interval_s, what="applying article changes", log=log, again_when_busy=False, wake=wake
        )
