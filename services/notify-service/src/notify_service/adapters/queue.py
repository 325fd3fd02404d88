"""Postgres access for delivery: claim due notifications, record results in batches, dead letters, re-drive."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg
import orjson
from asyncpg.exceptions._base import DataError as ClientDataError
from pydantic import ValidationError

from care_schemas.bounded import describe_validation
from care_schemas.envelope import utcnow
from care_schemas.events.alert import Alert, AlertStatus
from care_schemas.events.deadletter import MAX_REASON, NotificationDeadLettered, NotificationDeadLetteredData
from care_schemas.topics import NOTIFY_DEADLETTER
from carekit.db import by_key, by_key_connection
from carekit.faults import storable
from carekit.outbox import enqueue

SOURCE = "/notify-service"
# NOTIFY channel: notifications are queued for claims (every dispatcher LISTENs); also named in the intake's one call
# (`notify_take_by_partition`, migrations/011_intake_hands_by_partition.sql)
WAKE = "notifications"
log = logging.getLogger(__name__)
# Rows looked up by id (`id = ANY($1)`) test their state as `coalesce(state, '') = 'sending'` (or 'pending'), a
# form no partial index matches. With `state = 'sending'` the planner may add `notifications_sending_part`, which
# holds every row version that was ever being sent until vacuum comes, and does while the table's statistics
# predate a burst (no autoanalyze yet): each of the recorder's writes then read tens of thousands of index entries,
# and a 100,000-alert run delivered at half its rate, in about one run out of two (bench/README.md, "a lean HTTP
# client"). The claims' lookups of pending rows by id did the same with `notifications_due_at`. By primary key they
# read their few rows.


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    subscriber_id: str
    org_id: str
    channel: str
    grp: str
    attempts: int
    window_from: datetime
    alert: Alert
    part: int = 0
    by: str | None = None  # the dispatcher the intake inserted it as being sent by (None: claimed)


@dataclass(frozen=True, slots=True)
class Handing:
    """A dispatcher that takes notifications straight from the intake: its name, the partitions it holds and the
    subscribers whose backlog is full (their notifications are queued for a claim instead)."""

    me: str
    parts: list[int]
    full: list[str]


class Claims(list[Claimed]):
    """Claimed rows; `more` when due rows were left for the next claim (the limit was reached, or a group did not
    fit in what was left of it)."""

    more: bool = False


@dataclass(frozen=True)
class Result:
    """What became of one message: the notifications it carried and the answer."""

    rows: Sequence[Claimed]
    outcome: str  # delivered | retry | dead | cancelled | resplit (413: the rows stay in flight, re-sent smaller)
    http_status: int | None
    detail: str
    latency_ms: float
    retry_in_s: float = 0.0
    pause: tuple[str, float] | None = None  # (target key, seconds): a Retry-After pause of the whole target


async def reset_partitions(pool: asyncpg.Pool, parts: Sequence[int]) -> int:
    """Partitions just taken over: notifications their previous owner was sending are due again (the ones it had
    sent without recording the answer are sent twice)."""
    status = await pool.execute(
        "UPDATE notifications SET state = 'pending', claimed_by = NULL WHERE state = 'sending' AND part = ANY($1)",
        list(parts),
    )
    return int(status.split()[-1])


async def release(db: asyncpg.Pool | asyncpg.Connection, ids: Sequence[int], me: str | None) -> None:
    """Claimed notifications this instance will not send after all (its partition moved on, or the intake's
    transaction found silences or windows in their organisation, `me` None): due again, and the claims woken."""
    status = await db.execute(
        "UPDATE notifications SET state = 'pending', claimed_by = NULL WHERE id = ANY($1::bigint[])"
        " AND coalesce(state, '') = 'sending' AND ($2::text IS NULL OR claimed_by IS NULL OR claimed_by = $2)",
        list(ids),
        me,
    )
    if status != "UPDATE 0":
        await db.execute(f"NOTIFY {WAKE}")


async def release_mine(pool: asyncpg.Pool, me: str) -> int:
    """Everything this instance had claimed is due again (its dispatcher restarted after a bug)."""
    status = await pool.execute(
        "UPDATE notifications SET state = 'pending', claimed_by = NULL WHERE state = 'sending' AND claimed_by = $1", me
    )
    return int(status.split()[-1])


# A claim runs as four statements, each reading rows by values it is given (constants in its custom plan: a hashed
# `= ANY`, or index probes), never by another part of the same statement. As one statement (CTEs reading CTEs) its
# plan depended on the row estimates of the pending rows; statistics taken while few rows were pending (a quiet
# spell, or the intake handing its rows to its own dispatcher) estimate one, and Postgres then re-read a CTE for
# every pending row: one claim with 20,000 pending ran for minutes (bench/README.md, "claims").
_DUE = """
    SELECT n.id, n.grp FROM notifications n
    WHERE n.state = 'pending' AND n.next_attempt_at <= now() AND n.held_by IS NULL
      AND ($3::smallint[] IS NULL OR n.part = ANY($3)) AND n.subscriber_id <> ALL($2::text[])
    ORDER BY n.next_attempt_at LIMIT $1
