"""Webhook and Flashduty: Alertmanager webhook JSON (version 4), one alert per request, `dryRun` on tests."""

from __future__ import annotations

from collections.abc import Sequence

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from notify_service.adapters.channels.base import Channel, Rendered, SendContext, Target, post_json
from notify_service.config import Settings
from notify_service.domain.alertmanager import render_webhook
from notify_service.domain.classify import Outcome
from notify_service.domain.ratelimit import Limits, TokenBucket


def render(alerts: Sequence[Alert], target: Target, settings: Settings, test: bool) -> Rendered:
    body = render_webhook(alerts[0], receiver=target.name, external_url=settings.external_url, dry_run=test)
    return Rendered(body, 1)


async def send(ctx: SendContext, target: Target, message: Rendered) -> Outcome:
    url = target.config.get("url") or target.config["webhook_url"]
    return await post_json(ctx, url, message.payload, secrets=target.secrets)


def limits(settings: Settings) -> Limits:
    return Limits([TokenBucket(settings.webhook_rate_per_s, settings.webhook_burst)])


CHANNEL = Channel(ChannelType.WEBHOOK, groups=False, render=render, send=send, limits=limits)
FLASHDUTY = Channel(ChannelType.FLASHDUTY, groups=False, render=render, send=send, limits=limits)
