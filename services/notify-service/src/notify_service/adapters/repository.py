"""Postgres access for intake: active-alert state and one queued notification per matching subscriber."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from care_schemas.events.alert import Alert, AlertFiring, AlertResolved, AlertStatus

WAKE = "notifications"

_MATCH = """
    FROM incoming i JOIN subscribers s
      ON s.org_id = i.org_id AND s.project_id = i.project_id AND s.state = 'active'
     AND (s.cluster_id IS NULL OR s.cluster_id = i.cluster_id)
     AND (s.severities IS NULL OR i.severity = ANY (s.severities))
     AND (s.rules IS NULL OR i.rule = ANY (s.rules))
    LEFT JOIN plan_projection p ON p.org_id = s.org_id
    WHERE COALESCE(p.entitlements -> 'alert_channels', $8::jsonb) ? s.type
"""
_INCOMING = """
    WITH incoming AS (
        SELECT org_id, project_id, cluster_id, fingerprint, severity, starts_at, alert::jsonb AS alert, rule
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[],
                    $9::text[])
            AS t(org_id, project_id, cluster_id, fingerprint, severity, starts_at, alert, rule)
    ), inserted AS (
        INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,
                                   alert, next_attempt_at, window_from)
        SELECT s.id, i.org_id, s.type, s.id || '/' || COALESCE(i.cluster_id, ''), i.fingerprint, $10, i.severity,
               i.starts_at, i.alert, {next_attempt_at}, now() + make_interval(secs => $11)
"""
_INSERTED = " ON CONFLICT DO NOTHING RETURNING 1 ) SELECT count(*) FROM inserted"
_DUE = "now() + make_interval(secs => $11)"
# A resolved notice whose firing notice was dead-lettered (none delivered, none on its way) waits for a re-drive
# of that firing notice, parked (never due) instead of being scanned by every claim meanwhile.
_DUE_OR_PARKED = """
    CASE WHEN EXISTS (SELECT 1 FROM notifications f WHERE f.subscriber_id = s.id AND f.fingerprint = i.fingerprint
                      AND f.starts_at = i.starts_at AND f.status = 'firing'
                      AND f.state IN ('pending', 'sending', 'delivered'))
         THEN now() + make_interval(secs => $11) ELSE 'infinity' END