"""
# a group's first attempts come with its first due row (grouping)
_GROUPED = """
    SELECT n.id FROM notifications n
    WHERE n.grp = ANY($1::text[]) AND n.state = 'pending' AND n.attempts = 0 AND n.held_by IS NULL
      AND n.id <> ALL($2::bigint[])
"""
# of those, the ones that may go now, with their group
_ELIGIBLE = """
    SELECT n.id, n.grp FROM notifications n
    WHERE n.id = ANY($1::bigint[]) AND coalesce(n.state, '') = 'pending'
      AND NOT (n.status = 'resolved' AND (
            EXISTS (
                SELECT 1 FROM notifications f WHERE f.subscriber_id = n.subscriber_id
                  AND f.fingerprint = n.fingerprint AND f.starts_at = n.starts_at AND f.episode = n.episode
                  AND f.status = 'firing' AND f.state IN ('pending', 'sending'))
            OR NOT EXISTS (
                SELECT 1 FROM notifications f WHERE f.subscriber_id = n.subscriber_id
                  AND f.fingerprint = n.fingerprint AND f.starts_at = n.starts_at AND f.episode = n.episode
                  AND f.status = 'firing' AND f.state = 'delivered')))
      -- a re-fire (same start, next episode) waits for the last episode's resolved notice still on its way
      AND NOT (n.episode > 0 AND n.status = 'firing' AND EXISTS (
            SELECT 1 FROM notifications r WHERE r.subscriber_id = n.subscriber_id
              AND r.fingerprint = n.fingerprint AND r.starts_at = n.starts_at AND r.episode < n.episode
              AND r.status = 'resolved' AND r.state IN ('pending', 'sending') AND r.next_attempt_at < 'infinity'))
"""
# the rows picked (whole groups, `fitting`), still pending and not locked by another claim, become `sending`
_TAKE = """
    WITH picked AS (
        SELECT n.id FROM notifications n
        WHERE n.id = ANY($1::bigint[]) AND coalesce(n.state, '') = 'pending' AND n.held_by IS NULL
        ORDER BY n.id
        FOR UPDATE SKIP LOCKED
    )
    -- by id through the primary key (a join with `picked` was planned as a scan of the whole table)
    UPDATE notifications n SET state = 'sending', claimed_by = $2 WHERE n.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING n.id, n.subscriber_id, n.org_id, n.channel, n.grp, n.attempts, n.window_from, n.alert::text AS alert,
              n.fingerprint, n.status, n.starts_at, n.episode, COALESCE(n.part, 0) AS part
