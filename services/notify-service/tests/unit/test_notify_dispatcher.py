"""The dispatcher's worker step: an unexpected failure while rendering or sending never strands notifications."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from datetime import UTC, datetime
from typing import Any

import pytest
from notify_helpers import settings, target

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from notify_service.adapters.queue import Claimed
from notify_service.adapters.secrets import SecretBox
from notify_service.channels import REGISTRY
from notify_service.channels.base import SendContext
from notify_service.delivery.dispatcher import Dispatcher
from notify_service.delivery.targets import Targets

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]
SECRET_URL = "https://hooks.example.com/hook/T0/secret-token-4711"


def _dispatcher() -> Dispatcher:
    cfg = settings()
    box = SecretBox(cfg.notify_secret_key)
    return Dispatcher(None, Targets(None, box, cfg), SendContext(None, cfg), cfg)  # type: ignore[arg-type]


async def test_a_channel_that_raises_returns_its_notifications_for_a_retry(
    alert: Alert, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(ctx: Any, t: Any, rendered: Any) -> Any:
        raise ValueError(f"cannot post to {SECRET_URL}")

    broken = dataclasses.replace(REGISTRY[ChannelType.WEBHOOK], send=explode)
    monkeypatch.setitem(REGISTRY, ChannelType.WEBHOOK, broken)
    dispatcher = _dispatcher()
    rows = deque([Claimed(7, "sub-1", "org-1", "webhook", "sub-1/", 0, datetime.now(UTC), alert)])
    await dispatcher._send_next(target(ChannelType.WEBHOOK, {"url": SECRET_URL}), rows)

    result = await asyncio.wait_for(dispatcher._results.get(), 1)
    assert [r.id for r in result.rows] == [7]
    assert result.outcome == "retry"
    assert "internal error: ValueError" in result.detail
    assert "secret-token-4711" not in result.detail
    assert "secret-token-4711" not in caplog.text


async def test_a_render_failure_returns_the_whole_group_for_a_retry(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any) -> Any:
        raise RuntimeError("render bug")

    broken = dataclasses.replace(REGISTRY[ChannelType.SLACK], render=explode)
    monkeypatch.setitem(REGISTRY, ChannelType.SLACK, broken)
    dispatcher = _dispatcher()
    rows = deque(Claimed(i, "sub-1", "org-1", "slack", "sub-1/cl-1", 0, datetime.now(UTC), alert) for i in range(1, 4))
    slack = target(ChannelType.SLACK, {"webhook_url": "https://hooks.slack.com/services/T0/B0/abcdefghijkl"})
    await dispatcher._send_next(slack, rows)

    result = await asyncio.wait_for(dispatcher._results.get(), 1)
    assert sorted(r.id for r in result.rows) == [1, 2, 3]
    assert result.outcome == "retry"
