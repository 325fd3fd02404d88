"""The skeleton every service is built on: one call turns a service's parts into its ASGI app.

A service's `app.py` calls `build(Service(...))` with its name and settings, its HTTP routers, the Kafka
topics it publishes to, `subscribe` (its subscribers, declared when the app is built, so the AsyncAPI check
and TestKafkaBroker see them) and `start` (its background loops and clients, run by the lifespan once the
pool is open). Everything else is the same in every service: health, readiness, metrics, the error body,
the bearer scheme, the body limit, the lifespan order (pool, migrations, topics, start, broker) and shutdown.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, FastAPI

from care_schemas.topics import Topic
from carekit import problems, web
from carekit.db import create_pool, migrate
from carekit.identity import TokenVerifier
from carekit.kafka import Publishers, ensure_topics, make_broker, partition_counts
from carekit.metrics import HttpMetrics, sample_forever
from carekit.retention import KIT, Purge, run_retention
from carekit.runtime import STOP_GRACE_S, Runtime, bounded
from carekit.settings import ServiceSettings

log = logging.getLogger(__name__)
Subscribe = Callable[[Runtime], None]
Start = Callable[[Runtime], Awaitable[None]]


async def _nothing(_runtime: Runtime) -> None:
    return None


def migrations_of(package: str) -> Path:
    """A service's SQL migrations: `services/<name>/migrations`, beside its `src/`."""
    module = importlib.import_module(package)
    assert module.__file__ is not None
    return Path(module.__file__).resolve().parents[2] / "migrations"


@dataclass
class Service:
    """What makes one service different from the next; `build` does the rest the same way for all.

    `name` is the distribution (`plan-service`); its package (`plan_service`) gives the description (its
    docstring) and the migrations folder."""

    name: str
    settings: ServiceSettings
    routers: Sequence[APIRouter] = ()
    publishes: Sequence[Topic] = ()
    subscribe: Subscribe = field(default=lambda _runtime: None)
    start: Start = _nothing
    pool_size: int = 10
    body_hint: str = ""  # what to do instead of a body over HTTP_MAX_BODY_BYTES
    retention: Sequence[Purge] = ()  # the service's own purges, run with the kit's (carekit.retention)


def build(service: Service) -> FastAPI:
    """The service's FastAPI app, with its broker, subscribers and publishers declared and its lifespan set."""
    settings = service.settings
    broker = make_broker(
        settings.kafka_bootstrap_servers, client_id=service.name, request_timeout_ms=settings.kafka_request_timeout_ms
    )
    publishers = Publishers(broker, service.publishes)
    runtime = Runtime(settings=settings, broker=broker, publishers=publishers, name=service.name)
    service.subscribe(runtime)
    package = importlib.import_module(service.name.replace("-", "_"))
    app = FastAPI(
        title=service.name,
        description=(package.__doc__ or "").strip(),
        version="1.0.0",
        lifespan=_lifespan(service, runtime),
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience)
    web.install(app, max_body_bytes=settings.http_max_body_bytes, body_hint=service.body_hint)
    problems.install(app)
    app.add_middleware(HttpMetrics)
    for router in service.routers:
        app.include_router(router)
    return app


def _lifespan(service: Service, runtime: Runtime) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    settings = service.settings

    @contextlib.asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        runtime._pool = await create_pool(settings.database_url, max_size=service.pool_size)
        try:
            applied = await migrate(runtime.pool, migrations_of(service.name.replace("-", "_")))
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
            await ensure_topics(settings.kafka_bootstrap_servers)
            topics = runtime.publishers.topics
            runtime.publishers.route_by(await partition_counts(settings.kafka_bootstrap_servers, topics))
            await runtime.broker.connect()
            runtime.spawn("metrics", lambda: sample_forever(lambda: runtime.pool))
            purges = [*KIT, *service.retention]
            runtime.spawn(
                "retention",
                lambda: run_retention(
                    runtime.pool,
                    purges,
                    settings.retention_days,
                    settings.retention_batch,
                    settings.retention_interval_s,
                ),
            )
            await service.start(runtime)
            await runtime.broker.start()
            log.info("%s ready on %s:%s", app.title, settings.http_host, settings.http_port)
            yield
        finally:  # each step bounded (carekit.runtime.STOP_GRACE_S): a stuck loop or client never holds up the stop
            await runtime.stop_loops()
            await runtime.stop_clients()
            await bounded(runtime.broker.stop(), STOP_GRACE_S, "stopping the Kafka broker")
            pool, runtime._pool = runtime.pool, None
            if not await bounded(pool.close(), STOP_GRACE_S, "closing the Postgres pool"):
                pool.terminate()  # a connection still held by a loop left behind

    return run