"""


def fitting(eligible: Sequence[tuple[int, str]], limit: int) -> list[int]:
    """Whole groups, oldest first (by their first row), while they fit in `limit` rows, so that a claim does not cut
    a group in two messages; the oldest always, cut to `limit` rows when it alone is larger."""
    groups: dict[str, list[int]] = {}
    for row_id, grp in sorted(eligible):
        groups.setdefault(grp, []).append(row_id)
    out: list[int] = []
    for k, ids in enumerate(groups.values()):  # in the order of each group's first row
        if k == 0:
            out += ids[:limit]
        elif len(out) + len(ids) <= limit:
            out += ids
        else:
            break
    return out


@asynccontextmanager
async def _planned_for_these_partitions(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection whose statements are planned for their arguments on every call, in a transaction of its own.
    After five runs of a prepared statement Postgres may switch to one generic plan; for the claim's
    `$3 IS NULL OR part = ANY($3)` that plan took 30-40 s a claim with two instances holding 32 partitions each and
    20,000 rows queued (bench/README.md, scale)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield conn


async def claim(
    pool: asyncpg.Pool,
    limit: int,
    skip: Sequence[str] = (),
    *,
    parts: Sequence[int] | None = None,
    me: str | None = None,
) -> Claims:
    """Mark due notifications as being sent by `me`, from partitions `parts` (None: all): due ones, plus first
    attempts of the same groups (grouping), in whole groups (the oldest cut to `limit` when it alone is larger, so
    that a group fits one message whenever the channel allows it); a resolved notice waits while a firing notice
    of its alert is still queued, and until one was delivered (a dead-lettered firing notice holds it until staff
    re-drive it); a re-fire with the same start waits for the resolved notice before it; subscribers in `skip`
    (their senders already hold a full backlog) are left for later, so they cannot crowd other targets out. A row
    whose stored alert cannot be read is dead-lettered with the reason."""
    async with _planned_for_these_partitions(pool) as conn:
        due = await conn.fetch(_DUE, limit, list(skip), None if parts is None else list(parts))
        rows: list[asyncpg.Record] = []
        if due:
            due_ids = [r["id"] for r in due]
            grouped = await conn.fetch(_GROUPED, sorted({r["grp"] for r in due}), due_ids)
            eligible = await conn.fetch(_ELIGIBLE, due_ids + [r["id"] for r in grouped])
            picked = fitting([(r["id"], r["grp"]) for r in eligible], limit)
            rows = await conn.fetch(_TAKE, picked, me) if picked else []
    claimed = Claims()
    if rows:
        claimed.more = len(due) >= limit or len(eligible) > len(rows)
    unreadable: list[tuple[asyncpg.Record, str]] = []
    for r in sorted(rows, key=lambda r: r["id"]):
        try:  # one pydantic-core pass over the stored JSON (about 7 us; parsing and constructing unchecked took 11)
            alert = Alert.model_validate_json(r["alert"])
        except ValidationError as exc:  # stored before a schema change, or edited by hand
            unreadable.append((r, f"the stored alert no longer validates: {describe_validation(exc)}"))
            continue
        claimed.append(
            Claimed(
                r["id"],
                r["subscriber_id"],
                r["org_id"],
                r["channel"],
                r["grp"],
                r["attempts"],
                r["window_from"],
                alert,
                r["part"],
            )
        )
    if unreadable:
        await _isolate_unreadable(pool, unreadable)
    return claimed


# The first due row in due order, not `min(next_attempt_at)`: with statistics taken while few rows were pending, the
# planner read min() from every pending row of the partitions (a bitmap scan, 17-22 ms a call with 25,000 queued
# for a grouping window), and each dispatcher asks after every claim that finds nothing due. In due order it reads
# the first entries of notifications_due_at whatever the statistics say (bench/README.md, "the next due time in due
# order").
NEXT_DUE = """
    SELECT next_attempt_at FROM notifications
    WHERE state = 'pending' AND held_by IS NULL AND ($1::smallint[] IS NULL OR part = ANY($1))
      AND next_attempt_at < 'infinity'
    ORDER BY next_attempt_at LIMIT 1
