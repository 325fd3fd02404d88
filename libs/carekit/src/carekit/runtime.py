"""The live adapters of one service process: settings, the one Kafka broker, its publishers, the pool, loops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
from faststream.kafka import KafkaBroker

from carekit.kafka import Publishers
from carekit.metrics import watched_loop
from carekit.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Built with the app (broker, subscribers, publishers); the lifespan opens the pool and starts the rest."""

    settings: ServiceSettings
    broker: KafkaBroker
    publishers: Publishers
    _pool: asyncpg.Pool | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def pool(self) -> asyncpg.Pool:
        """The Postgres pool (opened by the lifespan before any subscriber or loop runs)."""
        if self._pool is None:
            raise RuntimeError("the service has not started: the pool opens in the lifespan")
        return self._pool

    def spawn(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a background loop for the life of the service; its crash is logged and stops readiness.
        Pass the function, not a coroutine (a supervisor may call it again)."""
        task = asyncio.create_task(_call(watched_loop(name, run)), name=name)
        task.add_done_callback(_report_crash)
        self.tasks.append(task)

    def at_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Close a client (HTTP session, SMTP pool) when the service stops, after its loops have ended."""
        self.closers.append(close)

    @property
    def started(self) -> bool:
        return self._pool is not None

    @property
    def healthy(self) -> bool:
        return all(not t.done() for t in self.tasks)


async def _call(run: Callable[[], Awaitable[None]]) -> None:
    await run()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s crashed", task.get_name(), exc_info=task.exception())
