"""Slack incoming webhooks: Block Kit posted as JSON to the webhook URL, 1 message/s per webhook. (Interactive
subscribers' messages carry buttons; the Web API calls that answer them go through carekit's Slack client.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from notify_service.adapters.channels.base import Channel, Rendered, SendContext, Target, post_json
from notify_service.config import Settings
from notify_service.domain.alert_buttons import MAX_ALERTS as MAX_INTERACTIVE
from notify_service.domain.alert_buttons import Acknowledgement, slack_blocks
from notify_service.domain.classify import Outcome
from notify_service.domain.ratelimit import Limits, TokenBucket
from notify_service.domain.text import headline, line, more_line, pack

MAX_BLOCKS = 50
SECTION_CHARS = 3000
HEADER_CHARS = 150
TOTAL_CHARS = 38_000  # Slack truncates messages past 40,000 characters


def render(alerts: Sequence[Alert], target: Target, settings: Settings, test: bool) -> Rendered:
    """A header, sections of alert lines (each <= 3000 chars), and "and N more" when not all fit. An interactive
    subscriber's message carries at most 10 alerts, each with Acknowledge and Open ticket buttons."""
    if target.config.get("interactive") and not test:
        return render_interactive(alerts, target, {}, {})
    sections, covered = pack(
        [line(a, markdown=True) for a in alerts],
        chunk_chars=SECTION_CHARS,
        max_chunks=MAX_BLOCKS - 3,
        total_chars=TOTAL_CHARS,
    )
    more = len(alerts) - covered
    title = headline(alerts[:covered], more)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_CHARS]}}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in sections]
    if more:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more_line(more)}]})
    return Rendered({"text": title, "blocks": blocks}, covered)


def render_interactive(
    alerts: Sequence[Alert],
    target: Target,
    acks: Mapping[str, Acknowledgement],
    tickets: Mapping[str, tuple[str, str]],
) -> Rendered:
    """The message with buttons (or, once acted on, who acknowledged it and the ticket opened from it)."""
    covered = min(len(alerts), MAX_INTERACTIVE)
    more = len(alerts) - covered
    title = headline(alerts[:covered], more)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_CHARS]}}]
    blocks += slack_blocks(alerts[:covered], target.subscriber_id, acks, tickets)
    if more:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more_line(more)}]})
    return Rendered({"text": title, "blocks": blocks}, covered)


async def send(ctx: SendContext, target: Target, message: Rendered) -> Outcome:
    return await post_json(ctx, target.config["webhook_url"], message.payload, secrets=target.secrets)


def limits(settings: Settings) -> Limits:
    return Limits([TokenBucket(settings.slack_rate_per_s, 1)])


CHANNEL = Channel(ChannelType.SLACK, groups=True, render=render, send=send, limits=limits)