"""


async def next_due(pool: asyncpg.Pool, parts: Sequence[int] | None) -> datetime | None:
    """When the next queued notification of these partitions is due (None: nothing queued)."""
    async with _planned_for_these_partitions(pool) as conn:
        due: datetime | None = await conn.fetchval(NEXT_DUE, None if parts is None else list(parts))
    return due


async def _isolate_unreadable(pool: asyncpg.Pool, rows: Sequence[tuple[asyncpg.Record, str]]) -> None:
    """Dead-letter claimed notifications whose stored alert cannot be read, with the reason, so that staff see and
    can re-drive them (after fixing the row); every other notification goes on. By key (`by_key_connection`):
    `PARK_RESOLVED` planned on a table analyzed while empty otherwise reads the whole of it."""
    async with by_key_connection(pool) as conn, conn.transaction():
        for r, reason in rows:
            log.warning("notification %s isolated: %s", r["id"], reason)
            await _dead_letter(
                conn,
                notification_id=r["id"],
                subscriber_id=r["subscriber_id"],
                org_id=r["org_id"],
                channel=r["channel"],
                fingerprint=r["fingerprint"],
                reason=reason,
            )
            if r["status"] == AlertStatus.FIRING.value:
                await conn.execute(PARK_RESOLVED, r["subscriber_id"], r["fingerprint"], r["starts_at"])


# delivered notifications still held by this instance ($2) move on
_MARK_DELIVERED = """
    UPDATE notifications SET state = 'delivered', attempts = attempts + 1, delivered_at = now(), last_error = NULL
    WHERE id = ANY($1::bigint[]) AND coalesce(state, '') = 'sending' AND (claimed_by IS NULL OR claimed_by = $2)
"""
# every result delivered: the rows move on and the attempts are written by the same statement
_DELIVERED = f"""
    WITH moved AS ({_MARK_DELIVERED})
    INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids, fingerprints, attempt, outcome,
                                   http_status, detail, latency_ms)
    SELECT * FROM json_to_recordset($3::text::json) AS a(
        org_id text, subscriber_id text, channel text, notification_ids bigint[], fingerprints text[], attempt integer,
        outcome text, http_status integer, detail text, latency_ms double precision)
