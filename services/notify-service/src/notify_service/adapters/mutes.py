"""Postgres side of muting: hold an alert's queued notifications while a silence or window mutes it, release them
when it ends, cancel what must never go out, keep `alert_mutes` (read by the repeat scheduler) and `mute_checks`
(when to look again). Every change is written to the delivery log, so owners see why nothing was sent."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import asyncpg

from carekit.db import BY_KEY_LOCAL
from notify_service.adapters.queue import WAKE, in_state

LOCK_KEY = "notify-mutes:"  # also in notify_take_by_partition (migrations/011)
_INTAKE_LOCKS = (
    f"SELECT {BY_KEY_LOCAL}, pg_advisory_xact_lock(hashtextextended($2 || o, 0)),"  # noqa: S608 (constant SQL)
    " pg_advisory_xact_lock_shared(hashtext($3 || o)) FROM unnest($1::text[]) AS o"
)
INTAKE_KEY = "notify-intake:"  # also in notify_take_by_partition
CHECKS = "mute_checks"


async def lock(conn: asyncpg.Connection, orgs: Sequence[str]) -> None:
    """Serialise changes of mutes per organisation: silence and window changes and the mute loop take this lock
    exclusive (in org order), the intake shared (`lock_for_intake`); so a silence never misses a notification queued
    beside it. The same statement makes the rest of the transaction plan its statements by key
    (`carekit.db.BY_KEY_LOCAL`): the whole-organisation checks that take it (the mute loop, silence and window
    changes) run on pool connections, where plans made after an ANALYZE that found the tables empty read every
    organisation's notifications on each check (test_notify_scale.py)."""
    await conn.execute(
        f"SELECT {BY_KEY_LOCAL}, pg_advisory_xact_lock(hashtext($2 || o)) FROM unnest($1::text[]) AS o",  # noqa: S608
        sorted(set(orgs)),  # in the sorted order given
        LOCK_KEY,
    )


async def lock_for_intake(conn: asyncpg.Connection, orgs: Collection[str]) -> None:
    """The intake's locks of these organisations, in sorted order, until the transaction ends: the intake's own,
    exclusive, so that one organisation's intake transactions (HTTP requests and Kafka batches alike) take turns
    instead of upserting the same alerts in different orders and deadlocking; and the mute lock (`lock`), shared.
    The same statement makes the rest of the transaction plan its statements by key (`carekit.db.BY_KEY_LOCAL`,
    the intake's first statement). The usual intake takes the same locks inside its one call
    (`notify_take_by_partition`, migrations/011_intake_hands_by_partition.sql, which names these keys: change them
    together)."""
    await conn.execute(
        _INTAKE_LOCKS,
        sorted(set(orgs)),
        INTAKE_KEY,
        LOCK_KEY,
    )


async def candidates(conn: asyncpg.Connection, org: str, only: Sequence[str] | None) -> list[asyncpg.Record]:
    """The alerts whose mute state matters: `only` these (intake), else every firing one and every one still
    muted or holding notifications."""
    if only is not None:
        found: list[asyncpg.Record] = await conn.fetch(
            "SELECT fingerprint, status, alert FROM alerts WHERE org_id = $1 AND fingerprint = ANY($2::text[])",
            org,
            list(only),
        )
        return found
    # OFFSET 0 keeps each EXISTS a probe by key: as a join, a plan made after statistics that found the tables
    # empty read whole indexes of alert_mutes and notifications on every check (test_notify_scale.py); `in_state`
    # leaves notifications_held the one index it may use
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT a.fingerprint, a.status, a.alert FROM alerts a
        WHERE a.org_id = $1 AND (a.status = 'firing'
           OR EXISTS (SELECT 1 FROM alert_mutes m WHERE m.org_id = a.org_id AND m.fingerprint = a.fingerprint
                      OFFSET 0)
           OR EXISTS (SELECT 1 FROM notifications n WHERE n.org_id = a.org_id AND n.fingerprint = a.fingerprint
                      AND n.held_by IS NOT NULL AND {in_state("n", "pending")} OFFSET 0))
        """,  # noqa: S608 (constant SQL)
        org,
    )
    return rows


async def hold(conn: asyncpg.Connection, org: str, reasons: Mapping[str, str]) -> int:
    """Hold the alerts' queued notifications (not those already parked for a dead firing notice)."""
    if not reasons:
        return 0
    sql = """
        WITH changed AS (
            UPDATE notifications n SET held_by = t.reason, next_attempt_at = 'infinity'
            FROM unnest($2::text[], $3::text[]) AS t(fingerprint, reason)
            WHERE n.org_id = $1 AND n.fingerprint = t.fingerprint AND n.state = 'pending' AND n.held_by IS NULL
              AND n.next_attempt_at <> 'infinity'
            RETURNING n.id, n.subscriber_id, n.channel, n.fingerprint, n.attempts, t.reason AS detail
        )
        INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids, fingerprints, attempt,
                                       outcome, detail, latency_ms)
        SELECT $1, subscriber_id, channel, ARRAY[id], ARRAY[fingerprint], attempts, 'silenced', detail, 0 FROM changed
    """
    status = await conn.execute(sql, org, list(reasons), list(reasons.values()))
    return int(status.split()[-1])


