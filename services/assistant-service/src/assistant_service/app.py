"""Builds assistant-service on the kit's skeleton: HTTP routes, the chat consumer and the plan projection, the
outbox relay, and the loop that keeps the search index in step with the articles."""

from __future__ import annotations

import aiohttp
from fastapi import FastAPI

from assistant_service.adapters.kb_files import shipped_articles
from assistant_service.adapters.llm import ChatCompletionsClient
from assistant_service.config import Settings
from assistant_service.domain.index import KnowledgeIndex
from assistant_service.domain.ratelimit import OrgRateLimiter
from assistant_service.entrypoints import consumers, http, http_articles, index_sync
from assistant_service.handlers.articles import catch_up, seed_shipped
from assistant_service.handlers.compose import Assistant
from assistant_service.handlers.deps import Deps, Knowledge
from care_schemas.topics import CHAT_EVENTS, NOTIFY_DEADLETTER
from carekit.bootstrap import Service, build, migrations_of
from carekit.outbox import OutboxRelay
from carekit.runtime import Runtime

MIGRATIONS = migrations_of("assistant_service")
ROUTERS = [http.router, http_articles.router]
PUBLISHES = [CHAT_EVENTS, NOTIFY_DEADLETTER]
BODY_HINT = "an article's body holds at most 20,000 characters"


def create_app(settings: Settings) -> FastAPI:
    def subscribe(runtime: Runtime) -> None:
        consumers.register(runtime, settings, lambda: app.state.deps)

    async def start(runtime: Runtime) -> None:
        await seed_shipped(runtime.pool, shipped_articles())
        knowledge = Knowledge(KnowledgeIndex())
        await catch_up(runtime.pool, knowledge)
        llm = None
        if settings.llm_configured:
            session = aiohttp.ClientSession()
            runtime.at_stop(session.close)
            assert settings.llm_api_key is not None
            assert settings.llm_model is not None
            key = settings.llm_api_key.get_secret_value()
            llm = ChatCompletionsClient(
                session, str(settings.llm_base_url), key, settings.llm_model, settings.llm_timeout_s
            )
        app.state.deps = Deps(
            pool=runtime.pool,
            knowledge=knowledge,
            assistant=Assistant(knowledge.index, llm, settings.assistant_min_confidence),
            limiter=OrgRateLimiter(settings.assistant_rate_per_s, settings.assistant_burst),
            docs_base_url=settings.docs_base_url,
        )
        runtime.spawn("outbox-relay", OutboxRelay(runtime.pool, runtime.publishers).run)
        runtime.spawn("articles", lambda: index_sync.follow(app.state.deps, settings.articles_poll_interval_s))

    app = build(Service("assistant-service", settings, ROUTERS, PUBLISHES, subscribe, start, body_hint=BODY_HINT))
    app.state.deps = None
    return app
