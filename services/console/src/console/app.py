"""Builds the console: pages, static files, the aiohttp session to the services, health and metrics.

The console has no database and no broker, so it does not use the kit's `build` (which opens both); it shares
the kit's settings base, token verification, request-body limit, HTTP metrics and server.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

import console
from carekit.metrics import HttpMetrics
from carekit.web import BodyLimit
from console.adapters.api import Api, Apis
from console.config import Settings
from console.entrypoints import alerts, auth, health, settings, staff, support, tickets, web

STATIC = Path(__file__).resolve().parent / "static"
ROUTERS = [
    auth.router,
    auth.dev,
    support.router,
    tickets.router,
    alerts.router,
    settings.router,
    staff.router,
    health.router,
]


def create_app(config: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=100, limit_per_host=30)
        # one session for every signed-in person: it keeps no cookie, which would travel with the next person's call
        jar = aiohttp.DummyCookieJar()
        async with aiohttp.ClientSession(connector=connector, cookie_jar=jar, raise_for_status=False) as session:
            timeout = config.console_api_timeout_s
            app.state.apis = Apis(
                plan=Api(session, str(config.plan_url), "plan-service", timeout),
                ticket=Api(session, str(config.ticket_url), "ticket-service", timeout),
                notify=Api(session, str(config.notify_url), "notify-service", timeout),
            )
            yield

    app = FastAPI(
        title="console",
        description=(console.__doc__ or "").strip(),
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.console = web.Console.of(config)
    web.install(app)
    app.add_middleware(BodyLimit, limit=config.http_max_body_bytes, hint="shorten the text")
    app.add_middleware(HttpMetrics)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app
