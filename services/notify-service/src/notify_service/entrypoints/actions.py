"""Kafka subscriber for what people do with an alert from its message (`alert.actions.v1`): acknowledgements."""

from __future__ import annotations

from care_schemas.events.action import ActionEvent, action_event_adapter
from care_schemas.topics import ALERT_ACTIONS
from carekit.runtime import Runtime
from notify_service.config import Settings
from notify_service.handlers import alert_actions


def register(runtime: Runtime, settings: Settings) -> None:
    async def on_action(event: ActionEvent) -> None:
        await alert_actions.take_in_action(runtime.pool, event)

    runtime.subscribe(ALERT_ACTIONS, f"{settings.consumer_group_prefix}.actions", action_event_adapter, on_action)
