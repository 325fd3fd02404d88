"""One module per integration, each with render, send and limits; the registry maps types to them."""

from __future__ import annotations

from care_schemas.catalogue import ChannelType
from notify_service.adapters.channels import email, lark, pagerduty, slack, webhook, zoom
from notify_service.adapters.channels.base import Channel

REGISTRY: dict[ChannelType, Channel] = {
    ChannelType.SLACK: slack.CHANNEL,
    ChannelType.ZOOM: zoom.CHANNEL,
    ChannelType.LARK: lark.CHANNEL,
    ChannelType.PAGERDUTY: pagerduty.CHANNEL,
    ChannelType.WEBHOOK: webhook.CHANNEL,
    ChannelType.FLASHDUTY: webhook.FLASHDUTY,
    ChannelType.EMAIL: email.CHANNEL,
}
