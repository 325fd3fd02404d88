"""Zoom incoming webhooks: the verification token in `Authorization`, the full message format."""

from __future__ import annotations

from collections.abc import Sequence

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from notify_service.channels.base import Channel, Rendered, SendContext, Target, post_json
from notify_service.config import Settings
from notify_service.domain.classify import Outcome
from notify_service.domain.ratelimit import Limits, TokenBucket
from notify_service.domain.text import headline, line, more_line, pack

BODY_CHARS = 4000


def render(alerts: Sequence[Alert], target: Target, settings: Settings, test: bool) -> Rendered:
    """`{"head": {"text"}, "body": [{"type": "message", "text"}]}` with at most 4000 characters of alerts."""
    [text], covered = pack([line(a) for a in alerts], chunk_chars=BODY_CHARS - 80, max_chunks=1, total_chars=BODY_CHARS)
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