"""


def _rank(alert: Alert) -> tuple[object, bool]:
    """Which state of an alert wins: the later start, and for the same start, resolved over firing."""
    return (alert.starts_at, alert.status is AlertStatus.RESOLVED)


def _latest(events: Sequence[AlertFiring | AlertResolved]) -> list[tuple[str, Alert]]:
    """The winning event per alert in the batch (a batch may carry an alert's firing and resolved, in any order)."""
    latest: dict[tuple[str, str], tuple[str, Alert]] = {}
    for e in events:
        key = (e.data.org_id, e.data.fingerprint)
        if key not in latest or _rank(e.data) >= _rank(latest[key][1]):
            latest[key] = (e.id, e.data)
    return list(latest.values())


async def store_alerts(conn: asyncpg.Connection, events: Sequence[AlertFiring | AlertResolved]) -> None:
    """Upsert the active-alert state: a later start wins, and for the same start resolved wins over firing, so a
    resolved event that overtook its firing event is not undone by it (whatever the arrival order)."""
    rows = _latest(events)
    await conn.execute(
        """
        INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id)
        SELECT org_id, fingerprint, status, starts_at, alert::jsonb, event_id
        FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[])
            AS t(org_id, fingerprint, status, starts_at, alert, event_id)
        ON CONFLICT (org_id, fingerprint) DO UPDATE SET status = EXCLUDED.status, starts_at = EXCLUDED.starts_at,
            alert = EXCLUDED.alert, event_id = EXCLUDED.event_id, updated_at = now()
        WHERE alerts.starts_at < EXCLUDED.starts_at OR (alerts.starts_at = EXCLUDED.starts_at
              AND NOT (alerts.status = 'resolved' AND EXCLUDED.status = 'firing'))
        """,
        [a.org_id for _, a in rows],
        [a.fingerprint for _, a in rows],
        [a.status.value for _, a in rows],
        [a.starts_at for _, a in rows],
        [a.model_dump_json() for _, a in rows],
        [event_id for event_id, _ in rows],
    )


async def _insert(
    conn: asyncpg.Connection, alerts: Sequence[Alert], status: AlertStatus, basic: list[str], window_s: float
) -> int:
    if not alerts:
        return 0
    only_after_firing = (
        """
        AND EXISTS (SELECT 1 FROM notifications f WHERE f.subscriber_id = s.id AND f.fingerprint = i.fingerprint
                    AND f.starts_at = i.starts_at AND f.status = 'firing' AND f.state <> 'cancelled')
        """
        if status is AlertStatus.RESOLVED
        else ""
    )
    incoming = _INCOMING.format(next_attempt_at=_DUE_OR_PARKED if status is AlertStatus.RESOLVED else _DUE)
    sql = incoming + _MATCH + only_after_firing + _INSERTED
    count = await conn.fetchval(
        sql,
        [a.org_id for a in alerts],
        [a.project_id for a in alerts],
        [a.cluster_id for a in alerts],
        [a.fingerprint for a in alerts],
        [a.severity.value for a in alerts],
        [a.starts_at for a in alerts],
        [a.model_dump_json() for a in alerts],
        basic,
        [a.rule for a in alerts],
        status.value,
        window_s,
    )
    return int(count)


async def _resolved_already(conn: asyncpg.Connection, firing: Sequence[Alert]) -> list[Alert]:
    """The stored resolved state of these firing alerts, where it has the same start (the resolved event won)."""
    if not firing:
        return []
    rows = await conn.fetch(
        """
        SELECT a.alert FROM alerts a
        JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS t(org_id, fingerprint, starts_at)
          ON a.org_id = t.org_id AND a.fingerprint = t.fingerprint AND a.starts_at = t.starts_at
        WHERE a.status = 'resolved'
        """,
        [a.org_id for a in firing],
        [a.fingerprint for a in firing],
        [a.starts_at for a in firing],
    )
    return [Alert.model_validate(r["alert"]) for r in rows]


async def enqueue_notifications(
    conn: asyncpg.Connection, events: Sequence[AlertFiring | AlertResolved], *, basic: list[str], window_s: float
) -> int:
    """Queue firing notices first, then resolved ones (only for subscribers that had the firing notice)."""
    alerts = [e.data for e in events]
    firing = [a for a in alerts if a.status is AlertStatus.FIRING]
    resolved = [a for a in alerts if a.status is AlertStatus.RESOLVED]
    # a firing event late behind its resolved one (same start): the stored state stays resolved, and the resolved
    # notice follows the firing one, so the outcome is the same whatever the arrival order
    known = {(a.org_id, a.fingerprint, a.starts_at) for a in resolved}
    resolved += [
        a for a in await _resolved_already(conn, firing) if (a.org_id, a.fingerprint, a.starts_at) not in known
    ]
    queued = await _insert(conn, firing, AlertStatus.FIRING, basic, window_s)
    queued += await _insert(conn, resolved, AlertStatus.RESOLVED, basic, window_s)
    if queued:
        await conn.execute(f"NOTIFY {WAKE}")
    return queued


REPEATS_LOOP = "repeats"
# the latest notice per (subscriber, alert, start), for alerts still firing, skipping parked ones (keyed by the id
# of that latest notice: a candidate that could not be queued stays out until an operator re-drives it)
_LATEST = """
    WITH latest AS (
        SELECT DISTINCT ON (n.subscriber_id, n.fingerprint, n.starts_at)
               n.id, n.subscriber_id, n.org_id, n.channel, n.grp, n.fingerprint, n.starts_at, n.round, n.state,
               n.delivered_at
        FROM notifications n
        WHERE n.status = 'firing'
        ORDER BY n.subscriber_id, n.fingerprint, n.starts_at, n.round DESC, n.id DESC
    ), due AS (
        SELECT l.* FROM latest l
        JOIN alerts a ON a.org_id = l.org_id AND a.fingerprint = l.fingerprint AND a.status = 'firing'
                     AND a.starts_at = l.starts_at
        JOIN subscribers s ON s.id = l.subscriber_id AND s.state = 'active'
        WHERE l.state = 'delivered' AND l.delivered_at <= now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = 'repeats' AND p.key = l.id::text
                          AND p.redriven_at IS NULL)
    )
"""
_INSERT_REPEATS = """
    , inserted AS (
        INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,
                                   round, alert)
        SELECT d.subscriber_id, d.org_id, d.channel, d.grp, d.fingerprint, 'firing', a.alert ->> 'severity',
               d.starts_at, d.round + 1, a.alert
        FROM due d JOIN alerts a ON a.org_id = d.org_id AND a.fingerprint = d.fingerprint
        WHERE $2::bigint IS NULL OR d.id = $2
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT count(*) FROM inserted
"""
_CANDIDATES = _LATEST + " SELECT id FROM due ORDER BY id"  # noqa: S608  (constant SQL, values bound)


async def queue_repeats(conn: asyncpg.Connection, interval_s: float, only: int | None = None) -> int:
    """A new round for every alert still firing whose last notice to a subscriber is `interval_s` old (or only the
    one whose latest notice is `only`)."""
    count = await conn.fetchval(_LATEST + _INSERT_REPEATS, interval_s, only)
    if count:
        await conn.execute(f"NOTIFY {WAKE}")
    return int(count)


async def repeat_candidates(conn: asyncpg.Connection, interval_s: float) -> list[int]:
    """The latest notices that are due a repeat (ids), for queueing them one by one."""
    return [r["id"] for r in await conn.fetch(_CANDIDATES, interval_s)]