"""  # noqa: S608 (constant SQL, values bound)

ATTEMPT_COLUMNS = [
    "org_id",
    "subscriber_id",
    "channel",
    "notification_ids",
    "fingerprints",
    "attempt",
    "outcome",
    "http_status",
    "detail",
    "latency_ms",
]


async def writer(pool: asyncpg.Pool) -> asyncpg.Connection:
    """A connection for the recorder to hold (`record` through it). Every statement `record` runs finds its rows by
    primary key or by the natural key's index, so it reads by key whatever the table's size when they were planned
    (`carekit.db.by_key`): the 5,000-alert comparison ran its recorder's write 318 times reading the whole table
    (bench/README.md, "the recorder's plan")."""
    conn: asyncpg.Connection = await pool.acquire()
    try:
        await by_key(conn)
    except BaseException:
        await pool.release(conn)
        raise
    return conn


@asynccontextmanager
async def _connection(db: asyncpg.Pool | asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
    else:
        yield db


async def record(
    db: asyncpg.Pool | asyncpg.Connection, results: Sequence[Result], me: str | None = None
) -> list[tuple[Claimed, str]]:
    """Write attempts and move notifications on, in one transaction, for rows `me` still holds; keep a target's
    Retry-After pause; returns the dead-lettered rows."""
    results = [replace(res, detail=storable(res.detail)[:MAX_REASON]) for res in results]
    delivered = [r.id for res in results if res.outcome == "delivered" for r in res.rows]
    retries = [(r.id, res.detail, res.retry_in_s) for res in results if res.outcome == "retry" for r in res.rows]
    dead = [(r, res.detail) for res in results if res.outcome == "dead" for r in res.rows]
    cancelled = [r.id for res in results if res.outcome == "cancelled" for r in res.rows]
    pauses: dict[str, float] = {}
    for res in results:
        if res.pause is not None:
            pauses[res.pause[0]] = max(pauses.get(res.pause[0], 0.0), res.pause[1])
    attempts = [
        (
            res.rows[0].org_id,
            res.rows[0].subscriber_id,
            res.rows[0].channel,
            [r.id for r in res.rows],
            [r.alert.fingerprint for r in res.rows],
            max(r.attempts for r in res.rows) + 1,
            res.outcome,
            res.http_status,
            res.detail,
            res.latency_ms,
        )
        for res in results
        if res.outcome != "cancelled"
    ]
    if attempts and all(res.outcome == "delivered" and res.pause is None for res in results):
        # the usual batch, written in one statement (one round trip, atomic on its own): under load each round trip
        # waits its turn on a busy event loop and a busy Postgres, and senders wait for the write to be durable
        await db.execute(
            _DELIVERED,
            delivered,
            me,
            orjson.dumps([dict(zip(ATTEMPT_COLUMNS, a, strict=True)) for a in attempts]).decode(),
        )
        return []
    async with _connection(db) as conn, conn.transaction():
        if attempts:
            try:
                await conn.copy_records_to_table("delivery_attempts", records=attempts, columns=ATTEMPT_COLUMNS)
            except (OverflowError, ValueError, TypeError) as exc:  # as executemany reports a value it cannot encode
                raise ClientDataError(f"invalid input for COPY delivery_attempts: {type(exc).__name__}: {exc}") from exc
        if cancelled:
            await conn.execute(
                "UPDATE notifications SET state = 'cancelled', last_error = 'cancelled: subscriber deleted or"
                " suspended' WHERE id = ANY($1::bigint[]) AND coalesce(state, '') = 'sending'",
                cancelled,
            )
        if delivered:
            await conn.execute(_MARK_DELIVERED, delivered, me)
        if retries:
            await conn.execute(
                """
                UPDATE notifications n SET state = 'pending', attempts = attempts + 1, last_error = r.detail,
                    next_attempt_at = now() + make_interval(secs => r.delay), claimed_by = NULL
                FROM unnest($1::bigint[], $2::text[], $3::float8[]) AS r(id, detail, delay)
                WHERE n.id = r.id AND n.id = ANY($1::bigint[])  -- by key whatever the plan (test_notify_scale.py)
                  AND coalesce(state, '') = 'sending' AND (n.claimed_by IS NULL OR n.claimed_by = $4)
                """,
                [r[0] for r in retries],
                [r[1] for r in retries],
                [r[2] for r in retries],
                me,
            )
        if pauses:
            await conn.execute(
                """
                INSERT INTO target_pauses (target_key, paused_until)
                SELECT k, now() + make_interval(secs => s) FROM unnest($1::text[], $2::float8[]) AS t(k, s)
                ON CONFLICT (target_key) DO UPDATE
                    SET paused_until = GREATEST(target_pauses.paused_until, EXCLUDED.paused_until)
                """,
                list(pauses),
                list(pauses.values()),
            )
        for row, reason in dead:
            await dead_letter(conn, row, reason)
    return dead


async def pauses(pool: asyncpg.Pool, keys: Sequence[str]) -> dict[str, float]:
    """Seconds left of each target's Retry-After pause (only targets still paused)."""
    rows = await pool.fetch(
        "SELECT target_key, extract(epoch FROM paused_until - now()) AS left_s FROM target_pauses"
        " WHERE target_key = ANY($1::text[]) AND paused_until > now()",
        list(keys),
    )
    return {r["target_key"]: float(r["left_s"]) for r in rows}


async def _dead_letter(
    conn: asyncpg.Connection,
    *,
    notification_id: int,
    subscriber_id: str,
    org_id: str,
    channel: str,
    fingerprint: str,
    reason: str,
) -> bool:
    """Mark a notification being sent as dead, keep the failure for operators and publish NotificationDeadLettered
    through the outbox; False when it was no longer being sent."""
    reason = storable(reason)[:MAX_REASON]
    updated = await conn.fetchval(
        "UPDATE notifications SET state = 'dead', attempts = attempts + 1, last_error = $2"
        " WHERE id = $1 AND state = 'sending' RETURNING attempts",
        notification_id,
        reason,
    )
    if updated is None:
        return False
    await conn.execute(
        "INSERT INTO dead_letters (notification_id, subscriber_id, org_id, channel, fingerprint, attempts, reason)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        notification_id,
        subscriber_id,
        org_id,
        channel,
        fingerprint,
        updated,
        reason,
    )
    event = NotificationDeadLettered.build(
        source=SOURCE,
        subject=subscriber_id,
        data=NotificationDeadLetteredData(
            notification_id=str(notification_id),
            subscriber_id=subscriber_id,
            org_id=org_id,
            channel=channel,
            fingerprint=fingerprint,
            attempts=updated,
            reason=reason,
            dead_lettered_at=utcnow(),
        ),
    )
    await enqueue(conn, NOTIFY_DEADLETTER, subscriber_id, event)
    return True


