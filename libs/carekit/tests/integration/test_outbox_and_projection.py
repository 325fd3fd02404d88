"""Outbox relay and plan projection against real Postgres and Kafka."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import ChangeReason, SupportPlanChanged, plan_event_adapter
from care_schemas.topics import PLAN_EVENTS
from carekit.db import KIT_MIGRATIONS, MigrationChanged, create_pool, migrate
from carekit.kafka import Publishers
from carekit.metrics import OUTBOX_BACKLOG, sample_outbox
from carekit.outbox import OutboxRelay, enqueue
from carekit.projection import current_plan, project
from carekit_testing import entries_read_by, plan_changed

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


class RelayCrashed(Exception):
    pass


def changed(org: str, plan: PlanCode, version: int) -> SupportPlanChanged:
    return plan_changed(org, plan, version, reason=ChangeReason.SELF_SERVICE)


async def read_org_events(bootstrap: str, org: str, expected: int) -> list[SupportPlanChanged]:
    """Every plan event for this org currently on the topic (read from the start of its partition)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(PLAN_EVENTS.name, p) for p in range(PLAN_EVENTS.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        found: list[SupportPlanChanged] = []
        deadline = asyncio.get_running_loop().time() + 20
        while asyncio.get_running_loop().time() < deadline:
            done = all([await consumer.position(tp) >= ends[tp] for tp in parts])
            if done and len(found) >= expected:
                break
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for r in records:
                    if r.key == org.encode():
                        event = plan_event_adapter.validate_json(r.value)
                        assert isinstance(event, SupportPlanChanged)
                        found.append(event)
            if done:
                ends = await consumer.end_offsets(parts)
        return found
    finally:
        await consumer.stop()


async def test_relay_publishes_outbox_rows_in_order_and_marks_them_sent(
    pool: asyncpg.Pool, producer: Publishers, kafka_bootstrap: str, unique: str
) -> None:
    org = f"org-{unique}"
    async with pool.acquire() as conn, conn.transaction():
        for version, plan in enumerate([PlanCode.DEVELOPER, PlanCode.ENTERPRISE, PlanCode.BASIC], start=1):
            await enqueue(conn, PLAN_EVENTS, org, changed(org, plan, version))
    assert await OutboxRelay(pool, producer).drain_once() == 3
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0

    events = await read_org_events(kafka_bootstrap, org, 3)
    assert [(e.data.version, e.data.plan) for e in events] == [
        (1, PlanCode.DEVELOPER),
        (2, PlanCode.ENTERPRISE),
        (3, PlanCode.BASIC),
    ]


async def test_the_relay_finds_unsent_rows_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, producer: Publishers, unique: str
) -> None:
    """The relay runs every second for the life of the process, on a table that keeps every sent row for days and
    beside parked, which keeps every loop's records. Planned after an ANALYZE that found them empty (a new
    deployment), ten passes of one row each after 20,000 sent rows and 20,000 other loops' parked records read
    600,310 rows and index entries of the two: both whole on every pass. Planned by key, the parked check as a join
    read every record the relay had parked on every pass (10,000 here: 100,038 entries)."""
    await pool.execute("ANALYZE outbox, parked")
    org = f"org-{unique}"
    version = 0

    async def passes() -> None:
        nonlocal version
        for _ in range(10):
            version += 1
            async with pool.acquire() as conn, conn.transaction():
                await enqueue(conn, PLAN_EVENTS, org, changed(org, PlanCode.DEVELOPER, version))
            assert await OutboxRelay(one, producer).drain_once() == 1

    await passes()
    await pool.execute(
        "INSERT INTO outbox (topic, key, event_id, event_type, payload, sent_at)"
        " SELECT 'plan.events.v1', 'old', 'old-' || i, 'old', '', now() FROM generate_series(1, 20000) AS i"
    )
    await pool.execute(
        "INSERT INTO parked (loop, key, reason) SELECT CASE WHEN i % 2 = 0 THEN 'outbox-relay' ELSE 'another-loop'"
        " END, 'old-' || i, 'r' FROM generate_series(1, 20000) AS i"
    )
    read = await entries_read_by(pool, one, ("outbox", "parked"), passes)

    assert read < 1_000


async def test_the_backlog_sample_counts_unsent_rows_by_key_on_a_table_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """Every service samples its outbox backlog every few seconds. Planned after an ANALYZE that found the outbox
    empty, ten samples after 20,000 sent rows read 200,030 rows: the whole table each time."""
    await pool.execute("ANALYZE outbox")

    async def samples() -> None:
        for _ in range(10):
            await sample_outbox(one)

    await samples()
    await pool.execute(
        "INSERT INTO outbox (topic, key, event_id, event_type, payload, sent_at)"
        " SELECT 'plan.events.v1', 'old', 'sampled-' || i, 'old', '', now() FROM generate_series(1, 20000) AS i"
    )
    await pool.execute(
        "INSERT INTO outbox (topic, key, event_id, event_type, payload)"
        " SELECT 'plan.events.v1', 'new', 'unsent-' || i, 'new', '' FROM generate_series(1, 3) AS i"
    )
    read = await entries_read_by(pool, one, ("outbox",), samples)

    assert read < 1_000
    assert OUTBOX_BACKLOG._value.get() == 3


