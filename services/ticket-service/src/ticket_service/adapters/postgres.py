"""Postgres access for tickets, comments, IM bindings and holidays (the caller owns the transaction)."""
# ruff: noqa: S608  (queries are built only from the constant column lists below; values are always bound)

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeAlias

import asyncpg

from care_schemas.events.alert import AlertRef
from care_schemas.events.ticket import ImPlatform, ImThread
from carekit.faults import storable
from ticket_service.domain.bindings import Binding, BindingState, Features
from ticket_service.domain.model import Comment, Ticket

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool
TICKET_COLUMNS = (
    "id, org_id, kind, severity, status, summary, description, cluster_id, environment, components, "
    "affected_version, reporter_email, channel, created_by, plan, response_targets, timezone, response_due_at, "
    "first_response_at, resolved_at, breached_at, im_thread, opened_at, updated_at"
)


def im_key(platform: str, workspace: str, channel: str, thread: str) -> str:
    return f"{platform}|{workspace}|{channel}|{thread}"


def thread_key(thread: ImThread | None) -> str | None:
    if thread is None or thread.thread_ts is None:
        return None
    return im_key(thread.platform.value, thread.workspace, thread.channel, thread.thread_ts)


def _ticket(row: asyncpg.Record) -> Ticket:
    return Ticket.model_validate(dict(row))


async def insert_ticket(conn: asyncpg.Connection, t: Ticket, source_key: str | None) -> bool:
    """Insert; False when a ticket with the same source key (a retried chat submission) exists."""
    row = await conn.fetchrow(
        f"INSERT INTO tickets ({TICKET_COLUMNS}, im_key, source_key) VALUES "
        "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26) "
        "ON CONFLICT (source_key) DO NOTHING RETURNING id",
        t.id,
        t.org_id,
        t.kind.value,
        t.severity.value,
        t.status.value,
        t.summary,
        t.description,
        t.cluster_id,
        t.environment,
        t.components,
        t.affected_version,
        t.reporter_email,
        t.channel.value,
        t.created_by,
        t.plan.value,
        {s.value: r.model_dump(mode="json") for s, r in t.response_targets.items()},
        t.timezone,
        t.response_due_at,
        t.first_response_at,
        t.resolved_at,
        t.breached_at,
        t.im_thread.model_dump(mode="json") if t.im_thread else None,
        t.opened_at,
        t.updated_at,
        thread_key(t.im_thread),
        source_key,
    )
    return row is not None


async def link_alert(conn: asyncpg.Connection, ticket_id: str, alert: AlertRef) -> None:
    await conn.execute(
        "INSERT INTO ticket_alerts (ticket_id, org_id, fingerprint, starts_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        ticket_id,
        alert.org_id,
        alert.fingerprint,
        alert.starts_at,
    )


async def alert_of(conn: Conn, ticket_id: str) -> AlertRef | None:
    row = await conn.fetchrow(
        "SELECT org_id, fingerprint, starts_at FROM ticket_alerts WHERE ticket_id = $1", ticket_id
    )
    return AlertRef.model_validate(dict(row)) if row else None


async def ticket_by_source(conn: Conn, source_key: str) -> Ticket | None:
    row = await conn.fetchrow(f"SELECT {TICKET_COLUMNS} FROM tickets WHERE source_key = $1", source_key)
    return _ticket(row) if row else None


async def get_ticket(conn: Conn, ticket_id: str, *, for_update: bool = False) -> Ticket | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1{lock}", ticket_id)
    return _ticket(row) if row else None


async def ticket_in_thread(
    conn: asyncpg.Connection, platform: ImPlatform, workspace: str, channel: str, thread: str
) -> Ticket | None:
    row = await conn.fetchrow(
        f"SELECT {TICKET_COLUMNS} FROM tickets WHERE im_key = $1 FOR UPDATE",
        im_key(platform.value, workspace, channel, thread),
    )
    return _ticket(row) if row else None