async def dead_letter(conn: asyncpg.Connection, row: Claimed, reason: str) -> None:
    """Dead-letter a claimed notification; a resolved notice waiting for this firing one is parked with it."""
    done = await _dead_letter(
        conn,
        notification_id=row.id,
        subscriber_id=row.subscriber_id,
        org_id=row.org_id,
        channel=row.channel,
        fingerprint=row.alert.fingerprint,
        reason=reason,
    )
    if done and row.alert.status is AlertStatus.FIRING:
        await conn.execute(PARK_RESOLVED, row.subscriber_id, row.alert.fingerprint, row.alert.starts_at)


def in_state(alias: str, state: str) -> str:
    """`alias` is in `state`, in a form no partial index of one state's rows matches (`coalesce(state, '')`). With
    `state = 'pending'`, a plan made after an ANALYZE that found notifications empty may read one of those indexes
    whole (notifications_due_at: every organisation's queue) where an alert's few rows were wanted, by key or not:
    while empty they cost the same as a probe. Tested this way, a look-up has only the index its key serves (the
    natural key's, notifications_held; test_notify_scale.py: 20,000 entries read for each dead firing notice once
    20,000 were queued, before)."""
    return f"coalesce({alias}.state, '') = '{state}'"


# A resolved notice whose alert never had a firing notice delivered, and none is on its way, waits for a re-drive
# of the dead-lettered firing notice: it is parked (never due) rather than scanned by every claim meanwhile.
PARK_RESOLVED = f"""
    UPDATE notifications r SET next_attempt_at = 'infinity'
    WHERE r.subscriber_id = $1 AND r.fingerprint = $2 AND r.starts_at = $3 AND r.status = 'resolved'
      AND {in_state("r", "pending")} AND NOT EXISTS (
        SELECT 1 FROM notifications f WHERE f.subscriber_id = r.subscriber_id AND f.fingerprint = r.fingerprint
          AND f.starts_at = r.starts_at AND f.status = 'firing' AND f.state IN ('pending', 'sending', 'delivered'))
"""  # noqa: S608 (constant SQL)


async def redrive(pool: asyncpg.Pool, dead_letter_id: int, by: str) -> bool:
    """Queue a dead-lettered notification again with a fresh retry window; False if unknown or already done."""
    async with pool.acquire() as conn, conn.transaction():
        notification_id = await conn.fetchval(
            "UPDATE dead_letters SET redriven_at = now(), redriven_by = $2 WHERE id = $1 AND redriven_at IS NULL"
            " RETURNING notification_id",
            dead_letter_id,
            by,
        )
        if notification_id is None:
            return False
        revived = await conn.fetchrow(
            "UPDATE notifications SET state = 'pending', next_attempt_at = now(), window_from = now()"
            " WHERE id = $1 AND state = 'dead' RETURNING subscriber_id, fingerprint, starts_at, status",
            notification_id,
        )
        if revived is not None and revived["status"] == "firing":
            # its parked resolved notice is due again; the claim still holds it until the firing one is delivered
            await conn.execute(
                "UPDATE notifications SET next_attempt_at = now(), window_from = now() WHERE subscriber_id = $1"
                " AND fingerprint = $2 AND starts_at = $3 AND status = 'resolved' AND state = 'pending'"
                " AND next_attempt_at = 'infinity'",
                revived["subscriber_id"],
                revived["fingerprint"],
                revived["starts_at"],
            )
        await conn.execute(f"NOTIFY {WAKE}")
        return True