async def release(conn: asyncpg.Connection, org: str, fingerprints: Sequence[str]) -> int:
    """The mute is over: held notifications are due now (and their retry window starts now)."""
    if not fingerprints:
        return 0
    sql = f"""
        WITH changed AS (
            UPDATE notifications n SET held_by = NULL, next_attempt_at = now(), window_from = now()
            WHERE n.org_id = $1 AND n.fingerprint = ANY($2::text[]) AND n.held_by IS NOT NULL
              AND {in_state("n", "pending")}
            RETURNING n.id, n.subscriber_id, n.channel, n.fingerprint, n.attempts,
                      'no longer muted (' || left(n.held_by, 300) || '); sending now' AS detail
        )
        INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids, fingerprints, attempt,
                                       outcome, detail, latency_ms)
        SELECT $1, subscriber_id, channel, ARRAY[id], ARRAY[fingerprint], attempts, 'released', detail, 0 FROM changed
    """  # noqa: S608 (constant SQL)
    status = await conn.execute(sql, org, list(fingerprints))
    released = int(status.split()[-1])
    if released:
        await conn.execute(f"NOTIFY {WAKE}")
    return released


# The organisation's pending notifications of alerts $2, each subscriber's and alert's by the natural key's index
# (the only one `in_state` leaves them): found by organisation, a plan made after an ANALYZE that found
# notifications empty read every organisation's pending rows (test_notify_scale.py)
_ORGS_PENDING = f"""
    SELECT r.id, r.subscriber_id, r.fingerprint, r.starts_at, r.status, r.round
    FROM subscribers s CROSS JOIN unnest($2::text[]) AS t(fingerprint)
    CROSS JOIN LATERAL (SELECT r.id, r.subscriber_id, r.fingerprint, r.starts_at, r.status, r.round
                        FROM notifications r WHERE r.subscriber_id = s.id AND r.fingerprint = t.fingerprint
                          AND r.org_id = $1 AND {in_state("r", "pending")} OFFSET 0) AS r
    WHERE s.org_id = $1
"""  # noqa: S608 (constant SQL)

_CANCEL_REPEATS = f"""
    UPDATE notifications SET state = 'cancelled', held_by = NULL, last_error = 'cancelled: resolved while muted'
    WHERE id = ANY(ARRAY(SELECT r.id FROM ({_ORGS_PENDING}) AS r WHERE r.status = 'firing' AND r.round > 0))
      AND {in_state("notifications", "pending")}
"""  # noqa: S608 (constant SQL)


