"""Builds ticket-service on the kit's skeleton: HTTP routes, the plan projection, the relay and its loops."""

from __future__ import annotations

from fastapi import FastAPI

from care_schemas.envelope import utcnow
from care_schemas.events.ticket import ImPlatform
from care_schemas.topics import ALERT_ACTIONS, CHAT_EVENTS, NOTIFY_DEADLETTER, TICKET_EVENTS
from carekit.bootstrap import Service, build, migrations_of
from carekit.chat import ChatFailure
from carekit.chat.lark import LarkBot, post_from_text
from carekit.chat.slack import SlackWebApi
from carekit.outbox import OutboxRelay
from carekit.runtime import Runtime
from ticket_service import handlers
from ticket_service.config import Settings
from ticket_service.entrypoints import chat_answers, consumers, http, lark, scheduler, slack

MIGRATIONS = migrations_of("ticket_service")
ROUTERS = [http.router, slack.router, lark.router]
PUBLISHES = [TICKET_EVENTS, CHAT_EVENTS, ALERT_ACTIONS, NOTIFY_DEADLETTER]


def create_app(settings: Settings, clock: handlers.Clock | None = None) -> FastAPI:
    def subscribe(runtime: Runtime) -> None:
        runtime.project_plans(f"{settings.consumer_group_prefix}.plans", on_change=handlers.apply_plan_to_bindings)
        chat_answers.subscribe_answers(runtime, settings.consumer_group_prefix, lambda: app.state.deps)
        consumers.register(runtime, settings, lambda: app.state.deps)

    async def start(runtime: Runtime) -> None:
        slack_client = (
            SlackWebApi(settings.slack_bot_token, settings.slack_api_url) if settings.slack_bot_token else None
        )
        lark_client = None
        if settings.lark_enabled and settings.lark_app_id and settings.lark_app_secret:
            lark_client = LarkBot(settings.lark_api_url, settings.lark_app_id, settings.lark_app_secret)
            runtime.at_stop(lark_client.close)

        async def send(platform: ImPlatform, channel: str, thread: str, text: str) -> None:
            if platform is ImPlatform.SLACK and slack_client is not None:
                await slack_client.post(channel, thread, text)
            elif platform is ImPlatform.LARK and lark_client is not None:
                await lark_client.reply(thread, "post", post_from_text("Connected Care support", text))
            else:
                raise ChatFailure(f"{platform.value} integration is not configured", retryable=False)

        deps = handlers.Deps(runtime.pool, settings.public_base_url, clock or utcnow, send)
        app.state.deps, app.state.slack, app.state.lark = deps, slack_client, lark_client
        runtime.spawn("outbox-relay", OutboxRelay(runtime.pool, runtime.publishers).run)
        runtime.spawn("breach-scheduler", lambda: scheduler.run(deps, settings.breach_scan_interval_s))
        runtime.spawn("chat-replies", lambda: scheduler.run_chat_replies(deps))

    app = build(Service("ticket-service", settings, ROUTERS, PUBLISHES, subscribe, start))
    app.state.slack = None
    app.state.lark = None
    return app