def _like(text: str) -> str:
    """A search term matched literally (its % and _ are not wildcards)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_tickets(
    conn: Conn, filters: dict[str, str | None], limit: int, offset: int, search: str | None = None
) -> list[Ticket]:
    where: list[str] = []
    args: list[object] = []
    for column, value in filters.items():
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    for word in (search or "").split()[:10]:  # every word, anywhere in the id, summary or description
        args.append(_like(word))
        n = len(args)
        where.append(f"(id ILIKE ${n} OR summary ILIKE ${n} OR description ILIKE ${n})")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    args += [limit, offset]
    rows = await conn.fetch(
        f"SELECT {TICKET_COLUMNS} FROM tickets {clause} ORDER BY opened_at DESC, id "
        f"LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    return [_ticket(r) for r in rows]


async def queue(conn: Conn, limit: int) -> list[Ticket]:
    """Tickets not resolved or closed, of every organisation: unanswered ones with a due time first, the soonest
    (most overdue) at the top; then the answered ones and those without a target, oldest first."""
    rows = await conn.fetch(
        f"SELECT {TICKET_COLUMNS} FROM tickets WHERE status IN ('open', 'in_progress', 'waiting_on_customer')"
        " ORDER BY (first_response_at IS NULL AND response_due_at IS NOT NULL) DESC, response_due_at, opened_at, id"
        " LIMIT $1",
        limit,
    )
    return [_ticket(r) for r in rows]


async def update_ticket(conn: asyncpg.Connection, ticket_id: str, **changes: Any) -> None:
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(changes))
    await conn.execute(f"UPDATE tickets SET {sets} WHERE id = $1", ticket_id, *changes.values())


async def insert_comment(conn: asyncpg.Connection, c: Comment, origin_key: str | None) -> bool:
    """Insert; False when a comment from the same chat message already exists."""
    row = await conn.fetchrow(
        "INSERT INTO comments (id, ticket_id, author, author_kind, visibility, body, origin, origin_key, created_at)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (origin_key) DO NOTHING RETURNING id",
        c.id,
        c.ticket_id,
        c.author,
        c.author_kind.value,
        c.visibility.value,
        c.body,
        c.origin.model_dump(mode="json") if c.origin else None,
        origin_key,
        c.created_at,
    )
    return row is not None


async def comments(conn: Conn, ticket_id: str, *, include_internal: bool) -> list[Comment]:
    rows = await conn.fetch(
        "SELECT id, ticket_id, author, author_kind, visibility, body, origin, created_at FROM comments "
        "WHERE ticket_id = $1 AND ($2 OR visibility = 'public') ORDER BY created_at, id",
        ticket_id,
        include_internal,
    )
    return [Comment.model_validate(dict(r)) for r in rows]


async def latest_public_comment(conn: Conn, ticket_id: str) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT body FROM comments WHERE ticket_id = $1 AND visibility = 'public' "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        ticket_id,
    )
    return value


# --- IM bindings -------------------------------------------------------------------------------------------------

BINDING_COLUMNS = "id, org_id, platform, workspace, channel, name, updates, two_way, state, reason, created_at"


def binding_of(row: asyncpg.Record) -> Binding:
    return Binding(
        id=row["id"],
        org_id=row["org_id"],
        platform=ImPlatform(row["platform"]),
        workspace=row["workspace"],
        channel=row["channel"],
        features=Features(updates=row["updates"], two_way=row["two_way"]),
        state=BindingState(row["state"]),
    )


async def insert_binding(conn: asyncpg.Connection, b: Binding, name: str | None, reason: str | None, by: str) -> bool:
    row = await conn.fetchrow(
        "INSERT INTO im_bindings (id, org_id, platform, workspace, channel, name, updates, two_way, state, reason,"
        " created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        " ON CONFLICT (platform, workspace, channel) DO NOTHING RETURNING id",
        b.id,
        b.org_id,
        b.platform.value,
        b.workspace,
        b.channel,
        name,
        b.features.updates,
        b.features.two_way,
        b.state.value,
        reason,
        by,
    )
    return row is not None


async def binding_rows(conn: Conn, org_id: str | None) -> list[asyncpg.Record]:
    if org_id is None:
        return list(await conn.fetch(f"SELECT {BINDING_COLUMNS} FROM im_bindings ORDER BY created_at, id"))
    return list(
        await conn.fetch(f"SELECT {BINDING_COLUMNS} FROM im_bindings WHERE org_id = $1 ORDER BY created_at, id", org_id)
    )


async def binding_row(conn: Conn, binding_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {BINDING_COLUMNS} FROM im_bindings WHERE id = $1", binding_id
    )
    return row


async def org_bindings(conn: Conn, org_id: str) -> list[Binding]:
    return [binding_of(r) for r in await binding_rows(conn, org_id)]


async def binding_at(conn: Conn, platform: ImPlatform, workspace: str, channel: str) -> Binding | None:
    row = await conn.fetchrow(
        f"SELECT {BINDING_COLUMNS} FROM im_bindings WHERE platform = $1 AND workspace = $2 AND channel = $3",
        platform.value,
        workspace,
        channel,
    )
    return binding_of(row) if row else None


async def set_binding_state(conn: asyncpg.Connection, b: Binding, reason: str | None) -> None:
    await conn.execute(
        "UPDATE im_bindings SET updates = $2, two_way = $3, state = $4, reason = $5, updated_at = now() WHERE id = $1",
        b.id,
        b.features.updates,
        b.features.two_way,
        b.state.value,
        reason,
    )


async def delete_binding(conn: Conn, binding_id: str) -> bool:
    return bool(await conn.fetchval("DELETE FROM im_bindings WHERE id = $1 RETURNING true", binding_id))


# --- holidays ----------------------------------------------------------------------------------------------------


async def holidays(conn: Conn, org_id: str) -> list[date]:
    rows = await conn.fetch("SELECT day FROM org_holidays WHERE org_id = $1 ORDER BY day", org_id)
    return [r["day"] for r in rows]


async def replace_holidays(conn: asyncpg.Connection, org_id: str, days: Sequence[date]) -> None:
    await conn.execute("DELETE FROM org_holidays WHERE org_id = $1", org_id)
    await conn.executemany(
        "INSERT INTO org_holidays (org_id, day) VALUES ($1, $2) ON CONFLICT DO NOTHING", [(org_id, d) for d in days]
    )


# --- breaches ----------------------------------------------------------------------------------------------------


def ticket_of(row: asyncpg.Record) -> Ticket:
    """The ticket from its row (raises when the row no longer makes sense)."""
    return _ticket(row)


async def claim_breached(conn: asyncpg.Connection, now: datetime, limit: int, loop: str) -> list[asyncpg.Record]:
    """Tickets whose due time passed with no response before it; locked, skipping those another instance holds
    and those the scan parked (they could not be processed; an OFFSET 0 probe for each, carekit.parking)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {TICKET_COLUMNS} FROM tickets t"
        " WHERE breached_at IS NULL AND response_due_at IS NOT NULL AND response_due_at <= $1"
        " AND (first_response_at IS NULL OR first_response_at > response_due_at)"
        " AND (resolved_at IS NULL OR resolved_at > response_due_at)"
        " AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = $3 AND p.key = t.id AND p.redriven_at IS NULL"
        " OFFSET 0) ORDER BY response_due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
        loop,
    )
    return rows


