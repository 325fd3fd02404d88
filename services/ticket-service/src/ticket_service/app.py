"""Builds ticket-service: HTTP app, Kafka subscribers and background loops."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from carekit import web
from carekit.runtime import Runtime, lifespan
from ticket_service.config import Settings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings) -> FastAPI:
    async def register(runtime: Runtime) -> None:
        return None

    app = FastAPI(title="ticket-service", lifespan=lifespan(settings, MIGRATIONS, register))
    web.install(app)
    return app
