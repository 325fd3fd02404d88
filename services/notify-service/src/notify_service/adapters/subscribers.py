"""Postgres access for subscribers (configuration sealed by SecretBox) and plan-change effects."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from care_schemas.catalogue import ChannelType, PlanCode
from notify_service.adapters import mutes
from notify_service.adapters.secrets import SecretBox
from notify_service.domain.plans import suspension_reason
from notify_service.domain.subscribers import Draft, masked, partition_of, secrets_of, target_key

CHANGED = "subscribers_changed"  # NOTIFY payload: a subscriber id, so dispatchers drop their cached copy
PURGES = "subscriber_purges"  # NOTIFY: a subscriber was deleted, its notifications are to go (`purge_batch`)
PURGES_LOOP = "subscriber-purges"  # the purge's loop, where a subscriber whose purge fails for good is parked
# A batch of a deleted subscriber's notifications in the order of notifications_natural (subscriber_id, then the
# rest of the key), after the last row of the batch before: a batch from the start of the subscriber's range would
# step over every entry the batches before it deleted (not yet vacuumed): 13.9 s instead of 6.4 for 1,000,000.
NaturalKey = tuple[str, str, datetime, str, int, int]  # fingerprint, status, starts_at, severity, round, episode
FIRST: NaturalKey = ("", "", datetime.min.replace(tzinfo=UTC), "", -(2**31), -(2**31))  # before any row's
_PURGE = """
    WITH batch AS (
        SELECT id, fingerprint, status, starts_at, severity, round, episode FROM notifications
        WHERE (subscriber_id, fingerprint, status, starts_at, severity, round, episode)
              > ($1, $2::text, $3::text, $4::timestamptz, $5::text, $6::integer, $7::integer)
          AND subscriber_id <= $1  -- not `= $1`: btree would start the scan there, at the first entry of the range
        ORDER BY subscriber_id, fingerprint, status, starts_at, severity, round, episode
        LIMIT $8
    ), gone AS (
        DELETE FROM notifications WHERE id = ANY(ARRAY(SELECT id FROM batch)) RETURNING 1
    )
    SELECT (SELECT count(*) FROM batch) AS read, (SELECT count(*) FROM gone) AS deleted,
           fingerprint, status, starts_at, severity, round, episode
    FROM batch ORDER BY fingerprint DESC, status DESC, starts_at DESC, severity DESC, round DESC, episode DESC LIMIT 1
"""

COLUMNS = (
    "id, org_id, project_id, cluster_id, type, name, severities, rules, secret, display, state, state_reason,"
    " created_by, created_at, updated_at, group_by, max_alerts"
)


@dataclass(frozen=True, kw_only=True)
class Subscriber(Draft):
    """A saved subscriber: the owner's draft (its configuration opened), its id, state and history."""

    id: str
    state: str
    state_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def target_key(self) -> str:
        return target_key(self.type, self.config)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(secrets_of(self.config))


