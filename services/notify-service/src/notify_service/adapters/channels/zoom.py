"""Zoom incoming webhooks: the verification token in `Authorization`, the full message format."""

from __future__ import annotations

import json
from collections.abc import Sequence

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from notify_service.adapters.channels.base import Channel, Rendered, SendContext, Target, post_json
from notify_service.config import Settings
from notify_service.domain.classify import Outcome
from notify_service.domain.ratelimit import Limits, TokenBucket
from notify_service.domain.text import headline, json_chars, line, more_line, pack

# Zoom refuses a message whose body is too long (413). Decision: the JSON of `body`, measured with ASCII escapes
# (an emoji counts 12, a line break 2: the strictest reading), stays within 4,000 characters, so the first try fits.
BODY_CHARS = 4000
ENVELOPE = len(json.dumps([{"type": "message", "text": ""}]))  # the JSON around the text
MORE_RESERVE = json_chars("\n" + more_line(99_999))


def render(alerts: Sequence[Alert], target: Target, settings: Settings, test: bool) -> Rendered:
    """`{"head": {"text"}, "body": [{"type": "message", "text"}]}` whose `body` fits Zoom's limit as sent."""
    budget = BODY_CHARS - ENVELOPE - MORE_RESERVE
    [text], covered = pack(
        [line(a) for a in alerts], chunk_chars=budget, max_chunks=1, total_chars=budget, cost=json_chars
    )
    more = len(alerts) - covered
    if more:
        text += "\n" + more_line(more)
    head = {"text": headline(alerts[:covered], more)[:200], "sub_head": {"text": f"Connected Care · {target.name}"}}
    return Rendered({"head": head, "body": [{"type": "message", "text": text}]}, covered)


async def send(ctx: SendContext, target: Target, message: Rendered) -> Outcome:
    url = target.config["endpoint_url"]
    url += ("&" if "?" in url else "?") + "format=full"
    return await post_json(
        ctx,
        url,
        message.payload,
        secrets=target.secrets,
        headers={"Authorization": target.config["verification_token"]},
    )


def limits(settings: Settings) -> Limits:
    return Limits([TokenBucket(settings.zoom_rate_per_s, 1)])


CHANNEL = Channel(ChannelType.ZOOM, groups=True, render=render, send=send, limits=limits)
