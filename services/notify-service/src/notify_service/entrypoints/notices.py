"""Kafka subscribers for notices: plan events (contacts, retirement, trial, sales) and ticket events (replies and
status changes for the reporter), each its own consumer group."""

from __future__ import annotations

from care_schemas.events.plan import PlanEvent, plan_event_adapter
from care_schemas.events.ticket import TicketEvent, ticket_event_adapter
from care_schemas.topics import PLAN_EVENTS, TICKET_EVENTS
from carekit.runtime import Runtime
from notify_service.config import Settings
from notify_service.handlers import notices


def register(runtime: Runtime, settings: Settings) -> None:
    """Both start, on a new deployment, at the end of their topics: no notice about last year's trial or ticket.
    Contacts set before a deployment first runs are not known until changed again (docs: notify-service README)."""

    async def on_plan(event: PlanEvent) -> None:
        await notices.take_in_plan_event(runtime.pool, event, settings)

    async def on_ticket(event: TicketEvent) -> None:
        await notices.take_in_ticket_event(runtime.pool, event, settings)

    prefix = settings.consumer_group_prefix
    runtime.subscribe(PLAN_EVENTS, f"{prefix}.notices", plan_event_adapter, on_plan, from_beginning=False)
    runtime.subscribe(TICKET_EVENTS, f"{prefix}.ticket-notices", ticket_event_adapter, on_ticket, from_beginning=False)
