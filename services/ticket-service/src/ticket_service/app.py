"""Builds ticket-service: HTTP app, Kafka subscribers and background loops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI

from care_schemas.envelope import utcnow
from care_schemas.events.ticket import ImPlatform
from carekit import web
from carekit.consumer import Rejects
from carekit.outbox import OutboxRelay
from carekit.projection import subscribe_plan_projection
from carekit.runtime import Runtime, lifespan
from ticket_service import handlers
from ticket_service.adapters.chat import PlatformUnavailable
from ticket_service.adapters.lark import LarkClient
from ticket_service.adapters.slack import SlackClient
from ticket_service.config import Settings
from ticket_service.entrypoints import common, http, lark, scheduler, slack

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings, clock: handlers.Clock | None = None) -> FastAPI:
    app = FastAPI(title="ticket-service")

    async def register(runtime: Runtime) -> None:
        prefix = settings.consumer_group_prefix
        rejects = Rejects(runtime.producer, f"{prefix}.plans", "/ticket-service")
        subscribe_plan_projection(
            runtime.broker,
            runtime.pool,
            group_id=f"{prefix}.plans",
            rejects=rejects,
            on_change=handlers.apply_plan_to_bindings,
        )
        app.state.slack = (
            SlackClient(settings.slack_bot_token, settings.slack_api_url) if settings.slack_bot_token else None
        )

        async def send(platform: ImPlatform, channel: str, thread: str, text: str) -> None:
            slack_client: SlackClient | None = app.state.slack
            lark_client: LarkClient | None = app.state.lark
            if platform is ImPlatform.SLACK and slack_client is not None:
                await slack_client.post(channel, thread, text)
            elif platform is ImPlatform.LARK and lark_client is not None:
                await lark_client.reply(thread, text)
            else:
                raise PlatformUnavailable(f"{platform.value} integration is not configured")

        deps = handlers.Deps(runtime.pool, settings.public_base_url, clock or utcnow, send)
        app.state.deps = deps
        app.state.lark = None
        if settings.lark_enabled and settings.lark_app_id and settings.lark_app_secret:
            http_client = httpx.AsyncClient(timeout=10, follow_redirects=False)
            app.state.lark = LarkClient(
                settings.lark_api_url, settings.lark_app_id, settings.lark_app_secret, http_client
            )
            runtime.spawn("lark-http", lambda: _close_on_cancel(http_client))
        runtime.spawn("outbox-relay", OutboxRelay(runtime.pool, runtime.producer).run)
        runtime.spawn("breach-scheduler", lambda: scheduler.run(deps, settings.breach_scan_interval_s))
        runtime.spawn("chat-replies", lambda: scheduler.run_chat_replies(deps))

    app.router.lifespan_context = lifespan(settings, MIGRATIONS, register)
    app.state.settings = settings
    app.state.slack = None
    app.state.lark = None
    web.install(app, max_body_bytes=settings.http_max_body_bytes)
    common.install(app)
    app.include_router(http.router)
    app.include_router(slack.router)
    app.include_router(lark.router)
    return app


async def _close_on_cancel(client: httpx.AsyncClient) -> None:
    """Hold the Lark HTTP client open for the life of the service and close it on shutdown."""
    try:
        await asyncio.Event().wait()
    finally:
        await client.aclose()
