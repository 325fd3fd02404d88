"""Builds plan-service: HTTP app, the outbox relay and the scheduler loop."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from care_schemas.envelope import utcnow
from carekit import web
from carekit.outbox import OutboxRelay
from carekit.runtime import Runtime, lifespan
from plan_service import jobs
from plan_service.config import Settings
from plan_service.entrypoints import errors, http
from plan_service.handlers import Clock

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings, clock: Clock = utcnow) -> FastAPI:
    """`clock` is injectable so tests can move time for trials and retirement."""

    async def register(runtime: Runtime) -> None:
        runtime.spawn("outbox-relay", OutboxRelay(runtime.pool, runtime.producer).run)
        if settings.plan_scheduler_enabled:
            runtime.spawn(
                "scheduler", lambda: jobs.run_forever(runtime.pool, clock, settings.plan_scheduler_interval_s)
            )

    app = FastAPI(title="plan-service", lifespan=lifespan(settings, MIGRATIONS, register))
    app.state.clock = clock
    web.install(
        app, max_body_bytes=settings.http_max_body_bytes, body_hint="split a large legacy import into several calls"
    )
    errors.install(app)
    app.include_router(http.router)
    return app
