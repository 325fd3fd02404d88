"""ticket-service test fixtures: the service in-process on a fresh database, with local Slack and Lark."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

# The harness sits next to this file (pytest runs in importlib mode, which adds no test folders to the path).
for path in (Path(__file__).resolve().parent,):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from ticket_harness import LARK_APP, MONDAY_10_UTC, SLACK_SECRET, SLACK_TOKEN, Service, in_process, settings_for  # noqa: E402

from care_schemas.topics import CHAT_EVENTS  # noqa: E402
from carekit.kafka import ensure_topics  # noqa: E402
from carekit_testing import (  # noqa: E402
    FakeClock,
    commit_group_at_end,
    create_database,
)
from tests.fakes.lark_server import running_lark  # noqa: E402
from tests.fakes.slack_server import running_slack  # noqa: E402


@contextlib.asynccontextmanager
async def started(kafka: str, database_url: str, encrypt_key: str | None = None) -> AsyncIterator[Service]:
    """The service in-process on a fresh database, wired to a local Slack and a local Lark."""
    await ensure_topics(kafka)
    db = await create_database(database_url, "ticket")
    clock = FakeClock(MONDAY_10_UTC)
    async with (
        running_slack(SLACK_SECRET, SLACK_TOKEN) as slack,
        running_lark(*LARK_APP, encrypt_key=encrypt_key) as lark,
    ):
        prefix = f"ticket-it-{uuid.uuid4().hex[:8]}"
        await commit_group_at_end(kafka, f"{prefix}.plans")
        await commit_group_at_end(kafka, f"{prefix}.chat", CHAT_EVENTS)
        settings = settings_for(
            db,
            kafka,
            prefix,
            slack_signing_secret=SLACK_SECRET,
            slack_bot_token=SLACK_TOKEN,
            slack_api_url=slack.api_url,
            slack_bot_user_id=slack.bot_user_id,
            lark_app_id=LARK_APP[0],
            lark_app_secret=LARK_APP[1],
            lark_verification_token=LARK_APP[2],
            lark_encrypt_key=encrypt_key,
            lark_api_url=lark.api_url,
        )
        async with in_process(settings, clock) as app:
            yield Service(app, clock, slack, lark, db)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def service(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Service]:
    async with started(kafka_bootstrap, database_url) as svc:
        yield svc


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def encrypted_service(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Service]:
    """The same, with Lark's encrypt key set: callbacks are encrypted and signed."""
    async with started(kafka_bootstrap, database_url, encrypt_key="lark-encrypt-key-for-tests") as svc:
        yield svc
