"""Builds notify-service on the kit's skeleton: HTTP routes, Kafka subscribers, delivery pipeline, schedulers."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from care_schemas.topics import ALERT_EVENTS, NOTIFY_DEADLETTER
from carekit.bootstrap import Service, build, migrations_of
from carekit.outbox import OutboxRelay
from carekit.runtime import Runtime
from notify_service.adapters import notices
from notify_service.adapters.channels.base import SendContext
from notify_service.adapters.channels.im import ChatBots
from notify_service.adapters.resolve import delivery_session
from notify_service.adapters.secrets import SecretBox
from notify_service.config import Settings
from notify_service.domain.chat_answers import ANSWER_KINDS
from notify_service.entrypoints import (
    consumers,
    http_alerts,
    http_deliveries,
    http_failed,
    http_subscribers,
    http_tools,
)
from notify_service.entrypoints import notices as notice_consumers
from notify_service.entrypoints.deps import Deps
from notify_service.handlers.delivery.dispatcher import Dispatcher
from notify_service.handlers.delivery.scheduler import run_repeats
from notify_service.handlers.delivery.targets import Targets
from notify_service.handlers.delivery.ticket_updates import ANSWERS_LOOP, TicketUpdates

MIGRATIONS = migrations_of("notify_service")
ROUTERS = [
    http_subscribers.router,
    http_alerts.router,
    http_alerts.rejections_router,
    http_deliveries.router,
    http_failed.router,
    http_tools.router,
]
PUBLISHES = [ALERT_EVENTS, NOTIFY_DEADLETTER]


def create_app(settings: Settings) -> FastAPI:
    def subscribe(runtime: Runtime) -> None:
        consumers.register(runtime, settings)
        notice_consumers.register(runtime, settings)

    async def start(runtime: Runtime) -> None:
        box = SecretBox(settings.notify_secret_key)
        ctx = SendContext(http=delivery_session(settings), settings=settings)
        runtime.at_stop(ctx.http.close)
        app.state.notify = Deps(runtime=runtime, box=box, ctx=ctx)
        dispatcher = Dispatcher(runtime.pool, Targets(runtime.pool, box, settings), ctx, settings)
        runtime.spawn("delivery", dispatcher.run)
        runtime.spawn("delivery-recorder", dispatcher.record_forever)
        runtime.spawn("repeats", lambda: run_repeats(runtime.pool, settings))
        runtime.spawn("outbox-relay", OutboxRelay(runtime.pool, runtime.publishers).run)
        bots = ChatBots(settings)
        runtime.at_stop(bots.close)
        send_notice = partial(notices.send, settings, bots)
        senders = dict.fromkeys(notices.KINDS, send_notice)
        updates = TicketUpdates(runtime.pool, ctx, bots, senders=senders, log_attempt=notices.log_attempt)
        runtime.spawn("ticket-updates", updates.run)
        answers = TicketUpdates(runtime.pool, ctx, bots, loop=ANSWERS_LOOP, kinds=ANSWER_KINDS)
        runtime.spawn(ANSWERS_LOOP, answers.run)

    app = build(Service("notify-service", settings, ROUTERS, PUBLISHES, subscribe, start, pool_size=20))
    return app
