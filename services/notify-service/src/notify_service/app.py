"""Builds notify-service: HTTP app, Kafka subscribers, delivery workers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from carekit import web
from carekit.runtime import Runtime, lifespan
from notify_service import delivery
from notify_service.config import Settings
from notify_service.entrypoints import consumers

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings) -> FastAPI:
    async def register(runtime: Runtime) -> None:
        consumers.register(runtime, settings)
        runtime.spawn("delivery", delivery.run_workers(runtime.pool, settings))

    app = FastAPI(title="notify-service", lifespan=lifespan(settings, MIGRATIONS, register))
    web.install(app)
    return app
