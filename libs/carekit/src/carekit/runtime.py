"""Service lifecycle: one place that opens the pool, migrates, starts Kafka clients and background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import Counter

from carekit.db import create_pool, migrate
from carekit.faults import storable
from carekit.identity import TokenVerifier
from carekit.kafka import ensure_topics, idempotent_producer
from carekit.settings import ServiceSettings

log = logging.getLogger(__name__)


RESTARTS = Counter(
    "care_background_restarts_total", "Background loops restarted after they stopped (crashed or returned)", ["loop"]
)
HEALTHY_AFTER_S = 60.0  # a loop that ran this long before it stopped starts its backoff (and count) from scratch
FAILING_AFTER = 5  # this many stops in a row, each within HEALTHY_AFTER_S of its start: the loop is failing
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0


@dataclass
class LoopHealth:
    """What /healthz says about one background loop."""

    name: str
    state: str = "running"  # running | restarting
    restarts: int = 0
    in_a_row: int = 0
    last_error: str | None = None
    last_stopped_at: str | None = None

    @property
    def failing(self) -> bool:
        return self.in_a_row >= FAILING_AFTER

    def view(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "restarts": self.restarts,
            "failing": self.failing,
            "last_error": self.last_error,
            "last_stopped_at": self.last_stopped_at,
        }


@dataclass
class Runtime:
    """The live adapters of one service process, created in the lifespan and passed down."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    broker: KafkaBroker
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    loops: dict[str, LoopHealth] = field(default_factory=dict)

    def spawn(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a background loop for the life of the service, supervised: when `run()` raises (or returns) it is
        called again after a backoff (1 s doubling to 60 s), counted in `care_background_restarts_total` and
        reported by /healthz. Pass the function, not a coroutine: a coroutine cannot be started twice."""
        health = self.loops[name] = LoopHealth(name)
        task = asyncio.create_task(_supervise(health, run), name=name)
        self.tasks.append(task)

    @property
    def healthy(self) -> bool:
        return not any(h.failing for h in self.loops.values()) and all(not t.done() for t in self.tasks)


async def _supervise(health: LoopHealth, run: Callable[[], Awaitable[None]]) -> None:
    backoff = FIRST_BACKOFF_S
    while True:
        started = time.monotonic()
        try:
            await run()
            error = "the loop returned"
            log.error("background loop %s returned; restarting it", health.name)
        except Exception as exc:
            error = storable(f"{type(exc).__name__}: {exc}")[:500]
            log.error("background loop %s crashed; restarting it", health.name, exc_info=exc)
        if time.monotonic() - started >= HEALTHY_AFTER_S:
            health.in_a_row, backoff = 0, FIRST_BACKOFF_S
        health.restarts += 1
        health.in_a_row += 1
        health.last_error = error
        health.last_stopped_at = datetime.now(UTC).isoformat()
        health.state = "restarting"
        RESTARTS.labels(health.name).inc()
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)
        health.state = "running"


Register = Callable[[Runtime], Awaitable[None]]


def lifespan(
    settings: ServiceSettings, migrations: Path, register: Register, *, pool_size: int = 10
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The FastAPI lifespan: connect, migrate, register subscribers and loops, start; undo on exit."""

    @contextlib.asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, max_size=pool_size)
        applied = await migrate(pool, migrations)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        await ensure_topics(settings.kafka_bootstrap_servers)
        producer = idempotent_producer(
            settings.kafka_bootstrap_servers, request_timeout_ms=settings.kafka_request_timeout_ms
        )
        await producer.start()
        broker = KafkaBroker(settings.kafka_bootstrap_servers, logger=log, client_id=app.title)
        runtime = Runtime(settings=settings, pool=pool, producer=producer, broker=broker)
        app.state.runtime = runtime
        app.state.token_verifier = TokenVerifier(settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience)
        await register(runtime)
        await broker.start()
        log.info("%s ready on %s:%s", app.title, settings.http_host, settings.http_port)
        try:
            yield
        finally:
            for task in runtime.tasks:
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            await broker.stop()
            await producer.stop()
            await pool.close()

    return run
