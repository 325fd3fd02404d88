"""Kafka subscribers of notify-service: alerts (batched), ticket events (updates to IM, TAM emails) and the
assistant's answers (posted into their threads)."""

from __future__ import annotations

from collections.abc import Sequence

from care_schemas.events.alert import AlertEvent, alert_event_adapter
from care_schemas.events.chat import ChatEvent, chat_event_adapter
from care_schemas.events.ticket import TicketEvent, ticket_event_adapter
from care_schemas.topics import ALERT_EVENTS, CHAT_EVENTS, TICKET_EVENTS
from carekit.consumer import subscribe, subscribe_batch
from carekit.projection import subscribe_plan_projection
from carekit.runtime import Runtime
from notify_service import handlers
from notify_service.config import Settings


def register(runtime: Runtime, settings: Settings) -> None:
    """Alert intake (batches, committed after the notifications are stored), ticket events, the plan projection."""
    group = f"{settings.consumer_group_prefix}.intake"

    async def on_alerts(events: Sequence[AlertEvent]) -> None:
        await handlers.take_in_alerts(runtime.pool, events, settings)

    subscribe_batch(
        runtime.broker,
        topic=ALERT_EVENTS,
        group_id=group,
        adapter=alert_event_adapter,
        handle=on_alerts,
        rejects=runtime.rejects(group),
        max_records=2000,
    )

    tickets = f"{settings.consumer_group_prefix}.tickets"

    async def on_ticket(event: TicketEvent) -> None:
        await handlers.take_in_ticket_event(runtime.pool, event)

    subscribe(
        runtime.broker,
        topic=TICKET_EVENTS,
        group_id=tickets,
        adapter=ticket_event_adapter,
        handle=on_ticket,
        rejects=runtime.rejects(tickets),
        # A new deployment posts updates from now on; replaying a week of ticket history into customers'
        # chat threads and TAMs' mailboxes would be noise. Once the group exists, nothing is skipped.
        from_beginning=False,
    )

    chat = f"{settings.consumer_group_prefix}.chat"

    async def on_chat(event: ChatEvent) -> None:
        await handlers.take_in_chat_event(runtime.pool, event)

    subscribe(
        runtime.broker,
        topic=CHAT_EVENTS,
        group_id=chat,
        adapter=chat_event_adapter,
        handle=on_chat,
        rejects=runtime.rejects(chat),
        # as for ticket updates: a new deployment posts answers from now on, not a week of old ones
        from_beginning=False,
    )

    plans = f"{settings.consumer_group_prefix}.plans"
    subscribe_plan_projection(
        runtime.broker,
        lambda: runtime.pool,
        group_id=plans,
        rejects=runtime.rejects(plans),
        on_change=handlers.on_plan_change,
    )
