"""notify-service integration fixtures: a pool on a fresh database with notify's migrations applied."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from carekit_testing import migrated_pool
from notify_service.app import MIGRATIONS


@pytest_asyncio.fixture(loop_scope="session")
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with the kit's and notify-service's migrations applied."""
    async with migrated_pool(fresh_database_url, MIGRATIONS) as created:
        yield created
