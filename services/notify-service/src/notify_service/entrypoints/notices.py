"""Kafka subscribers for notices: plan events (contacts, retirement, trial, sales) and ticket events (replies and
status changes for the reporter), each its own consumer group."""

from __future__ import annotations

from care_schemas.events.plan import PlanEvent, plan_event_adapter
from care_schemas.events.ticket import TicketEvent, ticket_event_adapter
from care_schemas.topics import PLAN_EVENTS, TICKET_EVENTS
from carekit.consumer import subscribe
from carekit.runtime import Runtime
from notify_service.config import Settings
from notify_service.handlers import notices


def register(runtime: Runtime, settings: Settings) -> None:
    """Both start, on a new deployment, at the end of their topics: no notice about last year's trial or ticket.
    Contacts set before a deployment first runs are not known until changed again (docs: notify-service README)."""
    plans = f"{settings.consumer_group_prefix}.notices"

    async def on_plan(event: PlanEvent) -> None:
        await notices.take_in_plan_event(runtime.pool, event, settings)

    subscribe(
        runtime.broker,
        topic=PLAN_EVENTS,
        group_id=plans,
        adapter=plan_event_adapter,
        handle=on_plan,
        rejects=runtime.rejects(plans),
        from_beginning=False,
    )
    tickets = f"{settings.consumer_group_prefix}.ticket-notices"

    async def on_ticket(event: TicketEvent) -> None:
        await notices.take_in_ticket_event(runtime.pool, event, settings)

    subscribe(
        runtime.broker,
        topic=TICKET_EVENTS,
        group_id=tickets,
        adapter=ticket_event_adapter,
        handle=on_ticket,
        rejects=runtime.rejects(tickets),
        from_beginning=False,
    )
