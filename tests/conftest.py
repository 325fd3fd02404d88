"""Fixtures of the cross-service test packages (tests/)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.receivers import stop_shared_notify


@pytest_asyncio.fixture(loop_scope="session", scope="session", autouse=True)
async def _shared_notify_stops_with_the_session() -> AsyncIterator[None]:
    """The notify-service some e2e modules share, and its Slack, Lark, PagerDuty and SMTP stand-ins, stop at the end
    of the session on the loop they were started on (not at interpreter exit, after that loop has closed)."""
    yield
    await stop_shared_notify()
