"""Kafka subscribers of notify-service."""

from __future__ import annotations

from collections.abc import Sequence

from care_schemas.events.alert import AlertEvent, alert_event_adapter
from care_schemas.topics import ALERT_EVENTS
from carekit.consumer import Rejects, subscribe_batch
from carekit.runtime import Runtime
from notify_service import handlers
from notify_service.config import Settings


def register(runtime: Runtime, settings: Settings) -> None:
    """Alert intake: batches from alert.events.v1, committed after the notifications are stored."""
    group = f"{settings.consumer_group_prefix}.intake"

    async def on_alerts(events: Sequence[AlertEvent]) -> None:
        await handlers.take_in_alerts(runtime.pool, events)

    subscribe_batch(
        runtime.broker,
        topic=ALERT_EVENTS,
        group_id=group,
        adapter=alert_event_adapter,
        handle=on_alerts,
        rejects=Rejects(runtime.producer, group, "/notify-service"),
    )
