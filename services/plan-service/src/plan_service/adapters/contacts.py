"""Postgres access for notification contacts, sales-request facts and trial reminders (asyncpg)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import Actor, ContactChat, NoticeKind, SalesRequestStatus
from plan_service.domain.contacts import Contacts
from plan_service.domain.events import SalesRequestFacts

COLUMNS = "org_id, owner_email, technical_email, chat, unsubscribed, default_email, version, updated_at"


def _contacts(row: asyncpg.Record) -> Contacts:
    return Contacts(
        org_id=row["org_id"],
        owner_email=row["owner_email"],
        technical_email=row["technical_email"],
        chat=ContactChat.model_validate(row["chat"]) if row["chat"] else None,
        unsubscribed=frozenset(NoticeKind(k) for k in row["unsubscribed"]),
        default_email=row["default_email"],
        version=row["version"],
    )


async def load(conn: asyncpg.Connection | asyncpg.Pool, org_id: str) -> tuple[Contacts, datetime | None]:
    """The organisation's contacts and when they last changed (nothing set: empty, never)."""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM org_contacts WHERE org_id = $1", org_id)  # noqa: S608
    return (_contacts(row), row["updated_at"]) if row else (Contacts(org_id), None)


async def lock(conn: asyncpg.Connection, org_id: str) -> Contacts:
    """Create the row on first write and lock it until the transaction ends."""
    await conn.execute("INSERT INTO org_contacts (org_id) VALUES ($1) ON CONFLICT (org_id) DO NOTHING", org_id)
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM org_contacts WHERE org_id = $1 FOR UPDATE", org_id)  # noqa: S608
    assert row is not None
    return _contacts(row)


async def save(conn: asyncpg.Connection, contacts: Contacts, actor: Actor, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE org_contacts SET owner_email = $2, technical_email = $3, chat = $4, unsubscribed = $5,
            default_email = $6, version = $7, updated_at = $8, updated_by_sub = $9, updated_by_role = $10
        WHERE org_id = $1
        """,
        contacts.org_id,
        contacts.owner_email,
        contacts.technical_email,
        contacts.chat.model_dump() if contacts.chat else None,
        sorted(k.value for k in contacts.unsubscribed),
        contacts.default_email,
        contacts.version,
        now,
        actor.sub,
        actor.role,
    )


def sales_facts(row: asyncpg.Record) -> SalesRequestFacts:
    """A sales request row as the facts its event carries."""
    decided = row["decided_by_sub"]
    return SalesRequestFacts(
        id=row["id"],
        org_id=row["org_id"],
        plan=PlanCode(row["requested_plan"]),
        status=SalesRequestStatus(row["status"]),
        note=row["note"],
        requested_by=Actor(sub=row["requested_by_sub"], role=row["requested_by_role"]),
        requested_by_email=row["requested_by_email"],
        decided_by=Actor(sub=decided, role=row["decided_by_role"]) if decided else None,
        reason=row["decision_reason"],
    )


async def lock_trials_to_remind(
    conn: asyncpg.Connection, now: datetime, days: int, limit: int, job: str
) -> list[asyncpg.Record]:
    """Active trials ending within `days` whose owners were not reminded yet (not parked by the job); on a
    connection planned by key, each NOT EXISTS an OFFSET 0 probe by key (`postgres.NOT_PARKED` says why: as joins,
    ten ticks after 20,000 reminders sent read 600,000 entries of trial_reminders, even by key)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT o.org_id, o.plan, o.since, o.version, o.timezone, o.tam_name, o.tam_email, o.trial_started_at,
               o.trial_ends_at, o.trial_return_plan, o.trial_status
        FROM orgs o
        WHERE o.trial_status = 'active' AND o.trial_ends_at > $1 AND o.trial_ends_at <= $1 + make_interval(days => $2)
          AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = $4 AND p.key = o.org_id AND p.redriven_at IS NULL
                          OFFSET 0)
          AND NOT EXISTS (SELECT 1 FROM trial_reminders r WHERE r.org_id = o.org_id
                          AND r.trial_started_at = o.trial_started_at AND r.days_before = $2 OFFSET 0)
        ORDER BY o.trial_ends_at LIMIT $3 FOR UPDATE OF o SKIP LOCKED
        """,
        now,
        days,
        limit,
        job,
    )
    return rows


async def record_reminder(
    conn: asyncpg.Connection, org_id: str, started_at: datetime, days: int, event_id: str, now: datetime
) -> bool:
    """Record that the reminder went out; False if it already had."""
    row = await conn.fetchrow(
        "INSERT INTO trial_reminders (org_id, trial_started_at, days_before, sent_at, event_id)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
        org_id,
        started_at,
        days,
        now,
        event_id,
    )
    return row is not None


def view(contacts: Contacts, updated_at: datetime | None) -> dict[str, Any]:
    """The contacts as owners read them: what was set, the default, and what applies."""
    return {
        "org_id": contacts.org_id,
        "owner_email": contacts.owner_email,
        "technical_email": contacts.technical_email,
        "chat": contacts.chat.model_dump() if contacts.chat else None,
        "unsubscribed": sorted(k.value for k in contacts.unsubscribed),
        "default_email": contacts.default_email,
        "effective": {"owner_email": contacts.effective_owner, "technical_email": contacts.effective_technical},
        "version": contacts.version,
        "updated_at": updated_at.isoformat() if updated_at else None,
    }
