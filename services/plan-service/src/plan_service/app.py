"""Builds plan-service on the kit's skeleton: HTTP routes, the outbox relay and the scheduler loop."""

from __future__ import annotations

from fastapi import FastAPI

from care_schemas.envelope import utcnow
from care_schemas.topics import PLAN_EVENTS
from carekit.bootstrap import Service, build, migrations_of
from carekit.outbox import OutboxRelay
from carekit.runtime import Runtime
from plan_service.config import Settings
from plan_service.entrypoints import http, http_contacts, scheduler
from plan_service.handlers import Clock

MIGRATIONS = migrations_of("plan_service")
ROUTERS = [http.router, http_contacts.router]
PUBLISHES = [PLAN_EVENTS]
BODY_HINT = "split a large legacy import into several calls"


def create_app(settings: Settings, clock: Clock = utcnow) -> FastAPI:
    """`clock` is injectable so tests can move time for trials and retirement."""

    async def start(runtime: Runtime) -> None:
        runtime.spawn("outbox-relay", OutboxRelay(runtime.pool, runtime.publishers).run)
        if settings.plan_scheduler_enabled:
            interval = settings.plan_scheduler_interval_s
            runtime.spawn("scheduler", lambda: scheduler.run_forever(runtime.pool, clock, interval))

    app = build(Service("plan-service", settings, ROUTERS, PUBLISHES, start=start, body_hint=BODY_HINT))
    app.state.clock = clock
    return app
