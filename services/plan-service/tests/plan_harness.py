"""plan-service's test harness (tests and the benchmark): settings, the app in-process, a plan-topic reader."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from carekit_testing import InProcess, serve_in_process, service_settings
from plan_service.app import create_app
from plan_service.config import Settings
from plan_service.handlers import Clock


def settings_for(database_url: str, kafka_bootstrap: str, **overrides: object) -> Settings:
    """Settings for an in-process instance (the scheduler off unless asked for)."""
    return service_settings(Settings, database_url, kafka_bootstrap, **({"plan_scheduler_enabled": False} | overrides))


@contextlib.asynccontextmanager
async def in_process(settings: Settings, clock: Clock) -> AsyncIterator[InProcess]:
    """plan-service with its lifespan (pool, migrations, relay, scheduler) and an HTTP client bound to it."""
    async with serve_in_process(create_app(settings, clock)) as running:
        yield running
