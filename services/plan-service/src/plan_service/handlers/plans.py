"""One async function per use case: load (and lock), decide with the domain rules, commit with the event."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import Actor, SupportPlanChanged, Tam
from care_schemas.topics import PLAN_EVENTS
from carekit.outbox import enqueue
from plan_service.adapters import postgres as repo
from plan_service.adapters.metrics import PLAN_CHANGES
from plan_service.domain import account, retirement, support_page, transitions, trial
from plan_service.domain.events import plan_changed
from plan_service.domain.model import Change, Conflict, Invalid, NotFound, OrgPlan
from plan_service.handlers.notices import note_actor, publish_sales_request

Clock = Callable[[], datetime]


async def commit_change(conn: asyncpg.Connection, change: Change) -> SupportPlanChanged:
    """Write the new state, its history row and SupportPlanChanged to the outbox, in the caller's transaction."""
    event = plan_changed(change)
    await repo.save(conn, change, event.id)
    await enqueue(conn, PLAN_EVENTS, change.after.org_id, event)
    PLAN_CHANGES.labels(change.reason.value, change.after.plan.value).inc()  # counted as written, in the transaction
    return event


async def _state(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, now: datetime) -> OrgPlan:
    return await repo.load(conn, org_id) or OrgPlan.new(org_id, now)


def _trial_json(state: OrgPlan) -> dict[str, Any] | None:
    t = state.trial
    if t is None:
        return None
    return {
        "status": t.status.value,
        "started_at": t.started_at.isoformat(),
        "ends_at": t.ends_at.isoformat(),
        "returns_to": t.return_plan.value,
    }


async def plan_view(conn: asyncpg.Connection | asyncpg.Pool, org_id: str, now: datetime) -> dict[str, Any]:
    """Current plan, since when, trial state, TAM, pending Premium request and history."""
    state = await _state(conn, org_id, now)
    plan = state.catalogue_plan
    pending = await repo.pending_request(conn, org_id)
    return {
        "org_id": org_id,
        "plan": plan.code.value,
        "name": plan.name,
        "family": plan.family,
        "since": state.since.isoformat() if state.version > 0 else None,  # never changed: Basic since always
        "version": state.version,
        "timezone": state.timezone,
        "entitlements": plan.entitlements.model_dump(mode="json"),
        "retires_at": plan.retires_at.isoformat() if plan.retires_at else None,
        "trial": _trial_json(state),
        "trial_available": state.trial is None and plan.rank < catalogue().get(trial.TRIAL_PLAN).rank,
        "tam": state.tam.model_dump() if state.tam else None,
        "pending_sales_request": repo.sales_request_json(pending) if pending else None,
        "history": await repo.history(conn, org_id),
        "retirement_notices": await repo.notices(conn, org_id),
    }


async def support_page_view(pool: asyncpg.Pool, org_id: str, now: datetime) -> dict[str, Any]:
    state = await _state(pool, org_id, now)
    page = support_page.render(state)
    pending = await repo.pending_request(pool, org_id)
    page["pending_sales_request"] = repo.sales_request_json(pending) if pending else None
    return page