async def cancel_never_sent(conn: asyncpg.Connection, org: str, fingerprints: Sequence[str]) -> int:
    """Alerts that resolved while muted: what was never announced is not announced now (their firing and resolved
    notices are cancelled), and repeats still queued for them are dropped. A resolved notice whose firing notice
    went out stays (held until the mute ends), so every firing message shown gets its resolution.

    Each notice is found by key whatever the plan (`_ORGS_PENDING`, an OFFSET 0 probe for its firing notice, then
    `id = ANY`): planned after an ANALYZE that found notifications empty, each check with an alert resolved while
    muted read every pending row once per statement and the natural key's index whole for each notice (80,000
    entries a check once 20,000 were queued; test_notify_scale.py)."""
    if not fingerprints:
        return 0
    sql = f"""
        WITH changed AS (
            UPDATE notifications n SET state = 'cancelled', held_by = NULL,
                   last_error = 'cancelled: resolved while muted, never notified'
            WHERE n.id = ANY(ARRAY(
                SELECT r.id FROM ({_ORGS_PENDING}) AS r
                WHERE NOT EXISTS (
                    SELECT 1 FROM notifications f WHERE f.subscriber_id = r.subscriber_id
                      AND f.fingerprint = r.fingerprint AND f.starts_at = r.starts_at AND f.status = 'firing'
                      AND f.state IN ('sending', 'delivered') OFFSET 0)))
              AND {in_state("n", "pending")}
            RETURNING n.id, n.subscriber_id, n.channel, n.fingerprint, n.attempts,
                      'resolved while muted; its firing notice was never sent, so neither is sent' AS detail
        )
        INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids, fingerprints, attempt,
                                       outcome, detail, latency_ms)
        SELECT $1, subscriber_id, channel, ARRAY[id], ARRAY[fingerprint], attempts, 'cancelled', detail, 0 FROM changed
    """  # noqa: S608 (constant SQL)
    status = await conn.execute(sql, org, list(fingerprints))
    repeats = await conn.execute(_CANCEL_REPEATS, org, list(fingerprints))
    return int(status.split()[-1]) + int(repeats.split()[-1])


async def set_mutes(conn: asyncpg.Connection, org: str, muted: Mapping[str, str], unmuted: Sequence[str]) -> None:
    if muted:
        await conn.execute(
            "INSERT INTO alert_mutes (org_id, fingerprint, reason)"
            " SELECT $1, f, r FROM unnest($2::text[], $3::text[]) AS t(f, r)"
            " ON CONFLICT (org_id, fingerprint) DO UPDATE SET reason = EXCLUDED.reason",
            org,
            list(muted),
            list(muted.values()),
        )
    if unmuted:
        await conn.execute(
            "DELETE FROM alert_mutes WHERE org_id = $1 AND fingerprint = ANY($2::text[])", org, list(unmuted)
        )


async def schedule(conn: asyncpg.Connection, org: str, due_at: datetime | None) -> None:
    """Look at the organisation again at `due_at` (None: nothing will change by itself)."""
    if due_at is None:
        await conn.execute("DELETE FROM mute_checks WHERE org_id = $1", org)
        return
    await conn.execute(
        "INSERT INTO mute_checks (org_id, due_at) VALUES ($1, $2)"
        " ON CONFLICT (org_id) DO UPDATE SET due_at = EXCLUDED.due_at",
        org,
        due_at,
    )
    await conn.execute(f"NOTIFY {CHECKS}")


async def due(conn: asyncpg.Connection, loop: str, limit: int = 100) -> list[str]:
    """Organisations whose mutes must be looked at now (not parked by the loop)."""
    rows = await conn.fetch(
        """
        SELECT c.org_id FROM mute_checks c WHERE c.due_at <= now()
          AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = $1 AND p.key = c.org_id AND p.redriven_at IS NULL)
        ORDER BY c.due_at LIMIT $2
        """,
        loop,
        limit,
    )
    return [r["org_id"] for r in rows]


async def claim_check(conn: asyncpg.Connection, org: str) -> bool:
    """Take the organisation's due check for this transaction (another instance may be on it)."""
    found = await conn.fetchval(
        "SELECT 1 FROM mute_checks WHERE org_id = $1 AND due_at <= now() FOR UPDATE SKIP LOCKED", org
    )
    return found is not None


async def muted_now(conn: asyncpg.Connection | asyncpg.Pool, org: str, fingerprints: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT fingerprint, reason FROM alert_mutes WHERE org_id = $1 AND fingerprint = ANY($2::text[])",
        org,
        list(fingerprints),
    )
    return {r["fingerprint"]: r["reason"] for r in rows}
