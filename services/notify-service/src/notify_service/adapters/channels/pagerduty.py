"""PagerDuty Events API v2: trigger on firing, resolve on resolved, dedup_key from the fingerprint."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert, AlertStatus
from notify_service.adapters.channels.base import Channel, Rendered, SendContext, Target, post_json
from notify_service.config import Settings
from notify_service.domain.classify import Outcome
from notify_service.domain.ratelimit import Limits, TokenBucket

MAX_BYTES = 512 * 1024
SUMMARY_CHARS = 1024


def event_for(alert: Alert, routing_key: str = "") -> dict[str, Any]:
    """One Events v2 document for one alert."""
    if alert.status is AlertStatus.RESOLVED:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": alert.fingerprint}
    details: dict[str, Any] = {
        "description": alert.description,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "org_id": alert.org_id,
        "project_id": alert.project_id,
        "cluster_plan": alert.cluster_plan.value if alert.cluster_plan else None,
        "source": alert.source,
    }
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.fingerprint,
        "payload": {
            "summary": f"{alert.rule}: {alert.summary}"[:SUMMARY_CHARS],
            "source": alert.cluster_id or alert.project_id,
            "severity": alert.severity.value,
            "timestamp": alert.starts_at.isoformat(),
            "component": alert.cluster_id or "",
            "group": alert.project_id,
            "class": alert.rule,
            "custom_details": details,
        },
    }
    links = [{"href": alert.link, "text": "Open in console"}] if alert.link else []
    runbook = alert.annotations.get("runbook_url", "")
    if runbook.startswith(("https://", "http://")):
        links.append({"href": runbook, "text": "Runbook"})
    if links:
        event["links"] = links
    size = len(json.dumps(event).encode())
    if size > MAX_BYTES:  # only the description can be that large
        keep = max(0, len(alert.description) - (size - MAX_BYTES) - 64)
        details["description"] = alert.description[:keep] + "…"
    return event


def render(alerts: Sequence[Alert], target: Target, settings: Settings, test: bool) -> Rendered:
    """One alert per event (PagerDuty groups by dedup_key itself); a test is triggered and then resolved,
    so saving a subscriber leaves no open incident."""
    alert = alerts[0]
    follow_up = event_for(alert.model_copy(update={"status": AlertStatus.RESOLVED})) if test else None
    return Rendered(event_for(alert), 1, follow_up=follow_up)


async def send(ctx: SendContext, target: Target, message: Rendered) -> Outcome:
    key = target.config["integration_key"]
    outcome = await post_json(
        ctx, ctx.settings.pagerduty_events_url, {**message.payload, "routing_key": key}, secrets=target.secrets
    )
    if outcome.ok and message.follow_up is not None:
        await post_json(
            ctx, ctx.settings.pagerduty_events_url, {**message.follow_up, "routing_key": key}, secrets=target.secrets
        )
    return outcome


def limits(settings: Settings) -> Limits:
    return Limits([TokenBucket(max(0.1, (settings.pagerduty_rate_per_min - 10) / 60), 10)])


CHANNEL = Channel(ChannelType.PAGERDUTY, groups=False, render=render, send=send, limits=limits)
