"""IM bindings and holidays: what staff configure per organisation, and what a plan change does to it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import asyncpg

from care_schemas.events.plan import SupportPlanChanged
from care_schemas.events.ticket import (
    ImPlatform,
)
from carekit.db import by_key_connection
from carekit.projection import ProjectedPlan, current_plan
from ticket_service.adapters import postgres as db
from ticket_service.domain.bindings import Binding, BindingState, features_for, state_for
from ticket_service.domain.errors import Conflict, NotEntitled
from ticket_service.handlers.deps import (
    Deps,
    log,
)


async def create_binding(
    deps: Deps, by: str, org_id: str, platform: ImPlatform, workspace: str, channel: str, name: str | None
) -> Binding:
    async with by_key_connection(deps.pool) as conn, conn.transaction():
        plan = await current_plan(conn, org_id)
        state, reason = state_for(plan.entitlements, plan.plan)
        if state is BindingState.SUSPENDED:
            raise NotEntitled(reason or "this organisation's plan does not include IM tickets")
        binding = Binding(
            id=f"imb-{uuid.uuid4().hex[:12]}",
            org_id=org_id,
            platform=platform,
            workspace=workspace,
            channel=channel,
            features=features_for(plan.entitlements),
            state=state,
        )
        if not await db.insert_binding(conn, binding, name, reason, by):
            raise Conflict(f"{platform.value} {workspace}/{channel} is already bound; delete that binding first")
        return binding


async def apply_plan_to_bindings(
    conn: asyncpg.Connection, event: SupportPlanChanged, _previous: ProjectedPlan | None
) -> None:
    """Plan-projection hook: suspend bindings the new plan no longer allows, resume them on upgrade."""
    data = event.data
    state, reason = state_for(data.entitlements, data.plan)
    features = features_for(data.entitlements)
    for binding in await db.org_bindings(conn, data.org_id):
        updated = Binding(
            id=binding.id,
            org_id=binding.org_id,
            platform=binding.platform,
            workspace=binding.workspace,
            channel=binding.channel,
            features=features,
            state=state,
        )
        await db.set_binding_state(conn, updated, reason)
        if updated.state is not binding.state:
            log.info("binding %s of %s is now %s (%s)", binding.id, data.org_id, state.value, reason or "plan allows")


# --- holidays ----------------------------------------------------------------------------------------------------


async def set_holidays(deps: Deps, org_id: str, days: Sequence[date]) -> list[date]:
    async with deps.pool.acquire() as conn, conn.transaction():
        await db.replace_holidays(conn, org_id, sorted(set(days)))
        return await db.holidays(conn, org_id)
