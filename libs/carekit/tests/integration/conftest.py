"""The kit's integration fixtures: a migrated pool on a fresh database, and the relay's publishers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from care_schemas.topics import NOTIFY_DEADLETTER, PLAN_EVENTS
from carekit.kafka import Publishers, ensure_topics
from carekit_testing import migrated_pool, publishing


@pytest_asyncio.fixture(loop_scope="session")
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with the kit's migrations applied."""
    async with migrated_pool(fresh_database_url, None) as p:
        yield p


@pytest_asyncio.fixture(loop_scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[Publishers]:
    """The relay publishes through the kit's typed publishers on the one broker (acks=all, idempotent)."""
    await ensure_topics(kafka_bootstrap)
    async with publishing(kafka_bootstrap, PLAN_EVENTS, NOTIFY_DEADLETTER) as publishers:
        yield publishers
