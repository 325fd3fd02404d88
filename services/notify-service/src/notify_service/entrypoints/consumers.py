"""Kafka subscribers of notify-service: alerts (batched), ticket events (updates to IM, TAM emails) and the
assistant's answers (posted into their threads)."""

from __future__ import annotations

from collections.abc import Sequence

from care_schemas.events.alert import AlertEvent, alert_event_adapter
from care_schemas.events.chat import ChatEvent, chat_event_adapter
from care_schemas.events.ticket import TicketEvent, ticket_event_adapter
from care_schemas.topics import ALERT_EVENTS, CHAT_EVENTS, TICKET_EVENTS
from carekit.consumer import subscribe_batch
from carekit.runtime import Runtime
from notify_service import handlers
from notify_service.config import INTAKE_POLL_RECORDS, Settings
from notify_service.handlers.delivery.dispatcher import Local


def register(runtime: Runtime, settings: Settings, local: Local) -> None:
    """Alert intake (batches, committed after the notifications are stored; with a dispatcher in this process,
    `local`, it hands that dispatcher what it may send at once), ticket events, the plan projection."""
    group = f"{settings.consumer_group_prefix}.intake"

    async def on_alerts(events: Sequence[AlertEvent]) -> None:
        await handlers.take_in_alerts(runtime.pool, events, settings, local.dispatcher)

    subscribe_batch(
        runtime.broker,
        topic=ALERT_EVENTS,
        group_id=group,
        adapter=alert_event_adapter,
        handle=on_alerts,
        rejects=runtime.rejects(group),
        max_records=INTAKE_POLL_RECORDS,
        lanes=4,  # by organisation (the key): their transactions overlap, so Python and Postgres work at once
    )

    async def on_ticket(event: TicketEvent) -> None:
        await handlers.take_in_ticket_event(runtime.pool, event)

    async def on_chat(event: ChatEvent) -> None:
        await handlers.take_in_chat_event(runtime.pool, event)

    # A new deployment posts ticket updates and the assistant's answers from now on; replaying a week of history
    # into customers' chat threads and TAMs' mailboxes would be noise. Once a group exists, nothing is skipped.
    prefix = settings.consumer_group_prefix
    runtime.subscribe(TICKET_EVENTS, f"{prefix}.tickets", ticket_event_adapter, on_ticket, from_beginning=False)
    runtime.subscribe(CHAT_EVENTS, f"{prefix}.chat", chat_event_adapter, on_chat, from_beginning=False)

    runtime.project_plans(f"{prefix}.plans", on_change=handlers.on_plan_change)