def _from_row(box: SecretBox, r: asyncpg.Record) -> Subscriber:
    return Subscriber(
        id=r["id"],
        org_id=r["org_id"],
        project_id=r["project_id"],
        cluster_id=r["cluster_id"],
        type=ChannelType(r["type"]),
        name=r["name"],
        severities=r["severities"],
        rules=r["rules"],
        config=box.open(r["secret"]),
        state=r["state"],
        state_reason=r["state_reason"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        group_by=r["group_by"],
        max_alerts=r["max_alerts"],
    )


async def insert(conn: asyncpg.Connection | asyncpg.Pool, box: SecretBox, s: Subscriber) -> Subscriber:
    row = await conn.fetchrow(
        f"""
        INSERT INTO subscribers (id, org_id, project_id, cluster_id, type, name, severities, rules, secret, display,
                                 state, state_reason, created_by, group_by, max_alerts, target_key, part)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING {COLUMNS}
        """,  # noqa: S608 - constant column list
        s.id,
        s.org_id,
        s.project_id,
        s.cluster_id,
        s.type.value,
        s.name,
        s.severities,
        s.rules,
        box.seal(s.config),
        masked(s.config),
        s.state,
        s.state_reason,
        s.created_by,
        s.group_by,
        s.max_alerts,
        s.target_key,
        partition_of(s.target_key),
    )
    return _from_row(box, row)


async def update(pool: asyncpg.Pool, box: SecretBox, s: Subscriber) -> Subscriber | None:
    """Save the changes; queued notifications follow a changed target into its delivery partition."""
    async with pool.acquire() as conn, conn.transaction():
        saved = await _update(conn, box, s)
        await conn.execute(
            "UPDATE notifications SET part = $2 WHERE subscriber_id = $1 AND state = 'pending' AND part <> $2",
            s.id,
            partition_of(s.target_key),
        )
    return saved


async def _update(conn: asyncpg.Connection, box: SecretBox, s: Subscriber) -> Subscriber | None:
    row = await conn.fetchrow(
        f"""
        UPDATE subscribers SET project_id = $3, cluster_id = $4, name = $5, severities = $6, rules = $7, secret = $8,
               display = $9, group_by = $10, max_alerts = $11, target_key = $12, part = $13, updated_at = now()
        WHERE id = $1 AND org_id = $2 RETURNING {COLUMNS}
        """,  # noqa: S608 - constant column list
        s.id,
        s.org_id,
        s.project_id,
        s.cluster_id,
        s.name,
        s.severities,
        s.rules,
        box.seal(s.config),
        masked(s.config),
        s.group_by,
        s.max_alerts,
        s.target_key,
        partition_of(s.target_key),
    )
    await conn.execute("SELECT pg_notify($1, $2)", CHANGED, s.id)
    return _from_row(box, row) if row else None


async def get(pool: asyncpg.Pool, box: SecretBox, org_id: str | None, subscriber_id: str) -> Subscriber | None:
    """One subscriber; `org_id` None (internal use) reads any organisation's."""
    row = await pool.fetchrow(
        f"SELECT {COLUMNS} FROM subscribers WHERE id = $1 AND ($2::text IS NULL OR org_id = $2)",  # noqa: S608
        subscriber_id,
        org_id,
    )
    return _from_row(box, row) if row else None


async def list_for(pool: asyncpg.Pool, box: SecretBox, org_id: str, project_id: str | None) -> list[Subscriber]:
    rows = await pool.fetch(
        f"SELECT {COLUMNS} FROM subscribers WHERE org_id = $1 AND ($2::text IS NULL OR project_id = $2)"  # noqa: S608
        " ORDER BY created_at, id",
        org_id,
        project_id,
    )
    return [_from_row(box, r) for r in rows]


async def delete(pool: asyncpg.Pool, org_id: str, subscriber_id: str) -> bool:
    """Delete the organisation's subscriber, holding the organisation's intake lock so that no intake queues a notice
    for it meanwhile (migrations/014: no foreign key does it), and note it in `subscriber_purges` in the same
    transaction: its notifications (queued, in flight, delivered, dead; their dead letters follow) go after it, a
    batch at a time (`purge_batch`), so that the lock is not held while a long history is deleted (migrations/015).
    False when the organisation has no such subscriber."""
    async with pool.acquire() as conn, conn.transaction():
        await mutes.lock_for_intake(conn, [org_id])
        found = await conn.fetchval(
            "DELETE FROM subscribers WHERE id = $1 AND org_id = $2 RETURNING id", subscriber_id, org_id
        )
        if found is not None:
            await conn.execute(
                "INSERT INTO subscriber_purges (subscriber_id, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                subscriber_id,
                org_id,
            )
            await conn.execute("SELECT pg_notify($1, $2), pg_notify($3, '')", CHANGED, subscriber_id, PURGES)
    return found is not None


async def purging(conn: asyncpg.Connection) -> list[str]:
    """Deleted subscribers whose notifications are still to go, the first deleted first; not those whose purge
    failed for good and is parked (`PURGES_LOOP`) until an operator re-drives it."""
    rows = await conn.fetch(
        "SELECT subscriber_id FROM subscriber_purges s WHERE NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = $1"
        " AND p.key = s.subscriber_id AND p.redriven_at IS NULL OFFSET 0) ORDER BY deleted_at, subscriber_id",
        PURGES_LOOP,
    )
    return [r["subscriber_id"] for r in rows]


@dataclass(frozen=True)
class Purged:
    """A batch of `purge_batch`: how many it deleted (fewer than it read when another instance's purge deleted some
    first), whether more may follow (it read a whole batch), and the key to go on after."""

    deleted: int
    more: bool
    after: NaturalKey


async def purge_batch(conn: asyncpg.Connection, subscriber_id: str, after: NaturalKey, batch: int) -> Purged:
    """Delete up to `batch` notifications of a deleted subscriber, those after `after` (`FIRST`, then what the
    batch before returned), in one statement, its own transaction (`conn` plans by key:
    `carekit.db.by_key_connection`)."""
    row = await conn.fetchrow(_PURGE, subscriber_id, *after, batch)
    if row is None:
        return Purged(0, False, after)
    last = (row["fingerprint"], row["status"], row["starts_at"], row["severity"], row["round"], row["episode"])
    return Purged(row["deleted"], row["read"] == batch, last)


async def purged(conn: asyncpg.Connection, subscriber_id: str) -> bool:
    """Forget the subscriber's purge once none of its notifications is left (none can come after: the intake's lock
    kept them out once the subscriber was gone); whether it was forgotten."""
    status: str = await conn.execute(
        "DELETE FROM subscriber_purges WHERE subscriber_id = $1"
        " AND NOT EXISTS (SELECT 1 FROM notifications WHERE subscriber_id = $1)",
        subscriber_id,
    )
    return status != "DELETE 0"


async def apply_plan(
    conn: asyncpg.Connection, org_id: str, plan: PlanCode, channels: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Suspend subscribers the plan excludes (cancelling their queued notifications) and resume the rest.
    Returns (suspended ids, resumed ids)."""
    suspended: list[str] = []
    rows = await conn.fetch(
        "SELECT id, type FROM subscribers WHERE org_id = $1 AND state = 'active' AND NOT (type = ANY($2::text[]))",
        org_id,
        list(channels),
    )
    for r in rows:
        reason = suspension_reason(ChannelType(r["type"]), plan)
        await conn.execute(
            "UPDATE subscribers SET state = 'suspended', state_reason = $2, updated_at = now() WHERE id = $1",
            r["id"],
            reason,
        )
        await conn.execute(
            "UPDATE notifications SET state = 'cancelled', last_error = $2 WHERE subscriber_id = $1"
            " AND state IN ('pending', 'sending')",
            r["id"],
            f"cancelled: {reason}",
        )
        suspended.append(r["id"])
    resumed = await conn.fetch(
        "UPDATE subscribers SET state = 'active', state_reason = NULL, updated_at = now()"
        " WHERE org_id = $1 AND state = 'suspended' AND type = ANY($2::text[]) RETURNING id",
        org_id,
        list(channels),
    )
    for changed in [*suspended, *(r["id"] for r in resumed)]:
        await conn.execute("SELECT pg_notify($1, $2)", CHANGED, changed)
    return suspended, [r["id"] for r in resumed]


async def backfill_targets(pool: asyncpg.Pool, box: SecretBox) -> int:
    """Subscribers saved before targets were hashed get their target key and partition, and queued notifications
    without a partition get their subscriber's; how many subscribers and notifications were filled in."""
    rows = await pool.fetch("SELECT id, type, secret FROM subscribers WHERE target_key IS NULL")
    for r in rows:
        try:
            key = target_key(ChannelType(r["type"]), box.open(r["secret"]))
        except Exception:  # unreadable configuration: delivery finds it missing and says so; partition by id
            key = hashlib.sha256(f"unreadable:{r['id']}".encode()).hexdigest()[:32]
        async with pool.acquire() as conn, conn.transaction():
            part = partition_of(key)
            await conn.execute("UPDATE subscribers SET target_key = $2, part = $3 WHERE id = $1", r["id"], key, part)
            await conn.execute(
                "UPDATE notifications SET part = $2 WHERE subscriber_id = $1 AND part IS NULL", r["id"], part
            )
    # queued without a partition by something that does not know them (an older instance during a rolling upgrade,
    # a hand-written row) although the subscriber has one: they join it (read through notifications_due_part)
    status = await pool.execute(
        "UPDATE notifications n SET part = s.part FROM subscribers s WHERE n.part IS NULL AND n.state = 'pending'"
        " AND s.id = n.subscriber_id AND s.part IS NOT NULL"
    )
    return len(rows) + int(status.split()[-1])