async def test_rolled_back_change_never_reaches_the_topic(
    pool: asyncpg.Pool, producer: Publishers, unique: str
) -> None:
    org = f"org-{unique}"

    async def failing_change() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, PLAN_EVENTS, org, changed(org, PlanCode.DEVELOPER, 1))
            raise RuntimeError("state change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert await OutboxRelay(pool, producer).drain_once() == 0


async def test_relay_killed_between_publish_and_mark_resends_and_projection_ignores_duplicate(
    pool: asyncpg.Pool, producer: Publishers, kafka_bootstrap: str, unique: str
) -> None:
    org = f"org-{unique}"
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, PLAN_EVENTS, org, changed(org, PlanCode.ENTERPRISE, 1))

    async def crash(_rows: object) -> None:
        raise RelayCrashed

    with pytest.raises(RelayCrashed):
        await OutboxRelay(pool, producer, after_publish=crash).drain_once()
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1
    assert await OutboxRelay(pool, producer).drain_once() == 1

    events = await read_org_events(kafka_bootstrap, org, 2)
    assert len(events) == 2
    assert events[0].id == events[1].id

    applied = [await project(pool, e) for e in events]
    assert applied == [True, False]
    plan = await current_plan(pool, org)
    assert (plan.plan, plan.version) == (PlanCode.ENTERPRISE, 1)


async def test_projection_applies_only_newer_versions_whatever_the_arrival_order(
    pool: asyncpg.Pool, unique: str
) -> None:
    org = f"org-{unique}"
    assert (await current_plan(pool, org)).plan is PlanCode.BASIC
    v3 = changed(org, PlanCode.PREMIUM, 3)
    v2 = changed(org, PlanCode.ENTERPRISE, 2)
    seen: list[tuple[int, str]] = []

    async def hook(conn: asyncpg.Connection, event: SupportPlanChanged, previous: object) -> None:
        seen.append((event.data.version, str(getattr(previous, "plan", ""))))

    assert await project(pool, v3, hook) is True
    assert await project(pool, v2, hook) is False
    plan = await current_plan(pool, org)
    assert (plan.plan, plan.version) == (PlanCode.PREMIUM, 3)
    assert plan.entitlements.tam is True
    assert seen == [(3, "basic")]


async def test_the_projection_reads_an_organisations_plan_by_key_on_a_table_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, unique: str
) -> None:
    """Every service projects plan events and reads an organisation's plan per request, ticket or alert. Planned
    after an ANALYZE that found plan_projection empty, ten events and reads after 20,000 other organisations read
    400,300 rows: the whole table for the event's previous plan and again for the read."""
    await pool.execute("ANALYZE plan_projection")

    async def events(prefix: str) -> None:
        for n in range(10):
            org = f"{prefix}{n}-{unique}"
            assert await project(one, changed(org, PlanCode.ENTERPRISE, 1))
            assert (await current_plan(one, org)).plan is PlanCode.ENTERPRISE

    await events("small-")
    await pool.execute(
        "INSERT INTO plan_projection (org_id, plan, entitlements, version, event_id)"
        " SELECT 'other-' || i, 'basic', '{}', 1, 'e-' || i FROM generate_series(1, 20000) AS i"
    )
    read = await entries_read_by(pool, one, ("plan_projection",), lambda: events("grown-"))

    assert read < 1_000


async def test_migrations_apply_once_even_when_run_concurrently(fresh_database_url: str) -> None:
    pools = [await create_pool(fresh_database_url) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(p, None) for p in pools))
        kit = len([p for p in KIT_MIGRATIONS.iterdir() if p.name.endswith(".sql")])
        assert sorted(len(r) for r in results) == [0, kit], "one pool applies every kit migration, the other none"
        assert await migrate(pools[0], None) == []
    finally:
        for p in pools:
            await p.close()


async def test_a_migration_edited_after_it_was_applied_stops_start_up(fresh_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "001_first.sql").write_text("CREATE TABLE widgets (id int);")
    pool = await create_pool(fresh_database_url)
    try:
        assert await migrate(pool, tmp_path) == [
            "kit/001_outbox_inbox_projection.sql",
            "kit/002_parked.sql",
            "kit/003_retention.sql",
            "kit/004_parked_redriven.sql",
            "001_first.sql",
        ]
        (tmp_path / "002_second.sql").write_text("ALTER TABLE widgets ADD COLUMN name text;")
        assert await migrate(pool, tmp_path) == ["002_second.sql"]
        (tmp_path / "001_first.sql").write_text("CREATE TABLE widgets (id bigint);")
        with pytest.raises(MigrationChanged, match=r"001_first\.sql was edited after it was applied"):
            await migrate(pool, tmp_path)
    finally:
        await pool.close()
