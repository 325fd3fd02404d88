"""Webhook and Flashduty: Alertmanager webhook JSON (version 4), the alerts of one group per request (the
subscriber's group_by, Alertmanager's semantics), up to its max_alerts and WEBHOOK_MAX_BYTES; `dryRun` on tests."""

from __future__ import annotations

from collections.abc import Sequence

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from notify_service.adapters.channels.base import Channel, Rendered, SendContext, Target, post_json
from notify_service.config import Settings
from notify_service.domain.alertmanager import render_webhook
from notify_service.domain.classify import Outcome
from notify_service.domain.ratelimit import Limits, TokenBucket

ENVELOPE_BYTES = 2048  # the payload around its alerts, generously


def _size(alert: Alert) -> int:
    """About how many bytes an alert takes in the payload (an estimate: exact sizes would mean encoding twice)."""
    size = 320 + len(alert.summary) + len(alert.description) + len(alert.rule) + len(alert.link or "")
    for k, v in alert.labels.items():
        size += len(k) + len(v) + 8
    for k, v in alert.annotations.items():
        size += len(k) + len(v) + 8
    return size * 2  # labels appear in the alert and again in the payload's common labels; non-ASCII text


def render(alerts: Sequence[Alert], target: Target, settings: Settings, test: bool) -> Rendered:
    most = min(len(alerts), target.max_alerts or settings.webhook_max_alerts)
    budget, covered = settings.webhook_max_bytes - ENVELOPE_BYTES, 0
    while covered < most:
        budget -= _size(alerts[covered])
        if budget < 0 and covered:
            break
        covered += 1
    body = render_webhook(
        alerts[:covered],
        receiver=target.name,
        external_url=settings.external_url,
        group_by=target.group_by,
        dry_run=test,
    )
    return Rendered(body, covered)


async def send(ctx: SendContext, target: Target, message: Rendered) -> Outcome:
    url = target.config.get("url") or target.config["webhook_url"]
    return await post_json(ctx, url, message.payload, secrets=target.secrets)


def limits(settings: Settings) -> Limits:
    return Limits([TokenBucket(settings.webhook_rate_per_s, settings.webhook_burst)])


CHANNEL = Channel(ChannelType.WEBHOOK, groups=True, render=render, send=send, limits=limits)
FLASHDUTY = Channel(ChannelType.FLASHDUTY, groups=True, render=render, send=send, limits=limits)
