"""The plan-service repository: organisations, history, sales requests, retirement notices (asyncpg)."""

# ruff: noqa: S608  -- the f-strings only splice constant column lists; every value is a bound parameter.

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import Actor, Tam
from plan_service.domain.model import Change, OrgPlan, Trial, TrialStatus

ORG_COLUMNS = (
    "org_id, plan, since, version, timezone, tam_name, tam_email,"
    " trial_started_at, trial_ends_at, trial_return_plan, trial_status"
)


def org_of(row: asyncpg.Record) -> OrgPlan:
    """The organisation's state from its row (raises when the row no longer makes sense)."""
    trial = None
    if row["trial_status"] is not None:
        trial = Trial(
            started_at=row["trial_started_at"],
            ends_at=row["trial_ends_at"],
            return_plan=PlanCode(row["trial_return_plan"]),
            status=TrialStatus(row["trial_status"]),
        )
    tam = Tam(name=row["tam_name"], email=row["tam_email"]) if row["tam_name"] else None
    return OrgPlan(
        org_id=row["org_id"],
        plan=PlanCode(row["plan"]),
        since=row["since"],
        version=row["version"],
        timezone=row["timezone"],
        tam=tam,
        trial=trial,
    )


async def load(conn: asyncpg.Connection | asyncpg.Pool, org_id: str) -> OrgPlan | None:
    """The organisation's row, or None when nothing was ever written for it."""
    row = await conn.fetchrow(f"SELECT {ORG_COLUMNS} FROM orgs WHERE org_id = $1", org_id)
    return org_of(row) if row else None


async def lock(conn: asyncpg.Connection, org_id: str, now: datetime) -> OrgPlan:
    """Create the row on first write (Basic, version 0) and lock it until the transaction ends."""
    await conn.execute(
        "INSERT INTO orgs (org_id, plan, since) VALUES ($1, 'basic', $2) ON CONFLICT (org_id) DO NOTHING", org_id, now
    )
    row = await conn.fetchrow(f"SELECT {ORG_COLUMNS} FROM orgs WHERE org_id = $1 FOR UPDATE", org_id)
    assert row is not None
    return org_of(row)


async def save(conn: asyncpg.Connection, change: Change, event_id: str) -> None:
    """Write the new state and its history row; the row must still be at the version it was read at."""
    a = change.after
    t = a.trial
    status = await conn.execute(
        """
        UPDATE orgs SET plan = $2, since = $3, version = $4, timezone = $5, tam_name = $6, tam_email = $7,
            trial_started_at = $8, trial_ends_at = $9, trial_return_plan = $10, trial_status = $11
        WHERE org_id = $1 AND version = $12
        """,
        a.org_id,
        a.plan.value,
        a.since,
        a.version,
        a.timezone,
        a.tam.name if a.tam else None,
        a.tam.email if a.tam else None,
        t.started_at if t else None,
        t.ends_at if t else None,
        t.return_plan.value if t else None,
        t.status.value if t else None,
        change.before.version,
    )
    if status != "UPDATE 1":
        raise RuntimeError(f"{a.org_id} changed concurrently (expected version {change.before.version})")
    await conn.execute(
        """
        INSERT INTO plan_history (org_id, version, plan, previous_plan, reason, note, actor_sub, actor_role,
                                  effective_at, event_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        a.org_id,
        a.version,
        a.plan.value,
        change.before.plan.value,
        change.reason.value,
        change.note,
        change.actor.sub,
        change.actor.role,
        change.at,
        event_id,
    )


async def history(conn: asyncpg.Connection | asyncpg.Pool, org_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT version, plan, previous_plan, reason, note, actor_sub, actor_role, effective_at, event_id"
        " FROM plan_history WHERE org_id = $1 ORDER BY version",
        org_id,
    )
    return [
        {
            "version": r["version"],
            "plan": r["plan"],
            "previous_plan": r["previous_plan"],
            "reason": r["reason"],
            "note": r["note"],
            "actor": {"sub": r["actor_sub"], "role": r["actor_role"]},
            "effective_at": r["effective_at"].isoformat(),
            "event_id": r["event_id"],
        }
        for r in rows
    ]


# --- sales requests ---------------------------------------------------------------------------------------

SALES_COLUMNS = (
    "id, org_id, requested_plan, status, note, requested_by_sub, requested_by_role, created_at,"
    " decided_at, decided_by_sub, decided_by_role, decision_reason, requested_by_email"
)


def sales_request_json(r: asyncpg.Record) -> dict[str, Any]:
    decided = r["decided_at"]
    return {
        "id": r["id"],
        "org_id": r["org_id"],
        "plan": r["requested_plan"],
        "status": r["status"],
        "note": r["note"],
        "requested_by": {"sub": r["requested_by_sub"], "role": r["requested_by_role"]},
        "requested_by_email": r["requested_by_email"],
        "created_at": r["created_at"].isoformat(),
        "decided_at": decided.isoformat() if decided else None,
        "decided_by": {"sub": r["decided_by_sub"], "role": r["decided_by_role"]} if decided else None,
        "decision_reason": r["decision_reason"],
    }


async def pending_request(conn: asyncpg.Connection | asyncpg.Pool, org_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {SALES_COLUMNS} FROM sales_requests WHERE org_id = $1 AND status = 'pending'", org_id
    )


async def create_request(
    conn: asyncpg.Connection,
    org_id: str,
    plan: PlanCode,
    actor: Actor,
    note: str | None,
    now: datetime,
    email: str | None = None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO sales_requests (id, org_id, requested_plan, status, note, requested_by_sub, requested_by_role,
                                    created_at, requested_by_email)
        VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8) RETURNING {SALES_COLUMNS}
        """,
        f"sr-{uuid.uuid4().hex[:16]}",
        org_id,
        plan.value,
        note,
        actor.sub,
        actor.role,
        now,
        email,
    )
    assert row is not None
    return row


