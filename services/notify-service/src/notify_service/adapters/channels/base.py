"""What every channel module provides (render, send, limits) and the shared HTTP send that classifies."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from yarl import URL

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert, AlertSeverity, AlertStatus
from carekit.chat.lark import LarkBot
from notify_service.adapters.http1 import Http1Client, HttpError, InvalidUrl
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
    group_by: tuple[str, ...] | None = None  # Alertmanager's group_by (None: by cluster)
    max_alerts: int | None = None  # most alerts in one message (None: the channel's default)
    key: str = ""  # the target's hash: subscribers sharing it share its rate limits and pauses


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

    http: Http1Client
    settings: Settings
    lark: LarkBot | None = None  # the Connected Care Lark app (interactive Lark subscribers post through it)


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
    try:
        answer = await ctx.http.post(_url(url), orjson.dumps(payload), headers)
    except (HttpError, TimeoutError, OSError, LookupError) as exc:
        return classify_error(exc, secrets)
    status, raw = answer.status, answer.body
    if check is None and 200 <= status < 300 and raw in PLAIN_OK_BODIES:
        return _plain_ok(status, raw)
    text = raw.decode(answer.charset(), errors="replace")
    if check is not None and 200 <= status < 300:
        special = check(status, redact(text, secrets))  # redacted before any check cuts it
        if special is not None:
            return special
    return classify_status(status, answer.headers(), text, secrets)


@functools.lru_cache(maxsize=4096)
def _url(url: str) -> URL:
    """A target's URL, parsed once; one that cannot be parsed is a client error like any other."""
    try:
        return URL(url)
    except (ValueError, TypeError) as exc:
        raise InvalidUrl(f"cannot parse the URL: {exc}") from exc


# most answers are a 2xx with an empty or "ok" body (too short to hold any part of a secret): classified once each
PLAIN_OK_BODIES = frozenset({b"", b"ok", b"OK"})
_PLAIN: dict[tuple[int, bytes], Outcome] = {}


def _plain_ok(status: int, raw: bytes) -> Outcome:
    found = _PLAIN.get((status, raw))
    if found is None:
        found = _PLAIN[(status, raw)] = classify_status(status, None, raw.decode())
    return found


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