async def mark_breached(conn: asyncpg.Connection, ticket_id: str, now: datetime) -> bool:
    return bool(
        await conn.fetchval(
            "UPDATE tickets SET breached_at = $2 WHERE id = $1 AND breached_at IS NULL RETURNING true", ticket_id, now
        )
    )


# --- chat replies owed to a thread ---------------------------------------------------------------------------------


async def queue_chat_reply(
    conn: asyncpg.Connection, ticket_id: str, thread: ImThread, body: str, now: datetime
) -> None:
    assert thread.thread_ts is not None
    await conn.execute(
        "INSERT INTO chat_replies (ticket_id, platform, channel, thread, body, next_attempt_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        ticket_id,
        thread.platform.value,
        thread.channel,
        thread.thread_ts,
        body,
        now,
    )


async def claim_chat_replies(conn: asyncpg.Connection, now: datetime, limit: int, loop: str) -> list[asyncpg.Record]:
    """Replies due now, locked, skipping those another instance is sending and those parked (an OFFSET 0 probe by
    key for each: as a join, it read every reply the loop ever parked on every pass, even planned by key)."""
    return list(
        await conn.fetch(
            "SELECT id, ticket_id, platform, channel, thread, body, attempts FROM chat_replies c"
            " WHERE next_attempt_at <= $1 AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = $3"
            " AND p.key = c.id::text AND p.redriven_at IS NULL OFFSET 0)"
            " ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
            loop,
        )
    )


async def chat_reply_done(conn: asyncpg.Connection, reply_id: int) -> None:
    await conn.execute("DELETE FROM chat_replies WHERE id = $1", reply_id)


async def chat_reply_failed(conn: asyncpg.Connection, reply_id: int, error: str, retry_at: datetime) -> None:
    await conn.execute(
        "UPDATE chat_replies SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3 WHERE id = $1",
        reply_id,
        storable(error)[:500],
        retry_at,
    )
