"""Service lifecycle: one place that opens the pool, migrates, starts Kafka clients and background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from carekit.db import create_pool, migrate
from carekit.identity import TokenVerifier
from carekit.kafka import ensure_topics, idempotent_producer
from carekit.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The live adapters of one service process, created in the lifespan and passed down."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    broker: KafkaBroker
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background loop for the life of the service; its crash is logged and stops readiness."""
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_report_crash)
        self.tasks.append(task)

    @property
    def healthy(self) -> bool:
        return all(not t.done() for t in self.tasks)


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s crashed", task.get_name(), exc_info=task.exception())


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
