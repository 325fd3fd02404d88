"""What every channel module provides (render, send, limits) and the shared HTTP send that classifies."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert, AlertSeverity, AlertStatus
from notify_service.config import Settings
from notify_service.domain.classify import Outcome, classify_error, classify_status, redact
from notify_service.domain.ratelimit import Limits


@dataclass(frozen=True)
class Target:
    """A subscriber as the delivery stage sees it: decrypted configuration and what to redact."""

    subscriber_id: str
    org_id: str
    name: str
    channel: ChannelType
    config: dict[str, Any]
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rendered:
    """A message ready to send, carrying the first `covered` of the alerts it was given."""

    payload: dict[str, Any]
    covered: int
    headers: dict[str, str] = field(default_factory=dict)
    follow_up: dict[str, Any] | None = None  # sent after an accepted payload (PagerDuty: resolve the test)


@dataclass
class SendContext:
    """Adapters the channels send through, created in the lifespan."""

    http: aiohttp.ClientSession
    settings: Settings


Render = Callable[[Sequence[Alert], Target, Settings, bool], Rendered]
Send = Callable[[SendContext, Target, Rendered], Awaitable[Outcome]]
MakeLimits = Callable[[Settings], Limits]


@dataclass(frozen=True)
class Channel:
    """One integration: render alerts for it, send them, and the rate its targets are held to."""

    type: ChannelType
    groups: bool
    render: Render
    send: Send
    limits: MakeLimits


async def post_json(
    ctx: SendContext,
    url: str,
    payload: dict[str, Any],
    *,
    secrets: Sequence[str],
    headers: dict[str, str] | None = None,
    check: Callable[[int, str], Outcome | None] | None = None,
) -> Outcome:
    """POST JSON without following redirects; classify the answer (secrets redacted from the reason)."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    try:
        async with ctx.http.post(
            url, data=body, headers={"Content-Type": "application/json", **(headers or {})}, allow_redirects=False
        ) as resp:
            text = await resp.text(errors="replace")
            if check is not None and 200 <= resp.status < 300:
                special = check(resp.status, redact(text, secrets))  # redacted before any check cuts it
                if special is not None:
                    return special
            return classify_status(resp.status, resp.headers, text, secrets)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return classify_error(exc, secrets)


def test_alert(target: Target) -> Alert:
    """The synthetic alert a new subscriber is tested with."""
    return Alert(
        fingerprint=f"connected-care-test-{target.subscriber_id}",
        org_id=target.org_id,
        project_id="test",
        rule="connected_care_test_message",
        severity=AlertSeverity.INFO,
        status=AlertStatus.FIRING,
        starts_at=datetime.now(UTC),
        summary=f"Test message from Connected Care: subscriber '{target.name}' is set up",
        source="connected-care",
    )