async def change_plan(
    pool: asyncpg.Pool,
    org_id: str,
    raw_plan: str,
    actor: Actor,
    note: str | None,
    now: datetime,
    email: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Self-service change (effective at once), or a sales request when the target is Premium.

    `email` is the caller's address (token claim): a customer's becomes the organisation's default contact."""
    target = transitions.parse_target(raw_plan)
    async with pool.acquire() as conn:
        async with conn.transaction():
            state = await repo.lock(conn, org_id, now)
            await note_actor(conn, org_id, actor, email, now)
            if transitions.needs_sales(target):
                transitions.check_sales_request(state, target)
                pending = await repo.pending_request(conn, org_id)
                if pending is not None:
                    raise Conflict(
                        f"a request for {catalogue().get(target).name} is already pending ({pending['id']}, "
                        f"since {pending['created_at'].isoformat()}); sales will approve or decline it"
                    )
                row = await repo.create_request(conn, org_id, target, actor, note, now, email)
                await publish_sales_request(conn, row, now)
                return "sales_request_created", repo.sales_request_json(row)
            await commit_change(conn, transitions.decide_change(state, target, actor, now, note))
        return "changed", await plan_view(conn, org_id, now)


async def start_trial(
    pool: asyncpg.Pool, org_id: str, actor: Actor, now: datetime, email: str | None = None
) -> dict[str, Any]:
    async with pool.acquire() as conn:
        async with conn.transaction():
            state = await repo.lock(conn, org_id, now)
            await note_actor(conn, org_id, actor, email, now)
            await commit_change(conn, trial.decide_start(state, actor, now))
        return await plan_view(conn, org_id, now)


async def approve(pool: asyncpg.Pool, request_id: str, actor: Actor, now: datetime) -> dict[str, Any]:
    """Sales approval: the request is decided and the plan changes in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        org_id = await conn.fetchval("SELECT org_id FROM sales_requests WHERE id = $1", request_id)
        if org_id is None:
            raise NotFound(f"sales request {request_id} not found; list them with GET /v1/sales-requests")
        state = await repo.lock(conn, org_id, now)  # org before request: the same order as change_plan
        request = await repo.lock_request(conn, request_id)
        assert request is not None
        _must_be_pending(request)
        target = PlanCode(request["requested_plan"])
        change = transitions.decide_change(state, target, actor, now, note=f"sales request {request_id}")
        await commit_change(conn, change)
        decided = await repo.decide_request(conn, request_id, "approved", actor, None, now)
        await publish_sales_request(conn, decided, now)
        return repo.sales_request_json(decided)


async def decline(pool: asyncpg.Pool, request_id: str, actor: Actor, reason: str, now: datetime) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        request = await repo.lock_request(conn, request_id)
        if request is None:
            raise NotFound(f"sales request {request_id} not found; list them with GET /v1/sales-requests")
        _must_be_pending(request)
        decided = await repo.decide_request(conn, request_id, "declined", actor, reason, now)
        await publish_sales_request(conn, decided, now)
        return repo.sales_request_json(decided)


def _must_be_pending(request: asyncpg.Record) -> None:
    if request["status"] != "pending":
        raise Conflict(
            f"sales request {request['id']} was already {request['status']} at {request['decided_at'].isoformat()}"
            f" by {request['decided_by_sub']}; it cannot be decided again"
        )


async def sales_requests(
    pool: asyncpg.Pool, *, status: str | None = None, org_id: str | None = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """One page, newest first; `next_offset` says where the next page starts (null on the last one)."""
    rows = await repo.list_requests(pool, status=status, org_id=org_id, limit=limit + 1, offset=offset)
    more = len(rows) > limit
    return {"sales_requests": rows[:limit], "next_offset": offset + limit if more else None}


async def assign_tam(pool: asyncpg.Pool, org_id: str, tam: Tam, actor: Actor, now: datetime) -> dict[str, Any]:
    async with pool.acquire() as conn:
        async with conn.transaction():
            state = await repo.lock(conn, org_id, now)
            change = account.decide_tam(state, tam, actor, now)
            if change is not None:
                await commit_change(conn, change)
        return await plan_view(conn, org_id, now)


async def set_timezone(
    pool: asyncpg.Pool, org_id: str, timezone: str, actor: Actor, now: datetime, email: str | None = None
) -> dict[str, Any]:
    account.valid_timezone(timezone)
    async with pool.acquire() as conn:
        async with conn.transaction():
            state = await repo.lock(conn, org_id, now)
            await note_actor(conn, org_id, actor, email, now)
            change = account.decide_timezone(state, timezone, actor, now)
            if change is not None:
                await commit_change(conn, change)
        return await plan_view(conn, org_id, now)


async def legacy_import(
    pool: asyncpg.Pool, items: Sequence[tuple[str, PlanCode, datetime | None]], actor: Actor, now: datetime
) -> dict[str, list[str]]:
    """Seed organisations on legacy plans, all or nothing; already-imported ones are left unchanged."""
    counts = Counter(org_id for org_id, _, _ in items)
    if dup := sorted(org_id for org_id, n in counts.items() if n > 1):
        raise Invalid(f"each org_id may appear once in an import; repeated: {', '.join(dup[:10])}")
    imported: list[str] = []
    unchanged: list[str] = []
    refused: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        for org_id, plan, since in sorted(items, key=lambda i: i[0]):  # one lock order: no deadlocks
            state = await repo.lock(conn, org_id, now)
            try:
                change = retirement.decide_import(state, plan, since, actor, now)
            except Conflict as exc:
                refused.append(exc.message)
                continue
            if change is None:
                unchanged.append(org_id)
            else:
                await commit_change(conn, change)
                imported.append(org_id)
        if refused:
            raise Conflict("nothing was imported: " + "; ".join(refused))
    return {"imported": imported, "unchanged": unchanged}
