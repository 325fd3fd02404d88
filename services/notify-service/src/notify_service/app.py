"""Builds notify-service on the kit's skeleton: HTTP routes, Kafka subscribers, delivery pipeline, schedulers."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from care_schemas.topics import ALERT_ACTIONS, ALERT_EVENTS, NOTIFY_DEADLETTER
from carekit.bootstrap import Service, build, migrations_of
from carekit.outbox import OutboxRelay
from carekit.retention import by_age, in_id_order
from carekit.runtime import Runtime
from notify_service.adapters import notices
from notify_service.adapters.channels.base import SendContext
from notify_service.adapters.channels.im import ChatBots
from notify_service.adapters.handoff import HandoffServer, RemoteDispatcher
from notify_service.adapters.resolve import delivery_session
from notify_service.adapters.secrets import SecretBox
from notify_service.config import Settings
from notify_service.domain.chat_answers import ANSWER_KINDS
from notify_service.entrypoints import actions as action_consumers
from notify_service.entrypoints import (
    consumers,
    http_alerts,
    http_am,
    http_deliveries,
    http_failed,
    http_subscribers,
    http_tools,
    http_windows,
)
from notify_service.entrypoints import notices as notice_consumers
from notify_service.entrypoints.deps import Deps
from notify_service.handlers import alert_actions
from notify_service.handlers.delivery.beside import Beside
from notify_service.handlers.delivery.dispatcher import Dispatcher, Local, hand_over
from notify_service.handlers.delivery.scheduler import run_repeats
from notify_service.handlers.delivery.targets import Targets
from notify_service.handlers.delivery.ticket_updates import ANSWERS_LOOP, Sender, TicketUpdates
from notify_service.handlers.intake import AlertIntake
from notify_service.handlers.mutes import run_mutes
from notify_service.handlers.purges import run_purges
from notify_service.handlers.timeouts import run_timeouts

MIGRATIONS = migrations_of("notify_service")
ROUTERS = [
    http_subscribers.router,
    http_alerts.router,
    http_alerts.rejections_router,
    http_deliveries.router,
    http_failed.router,
    http_tools.router,
    http_am.router,
    http_windows.router,
]
PUBLISHES = [ALERT_EVENTS, ALERT_ACTIONS, NOTIFY_DEADLETTER]
# what history is purged after RETENTION_DAYS (besides the kit's outbox, processed events and re-driven parked rows)
RETENTION = [
    # each by an index on its age (notifications_finished, delivery_attempts_age, alerts_resolved_age, silences_ends,
    # alert_acks_age, alert_tickets_told) or in id order where rows are written in the order of their age
    by_age(
        "notifications",
        "created_at",
        "(state = 'cancelled' OR (state = 'delivered' AND (status = 'resolved' OR repeated)))",
    ),
    by_age("delivery_attempts", "attempted_at"),
    in_id_order("intake_rejections", "received_at"),
    in_id_order("im_messages", "created_at", "state = 'delivered'"),
    by_age("alerts", "updated_at", "status = 'resolved'", key="ctid"),
    # issue 12: silences expired before the cutoff (Alertmanager keeps expired ones a while, too), acknowledgements
    # of firings that are over, links of tickets already told that their alert resolved
    by_age("silences", "ends_at"),
    by_age(
        "alert_acks",
        "acknowledged_at",
        "NOT EXISTS (SELECT 1 FROM alerts a WHERE a.org_id = alert_acks.org_id"
        " AND a.fingerprint = alert_acks.fingerprint AND a.starts_at = alert_acks.starts_at"
        " AND a.episode = alert_acks.episode AND a.status = 'firing' OFFSET 0)",
        key="ctid",
    ),
    by_age("alert_tickets", "told_at", "told_at IS NOT NULL", key="ctid"),
]


def create_app(settings: Settings) -> FastAPI:
    api = settings.notify_role in ("all", "api")
    delivers = settings.notify_role in ("all", "dispatcher")
    local = Local()  # the intake hands this process's dispatcher what it may send at once

    def subscribe(runtime: Runtime) -> None:
        if api:
            consumers.register(runtime, settings, local)
            notice_consumers.register(runtime, settings)
            action_consumers.register(runtime, settings)

    async def start(runtime: Runtime) -> None:
        box = SecretBox(settings.notify_secret_key)
        bots = ChatBots(settings)
        runtime.at_stop(bots.close)
        ctx = SendContext(http=delivery_session(settings), settings=settings, lark=bots.lark)
        runtime.at_stop(ctx.http.close)
        intake = AlertIntake(runtime.pool, runtime.publishers, settings, local)
        app.state.notify = Deps(runtime=runtime, box=box, ctx=ctx, intake=intake)
        runtime.spawn("outbox-relay", OutboxRelay(runtime.pool, runtime.publishers).run)
        handoff = settings.delivery_handoff_socket
        # the socket's client: an API process, or one that delivers beside a dispatcher process (handlers/delivery/
        # beside.py); a dispatcher process serves it
        remote = RemoteDispatcher(handoff, runtime.pool) if handoff and api else None
        if remote is not None:
            runtime.spawn("delivery-handoff", remote.run)
        local.dispatcher = remote
        if delivers:
            targets = Targets(runtime.pool, box, settings)
            dispatcher = Dispatcher(runtime.pool, targets, ctx, settings, box=box, foreground=local.foreground)
            local.dispatcher = Beside(dispatcher, remote) if remote is not None else dispatcher
            runtime.spawn("delivery-leases", dispatcher.lease_forever)
            runtime.spawn("delivery", dispatcher.run)
            runtime.spawn("delivery-recorder", dispatcher.record_forever)
            if handoff and not api:
                server = HandoffServer(handoff, partial(hand_over, dispatcher), dispatcher.state)
                runtime.spawn("delivery-handoff", server.run)
        if api:
            runtime.spawn("repeats", lambda: run_repeats(runtime.pool, settings))
            runtime.spawn("mutes", lambda: run_mutes(runtime.pool, settings.mute_check_interval_s))
            runtime.spawn("alert-timeouts", lambda: run_timeouts(runtime.pool, settings.alert_timeout_check_interval_s))
            purges = partial(run_purges, runtime.pool, settings.retention_batch, settings.retention_interval_s)
            runtime.spawn("subscriber-purges", purges)
            send_notice = partial(notices.send, settings, bots)
            senders: dict[str, Sender] = dict.fromkeys(notices.KINDS, send_notice)
            senders[alert_actions.UPDATE] = alert_actions.MessageUpdates(runtime.pool, box, ctx).send
            runtime.spawn("ticket-links", lambda: alert_actions.run_ticket_links(runtime.pool, 2.0))
            updates = TicketUpdates(runtime.pool, ctx, bots, senders=senders, log_attempt=notices.log_attempt)
            runtime.spawn("ticket-updates", updates.run)
            answers = TicketUpdates(runtime.pool, ctx, bots, loop=ANSWERS_LOOP, kinds=ANSWER_KINDS)
            runtime.spawn(ANSWERS_LOOP, answers.run)

    routers = ROUTERS if api else []
    service = Service(
        "notify-service", settings, routers, PUBLISHES, subscribe, start, pool_size=20, retention=RETENTION
    )
    app = build(service)
    return app
