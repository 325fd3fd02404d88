"""Builds notify-service: HTTP app, Kafka subscribers, delivery pipeline, schedulers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from fastapi import FastAPI

from carekit import web
from carekit.consumer import Rejects
from carekit.outbox import OutboxRelay
from carekit.projection import subscribe_plan_projection
from carekit.runtime import Runtime, lifespan
from notify_service import handlers
from notify_service.adapters.resolve import delivery_session
from notify_service.adapters.secrets import SecretBox
from notify_service.channels.base import SendContext
from notify_service.config import Settings
from notify_service.delivery.dispatcher import Dispatcher
from notify_service.delivery.scheduler import run_repeats
from notify_service.delivery.targets import Targets
from notify_service.delivery.ticket_updates import TicketUpdates
from notify_service.entrypoints import consumers, http_alerts, http_deliveries, http_subscribers
from notify_service.entrypoints.deps import Deps

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="notify-service")

    async def register(runtime: Runtime) -> None:
        prefix = settings.consumer_group_prefix
        box = SecretBox(settings.notify_secret_key)
        http = delivery_session(settings)
        ctx = SendContext(http=http, settings=settings)
        app.state.notify = Deps(runtime=runtime, box=box, ctx=ctx)
        consumers.register(runtime, settings)
        subscribe_plan_projection(
            runtime.broker,
            runtime.pool,
            group_id=f"{prefix}.plans",
            rejects=Rejects(runtime.producer, f"{prefix}.plans", consumers.SOURCE),
            on_change=handlers.on_plan_change,
        )
        dispatcher = Dispatcher(runtime.pool, Targets(runtime.pool, box, settings), ctx, settings)
        runtime.spawn("delivery", dispatcher.run)
        runtime.spawn("delivery-recorder", dispatcher.record_forever)
        runtime.spawn("delivery-http", lambda: _close_on_cancel(http))
        runtime.spawn("repeats", lambda: run_repeats(runtime.pool, settings))
        runtime.spawn("outbox-relay", OutboxRelay(runtime.pool, runtime.producer).run)
        runtime.spawn("ticket-updates", TicketUpdates(runtime.pool, ctx).run)

    app.router.lifespan_context = lifespan(settings, MIGRATIONS, register, pool_size=20)
    web.install(app, max_body_bytes=settings.http_max_body_bytes)
    for router in (http_subscribers.router, http_alerts.router, http_deliveries.router):
        app.include_router(router)
    return app


async def _close_on_cancel(http: aiohttp.ClientSession) -> None:
    """Hold the delivery HTTP session open for the life of the service and close it on shutdown."""
    try:
        await asyncio.Event().wait()
    finally:
        await http.close()
