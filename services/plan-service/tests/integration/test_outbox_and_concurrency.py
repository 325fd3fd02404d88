"""Outbox duplicates absorbed by the kit's projection; concurrent changes keep versions strictly increasing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Sequence

import asyncpg
import httpx
import pytest
import pytest_asyncio
from faststream.kafka import KafkaBroker

from care_schemas.catalogue import PlanCode
from care_schemas.envelope import utcnow
from care_schemas.events.plan import Actor, SupportPlanChanged, plan_event_adapter
from care_schemas.topics import NOTIFY_DEADLETTER, PLAN_EVENTS
from carekit.consumer import Rejects
from carekit.db import create_pool, migrate
from carekit.kafka import Publishers
from carekit.outbox import OutboxRelay
from carekit.projection import ProjectedPlan, current_plan, subscribe_plan_projection
from carekit_testing import (
    InProcess,
    PlanTopicReader,
    commit_group_at_end,
    create_database,
    eventually,
    migrated_pool,
    publishing,
)
from plan_service import handlers
from plan_service.app import MIGRATIONS

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
Auth = Callable[..., dict[str, str]]
OWNER = Actor(sub="alice", role="org_owner")


class RelayKilled(Exception):
    """Stands for the process dying after Kafka acknowledged the batch and before it was marked sent."""


@pytest_asyncio.fixture(loop_scope="session")
async def plan_db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A plan-service database with no relay running: the test drives its own."""
    async with migrated_pool(await create_database(database_url, "plan"), MIGRATIONS) as pool:
        yield pool


@pytest_asyncio.fixture(loop_scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[Publishers]:
    """plan-service's publishers (plan events, dead letters) on the kit's broker."""
    async with publishing(kafka_bootstrap, PLAN_EVENTS, NOTIFY_DEADLETTER) as publishers:
        yield publishers


class Consumer:
    """Another service's plan projection (the kit's), with a hook recording what it applied."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.applied: list[tuple[str, int]] = []

    async def on_change(
        self, conn: asyncpg.Connection, event: SupportPlanChanged, previous: ProjectedPlan | None
    ) -> None:
        self.applied.append((event.data.org_id, event.data.version))

    async def version(self, org: str) -> int:
        return (await current_plan(self.pool, org)).version


@pytest_asyncio.fixture(loop_scope="session")
async def consumer(
    database_url: str, kafka_bootstrap: str, producer: Publishers, unique: str
) -> AsyncIterator[Consumer]:
    pool = await create_pool(await create_database(database_url, "consumer"))
    await migrate(pool, None)
    broker = KafkaBroker(kafka_bootstrap)
    projection = Consumer(pool)
    group = f"test-{unique}.plans"
    await commit_group_at_end(kafka_bootstrap, group)
    subscribe_plan_projection(
        broker, pool, group_id=group, rejects=Rejects(producer, group, "/tests"), on_change=projection.on_change
    )
    await broker.start()
    try:
        yield projection
    finally:
        await broker.stop()
        await pool.close()


async def test_relay_killed_between_publish_and_mark_duplicates_and_the_projection_ignores_it(
    plan_db: asyncpg.Pool,
    producer: Publishers,
    plan_topic: PlanTopicReader,
    consumer: Consumer,
    unique: str,
) -> None:
    org = f"org-{unique}"
    await handlers.change_plan(plan_db, org, "enterprise", OWNER, None, utcnow())

    async def die(rows: Sequence[asyncpg.Record]) -> None:
        raise RelayKilled

    with pytest.raises(RelayKilled):
        await OutboxRelay(plan_db, producer, after_publish=die).drain_once()
    assert await plan_db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1, "not marked sent"

    assert await OutboxRelay(plan_db, producer).drain_once() == 1, "the restarted relay publishes it again"
    await handlers.change_plan(plan_db, org, "developer", OWNER, None, utcnow())
    assert await OutboxRelay(plan_db, producer).drain_once() == 1

    records = await plan_topic.for_key(org, 3)
    ids = [plan_event_adapter.validate_json(r.value).id for r in records]
    assert len(records) == 3
    assert ids[0] == ids[1] != ids[2], "the first event is on the topic twice"

    await eventually(lambda: _at_version(consumer, org, 2), timeout_s=30)
    assert [a for a in consumer.applied if a[0] == org] == [(org, 1), (org, 2)], "the duplicate changed nothing"
    projected = await current_plan(consumer.pool, org)
    assert (projected.plan, projected.version) == (PlanCode.DEVELOPER, 2)


async def _at_version(consumer: Consumer, org: str, version: int) -> bool:
    return await consumer.version(org) >= version


async def test_concurrent_changes_to_one_org_keep_versions_strictly_increasing(
    service: InProcess, auth: Auth, pool: asyncpg.Pool, plan_topic: PlanTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    targets = list(itertools.islice(itertools.cycle(["developer", "enterprise", "basic"]), 24))

    async def post(plan: str) -> httpx.Response:
        return await service.client.post(
            f"/v1/orgs/{org}/plan/changes", json={"plan": plan}, headers=auth(org, "org_owner")
        )

    answers = await asyncio.gather(*(post(t) for t in targets))
    assert {a.status_code for a in answers} <= {200, 409}
    changed = sum(a.status_code == 200 for a in answers)
    assert changed >= 8

    versions = [r["version"] for r in await pool.fetch("SELECT version FROM plan_history WHERE org_id = $1", org)]
    assert sorted(versions) == list(range(1, changed + 1))
    assert await pool.fetchval("SELECT version FROM orgs WHERE org_id = $1", org) == changed
    outbox_order = [
        _version(bytes(r["payload"]))
        for r in await pool.fetch("SELECT payload FROM outbox WHERE key = $1 ORDER BY id", org)
    ]
    assert outbox_order == list(range(1, changed + 1)), "outbox order is version order"
    on_topic = [_version(r.value) for r in await plan_topic.for_key(org, changed)]
    assert on_topic == list(range(1, changed + 1)), "the topic carries them in version order"
    history = [
        r["plan"] for r in await pool.fetch("SELECT plan FROM plan_history WHERE org_id=$1 ORDER BY version", org)
    ]
    assert all(a != b for a, b in itertools.pairwise(["basic", *history])), "every recorded change is a real move"


def _version(raw: bytes) -> int:
    event = plan_event_adapter.validate_json(raw)
    assert isinstance(event, SupportPlanChanged)
    return event.data.version