async def lock_request(conn: asyncpg.Connection, request_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {SALES_COLUMNS} FROM sales_requests WHERE id = $1 FOR UPDATE", request_id)


async def decide_request(
    conn: asyncpg.Connection, request_id: str, status: str, actor: Actor, reason: str | None, now: datetime
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        UPDATE sales_requests SET status = $2, decided_at = $3, decided_by_sub = $4, decided_by_role = $5,
            decision_reason = $6
        WHERE id = $1 AND status = 'pending' RETURNING {SALES_COLUMNS}
        """,
        request_id,
        status,
        now,
        actor.sub,
        actor.role,
        reason,
    )
    assert row is not None
    return row


async def list_requests(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    status: str | None = None,
    org_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""
        SELECT {SALES_COLUMNS} FROM sales_requests
        WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR org_id = $2)
        ORDER BY created_at DESC, id LIMIT $3 OFFSET $4
        """,
        status,
        org_id,
        limit,
        offset,
    )
    return [sales_request_json(r) for r in rows]


# --- scheduler queries: rows locked with SKIP LOCKED so two instances never take the same org; rows a job parked
# (carekit.parking: they could not be processed) are left out until an operator re-drives them -------------------

# The jobs run every tick over every organisation, on a connection planned by key (`carekit.db.by_key_connection`,
# the callers in handlers/): planned after an ANALYZE that found orgs and parked empty (a new deployment), each read
# orgs whole on every tick (ten ticks after 20,000 organisations not due: 200,030 rows), and the joins with parked or
# the notices sent read those whole too, even by key (600,000 entries after 20,000 rows). OFFSET 0 keeps each
# NOT EXISTS a probe by key for each candidate; the legacy jobs say `plan LIKE 'legacy\_%'` so that the index of
# organisations on legacy plans serves them (orgs_on_legacy), not the whole primary key. Ten ticks of the four jobs
# after 20,000 of each read 7,708,252 rows and index entries; now 729 (test_plan_scale.py).
NOT_PARKED = (
    "NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = $3 AND p.key = o.org_id AND p.redriven_at IS NULL OFFSET 0)"
)
ON_LEGACY = r"plan LIKE 'legacy\_%'"  # orgs_on_legacy's predicate, word for word


async def lock_due_trials(conn: asyncpg.Connection, now: datetime, limit: int, job: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT {ORG_COLUMNS} FROM orgs o WHERE trial_status = 'active' AND trial_ends_at <= $1 AND {NOT_PARKED}
        ORDER BY trial_ends_at LIMIT $2 FOR UPDATE SKIP LOCKED
        """,
        now,
        limit,
        job,
    )
    return rows


async def lock_on_plans(
    conn: asyncpg.Connection, plans: Sequence[PlanCode], limit: int, job: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {ORG_COLUMNS} FROM orgs o WHERE plan = ANY($1::text[]) AND {ON_LEGACY} AND {NOT_PARKED}"
        " ORDER BY org_id LIMIT $2 FOR UPDATE SKIP LOCKED",
        [p.value for p in plans],
        limit,
        job,
    )
    return rows


async def lock_unwarned(
    conn: asyncpg.Connection, plan: PlanCode, days_before: int, limit: int, job: str
) -> list[asyncpg.Record]:
    """Organisations on `plan` that have not had the `days_before` warning (or a later one) yet."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT {ORG_COLUMNS} FROM orgs o WHERE o.plan = $1 AND {ON_LEGACY} AND {NOT_PARKED.replace("$3", "$4")}
        AND NOT EXISTS (SELECT 1 FROM retirement_notices n
                        WHERE n.org_id = o.org_id AND n.legacy_plan = $1 AND n.days_before <= $2 OFFSET 0)
        ORDER BY o.org_id LIMIT $3 FOR UPDATE SKIP LOCKED
        """,
        plan.value,
        days_before,
        limit,
        job,
    )
    return rows


async def record_notice(
    conn: asyncpg.Connection, org_id: str, plan: PlanCode, days_before: int, event_id: str, now: datetime
) -> bool:
    """Record that a warning went out; False if it already had (the unique key makes it once per org)."""
    row = await conn.fetchrow(
        """
        INSERT INTO retirement_notices (org_id, legacy_plan, days_before, sent_at, event_id)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1
        """,
        org_id,
        plan.value,
        days_before,
        now,
        event_id,
    )
    return row is not None


async def notices(conn: asyncpg.Connection | asyncpg.Pool, org_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT legacy_plan, days_before, sent_at FROM retirement_notices WHERE org_id = $1 ORDER BY sent_at", org_id
    )
    return [
        {"legacy_plan": r["legacy_plan"], "days_before": r["days_before"], "sent_at": r["sent_at"].isoformat()}
        for r in rows
    ]
