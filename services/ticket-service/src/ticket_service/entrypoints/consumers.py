"""Kafka subscriber for `alert.actions.v1`: notify-service says an alert a ticket was opened from has resolved."""

from __future__ import annotations

from collections.abc import Callable

from care_schemas.events.action import ActionEvent, TicketAlertResolved, action_event_adapter
from care_schemas.topics import ALERT_ACTIONS
from carekit.runtime import Runtime
from ticket_service import handlers
from ticket_service.config import Settings
from ticket_service.handlers import alert_actions


def register(runtime: Runtime, settings: Settings, deps: Callable[[], handlers.Deps]) -> None:
    """`deps` gives the service's dependencies once it has started (the subscriber is declared before)."""
    group = f"{settings.consumer_group_prefix}.alert-actions"

    async def on_action(event: ActionEvent) -> None:
        if isinstance(event, TicketAlertResolved):  # acknowledgements are notify-service's
            await alert_actions.alert_resolved(deps(), event)

    runtime.subscribe(ALERT_ACTIONS, group, action_event_adapter, on_action)
