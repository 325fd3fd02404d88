"""Kafka subscribers of notify-service: alerts (batched) and plan changes (the projection with our hook)."""

from __future__ import annotations

from collections.abc import Sequence

from care_schemas.events.alert import AlertEvent, alert_event_adapter
from care_schemas.topics import ALERT_EVENTS
from carekit.consumer import Rejects, subscribe_batch
from carekit.runtime import Runtime
from notify_service import handlers
from notify_service.config import Settings

SOURCE = "/notify-service"


def register(runtime: Runtime, settings: Settings) -> None:
    """Alert intake: batches from alert.events.v1, committed after the notifications are stored."""
    group = f"{settings.consumer_group_prefix}.intake"

    async def on_alerts(events: Sequence[AlertEvent]) -> None:
        await handlers.take_in_alerts(runtime.pool, events, settings)

    subscribe_batch(
        runtime.broker,
        topic=ALERT_EVENTS,
        group_id=group,
        adapter=alert_event_adapter,
        handle=on_alerts,
        rejects=Rejects(runtime.producer, group, SOURCE),
        max_records=2000,
    )
