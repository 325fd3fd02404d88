"""plan-service test fixtures: the service in-process on a fresh database, tokens, a plan-topic reader."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

# The harness sits next to this file (pytest runs in importlib mode, which adds no test folders to the path).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_harness import in_process, settings_for

from carekit_testing import TEST_JWT_SECRET, FakeClock, InProcess, bearer, create_database

START = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock(START)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def service(database_url: str, kafka_bootstrap: str, clock: FakeClock) -> AsyncIterator[InProcess]:
    """plan-service in-process (relay running, scheduler off: tests run jobs with explicit instants)."""
    db = await create_database(database_url, "plan")
    async with in_process(settings_for(db, kafka_bootstrap), clock) as running:
        yield running


@pytest.fixture(scope="module")
def pool(service: InProcess) -> asyncpg.Pool:
    return service.runtime.pool


@pytest.fixture
def auth() -> Callable[..., dict[str, str]]:
    """auth(org, role, sub=...) -> Authorization header."""

    def make(org: str, role: str, sub: str = "user-1") -> dict[str, str]:
        return bearer(TEST_JWT_SECRET, org, role, sub)

    return make
