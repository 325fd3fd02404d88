"""Lark: a custom bot's signed card (5 messages/s and 100/min per bot), or for an interactive subscriber a card with
Acknowledge and Open ticket buttons sent by the Connected Care Lark app (the kit's client) into its chat."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from carekit.chat import ChatFailure
from notify_service.adapters.channels.base import Channel, Rendered, SendContext, Target, post_json
from notify_service.adapters.channels.im import refused
from notify_service.config import Settings
from notify_service.domain.alert_buttons import MAX_ALERTS as MAX_INTERACTIVE
from notify_service.domain.alert_buttons import Acknowledgement, lark_elements
from notify_service.domain.classify import Outcome, Verdict
from notify_service.domain.ratelimit import Limits, TokenBucket
from notify_service.domain.text import headline, line, more_line, pack, utf8_bytes

CARD_BYTES = 20_000  # Lark refuses request bodies over 30 KB: alert text is measured in UTF-8 bytes (Chinese: 3)
RATE_LIMITED = {11232, 11233}


def sign(timestamp: int, secret: str) -> str:
    """base64(HMAC-SHA256(key = timestamp + "\\n" + secret, message = ""))."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def render(alerts: Sequence[Alert], target: Target, settings: Settings, test: bool) -> Rendered:
    """A card of alert lines; an interactive subscriber's card (JSON 2.0) carries at most 10 alerts, each with
    Acknowledge and Open ticket buttons."""
    if target.config.get("interactive") and not test:
        return render_interactive(alerts, target, {}, {})
    chunks, covered = pack(
        [line(a, style="markdown") for a in alerts],
        chunk_chars=4000,
        max_chunks=20,
        total_chars=CARD_BYTES,
        cost=utf8_bytes,
    )
    more = len(alerts) - covered
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "lark_md", "content": c}} for c in chunks]
    if more:
        elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": more_line(more)}]})
    worst = "red" if any(a.severity.value == "critical" for a in alerts[:covered]) else "orange"
    card = {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": headline(alerts[:covered], more)}, "template": worst},
        "elements": elements,
    }
    return Rendered({"msg_type": "interactive", "card": card}, covered)


def render_interactive(
    alerts: Sequence[Alert],
    target: Target,
    acks: Mapping[str, Acknowledgement],
    tickets: Mapping[str, tuple[str, str]],
) -> Rendered:
    """The card with buttons (or, once acted on, who acknowledged it and the ticket opened from it)."""
    covered = min(len(alerts), MAX_INTERACTIVE)
    more = len(alerts) - covered
    elements = lark_elements(alerts[:covered], target.subscriber_id, acks, tickets)
    if more:
        elements.append({"tag": "markdown", "content": more_line(more), "text_size": "notation"})
    worst = "red" if any(a.severity.value == "critical" for a in alerts[:covered]) else "orange"
    card = {
        "schema": "2.0",
        "config": {"update_multi": True},  # one card for the whole chat: an update shows to everybody
        "header": {"title": {"tag": "plain_text", "content": headline(alerts[:covered], more)}, "template": worst},
        "body": {"elements": elements},
    }
    return Rendered({"msg_type": "interactive", "card": card}, covered)


def _check(status: int, text: str) -> Outcome | None:
    """Lark answers HTTP 200 with a non-zero `code` on failure."""
    try:
        code = int(json.loads(text).get("code", 0))
    except (ValueError, AttributeError):
        return None
    if code == 0:
        return None
    verdict = Verdict.RETRY if code in RATE_LIMITED else Verdict.PERMANENT
    return Outcome(verdict, f"HTTP {status}: Lark code {code}: {text[:200]}", status)


async def send(ctx: SendContext, target: Target, message: Rendered) -> Outcome:
    if target.config.get("interactive"):
        return await _send_as_app(ctx, target, message)
    timestamp = int(time.time())
    signed = {"timestamp": str(timestamp), "sign": sign(timestamp, target.config["signing_secret"]), **message.payload}
    return await post_json(ctx, target.config["webhook_url"], signed, secrets=target.secrets, check=_check)


async def _send_as_app(ctx: SendContext, target: Target, message: Rendered) -> Outcome:
    """Through the Connected Care Lark app (tenant access token) into the subscriber's chat."""
    if ctx.lark is None:
        return Outcome(Verdict.PERMANENT, "LARK_APP_ID / LARK_APP_SECRET are not set: interactive Lark needs the app")
    try:
        content = json.dumps(message.payload["card"], ensure_ascii=False)
        await ctx.lark.send(target.config["chat_id"], "interactive", content)
    except ChatFailure as exc:
        return refused(exc)
    return Outcome(Verdict.OK, "posted", 200)


def limits(settings: Settings) -> Limits:
    # burst + rate * 60 stays within the per-minute allowance
    per_min = TokenBucket(max(0.1, (settings.lark_rate_per_min - 10) / 60), 10)
    return Limits([TokenBucket(settings.lark_rate_per_s, 1), per_min])


CHANNEL = Channel(ChannelType.LARK, groups=True, render=render, send=send, limits=limits)
