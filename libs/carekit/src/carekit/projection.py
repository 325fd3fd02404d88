"""The plan projection: `org -> plan, entitlements, version` kept from plan.events.v1 in Postgres."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, ConfigDict

from care_schemas.catalogue import DEFAULT_PLAN, Entitlements, PlanCode, catalogue
from care_schemas.events.plan import PlanEvent, SupportPlanChanged, Tam, plan_event_adapter
from care_schemas.topics import PLAN_EVENTS
from carekit.consumer import Rejects, subscribe
from carekit.db import BY_KEY_LOCAL, by_key_connection


class ProjectedPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    org_id: str
    plan: PlanCode
    entitlements: Entitlements
    version: int
    tam: Tam | None = None
    timezone: str = "UTC"


async def apply_plan_event(conn: asyncpg.Connection, event: SupportPlanChanged) -> bool:
    """Apply the event only if its version is newer than what is stored; True when applied."""
    d = event.data
    row = await conn.fetchrow(
        """
        INSERT INTO plan_projection (org_id, plan, previous_plan, entitlements, version, tam, timezone, event_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (org_id) DO UPDATE SET
            plan = EXCLUDED.plan, previous_plan = EXCLUDED.previous_plan, entitlements = EXCLUDED.entitlements,
            version = EXCLUDED.version, tam = EXCLUDED.tam, timezone = EXCLUDED.timezone,
            event_id = EXCLUDED.event_id, updated_at = now()
        WHERE plan_projection.version < EXCLUDED.version
        RETURNING org_id
        """,
        d.org_id,
        d.plan.value,
        d.previous_plan.value if d.previous_plan else None,
        d.entitlements.model_dump(mode="json"),
        d.version,
        d.tam.model_dump(mode="json") if d.tam else None,
        d.timezone,
        event.id,
    )
    return row is not None


async def current_plan(conn: asyncpg.Connection | asyncpg.Pool, org_id: str) -> ProjectedPlan:
    """The organisation's plan as last seen; an unknown organisation is on Basic.

    Read by key whatever the statistics: from a pool, on a connection planned by key
    (`carekit.db.by_key_connection`); a connection given should plan by key already (`carekit.db.BY_KEY_LOCAL`,
    as `project` does). Services read it per request, per ticket and per alert: planned after an ANALYZE that found
    plan_projection empty, ten plan events and ten reads after 20,000 organisations read 400,300 rows (the whole
    table for each); by key, 10 (test_outbox_and_projection.py)."""
    if isinstance(conn, asyncpg.Pool):
        async with by_key_connection(conn) as by_key:
            return await current_plan(by_key, org_id)
    row = await conn.fetchrow(
        "SELECT plan, entitlements, version, tam, timezone FROM plan_projection WHERE org_id = $1", org_id
    )
    if row is None:
        basic = catalogue().get(DEFAULT_PLAN)
        return ProjectedPlan(org_id=org_id, plan=basic.code, entitlements=basic.entitlements, version=0)
    return ProjectedPlan(
        org_id=org_id,
        plan=PlanCode(row["plan"]),
        entitlements=Entitlements.model_validate(row["entitlements"]),
        version=row["version"],
        tam=Tam.model_validate(row["tam"]) if row["tam"] else None,
        timezone=row["timezone"],
    )


PlanHook = Callable[[asyncpg.Connection, SupportPlanChanged, ProjectedPlan | None], Awaitable[None]]


async def project(pool: asyncpg.Pool, event: PlanEvent, on_change: PlanHook | None = None) -> bool:
    """Apply a plan event in one transaction; `on_change(conn, event, previous)` runs in it when applied."""
    if not isinstance(event, SupportPlanChanged):
        return False
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock(hashtext($1)), {BY_KEY_LOCAL}", event.data.org_id)
        previous = await current_plan(conn, event.data.org_id)
        applied = await apply_plan_event(conn, event)
        if applied and on_change is not None:
            await on_change(conn, event, previous)
        return applied


def subscribe_plan_projection(
    broker: KafkaBroker,
    pool: asyncpg.Pool | Callable[[], asyncpg.Pool],
    *,
    group_id: str,
    rejects: Rejects,
    on_change: PlanHook | None = None,
) -> None:
    """Keep this service's `plan_projection` table from plan.events.v1 (order-tolerant, idempotent).

    `pool` may be a function returning it: services subscribe when the app is built, before the pool opens."""

    async def handle(event: PlanEvent) -> None:
        await project(pool() if callable(pool) else pool, event, on_change)

    subscribe(broker, topic=PLAN_EVENTS, group_id=group_id, adapter=plan_event_adapter, handle=handle, rejects=rejects)
