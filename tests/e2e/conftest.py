"""Fixtures the end-to-end modules share: the running notify-service and a fresh Enterprise organisation."""

from __future__ import annotations

import pytest_asyncio

from tests.receivers import Notify, on_plan, shared_notify


@pytest_asyncio.fixture(loop_scope="session")
async def notify(kafka_bootstrap: str, database_url: str) -> Notify:
    """The notify-service the e2e modules share (started on first use), with its local chat and mail servers."""
    return await shared_notify(kafka_bootstrap, database_url)


@pytest_asyncio.fixture(loop_scope="session")
async def org(notify: Notify, unique: str) -> str:
    """A fresh organisation that notify-service knows, from a plan event, to be on Enterprise."""
    name = f"org-{unique}"
    await on_plan(notify.url, notify.kafka, name, "enterprise")
    return name
