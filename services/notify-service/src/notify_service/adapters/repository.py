"""Postgres access for intake: active-alert state and one queued notification per matching subscriber."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import asyncpg

from care_schemas.events.alert import Alert, AlertFiring, AlertResolved, AlertStatus
from notify_service.adapters.queue import WAKE, Claimed, Handing

# A subscriber's group: its group_by labels' values (Alertmanager's semantics; domain/grouping.py), by default the
# cluster, every alert alone for ['...'], one group for [].
_LABEL = """
    CASE g.name WHEN 'alertname' THEN i.alert ->> 'rule' WHEN 'org_id' THEN i.org_id
                WHEN 'project_id' THEN i.project_id WHEN 'source' THEN COALESCE(i.alert ->> 'source', 'platform')
                WHEN 'cluster_id' THEN COALESCE(i.cluster_id, i.alert -> 'labels' ->> 'cluster_id')
                ELSE COALESCE(i.alert -> 'labels' ->> g.name, CASE WHEN g.name = 'severity' THEN i.severity END) END
"""
_GROUP = f"""
    s.id || '/' || CASE WHEN s.group_by IS NULL THEN COALESCE(i.cluster_id, '')
                        WHEN s.group_by = ARRAY['...'] THEN '=' || i.fingerprint
                        ELSE COALESCE((SELECT jsonb_agg({_LABEL} ORDER BY g.o)::text
                                       FROM unnest(s.group_by) WITH ORDINALITY AS g(name, o)), '') END
"""  # noqa: S608 (constant SQL, values bound)
# `incoming` is MATERIALIZED so that each alert's JSON text is parsed once: inlined (Postgres inlines a CTE used
# once), every `alert ->> ...` below parsed the whole text again, and the insert ran at a third of the speed.
_INSERT = f"""
    WITH incoming AS MATERIALIZED (
        SELECT t.alert::jsonb AS alert, t.episode FROM unnest($1::text[], $2::int[]) AS t(alert, episode)
    ), i AS (
        SELECT alert, episode, alert ->> 'org_id' AS org_id, alert ->> 'project_id' AS project_id,
               alert ->> 'cluster_id' AS cluster_id, alert ->> 'fingerprint' AS fingerprint,
               alert ->> 'severity' AS severity, (alert ->> 'starts_at')::timestamptz AS starts_at,
               alert ->> 'rule' AS rule
        FROM incoming
    ), inserted AS (
        INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,
                                   alert, next_attempt_at, window_from, part, episode, state, claimed_by)
        SELECT s.id, i.org_id, s.type, {_GROUP}, i.fingerprint, $3, i.severity, i.starts_at, i.alert,
               {{due}}, now() + make_interval(secs => $5), s.part, i.episode, {{state}}
        FROM i JOIN subscribers s
          ON s.org_id = i.org_id AND s.project_id = i.project_id AND s.state = 'active'
         AND (s.cluster_id IS NULL OR s.cluster_id = i.cluster_id)
         AND (s.severities IS NULL OR i.severity = ANY (s.severities))
         AND (s.rules IS NULL OR i.rule = ANY (s.rules))
        LEFT JOIN plan_projection p ON p.org_id = s.org_id
        WHERE COALESCE(p.entitlements -> 'alert_channels', $4::jsonb) ? s.type {{only_after_firing}}
        ON CONFLICT DO NOTHING
        RETURNING {{returning}}
    )
    {{select}}
"""  # noqa: S608 (constant SQL, values bound)
_QUEUED = "'pending', NULL"
_COUNT = ("1", "SELECT count(*) FROM inserted")
_SAME_FIRING = """
    SELECT 1 FROM notifications f WHERE f.subscriber_id = s.id AND f.fingerprint = i.fingerprint
      AND f.starts_at = i.starts_at AND f.episode = i.episode AND f.status = 'firing'
"""
_DUE_AFTER_WINDOW = "now() + make_interval(secs => $5)"
# A resolved notice whose firing notice was dead-lettered (none delivered, none on its way) waits for a re-drive
# of that firing notice, parked (never due) instead of being scanned by every claim meanwhile.
_DUE_OR_PARKED = f"""
    CASE WHEN EXISTS ({_SAME_FIRING} AND f.state IN ('pending', 'sending', 'delivered'))
         THEN now() + make_interval(secs => $5) ELSE 'infinity' END
"""
INSERT_FIRING = _INSERT.format(
    due=_DUE_AFTER_WINDOW, only_after_firing="", state=_QUEUED, returning=_COUNT[0], select=_COUNT[1]
)
# The same, due at once (no grouping window), with a dispatcher in this process holding partitions $7 ($6 names it):
# a first firing notice of a target in those partitions whose backlog is not full (not in $8) is inserted as being
# sent by it, and returned to be handed to its senders; no claim has to find it. Every inserted row is returned, so
# that the caller counts them (a round holds one event per alert: organisation and fingerprint name its alert).
_HANDED = "s.part = ANY($7) AND s.id <> ALL($8) AND i.episode = 0"
INSERT_FIRING_HANDED = _INSERT.format(
    due=_DUE_AFTER_WINDOW,
    only_after_firing="",
    state=f"CASE WHEN {_HANDED} THEN 'sending' ELSE 'pending' END, CASE WHEN {_HANDED} THEN $6 END",
    returning="id, subscriber_id, org_id, channel, grp, window_from, part, state, fingerprint",
    select="SELECT * FROM inserted",
)
# a resolved notice only for subscribers that got (or are getting) the firing one
INSERT_RESOLVED = _INSERT.format(
    due=_DUE_OR_PARKED,
    only_after_firing=f"AND EXISTS ({_SAME_FIRING} AND f.state <> 'cancelled')",
    state=_QUEUED,
    returning=_COUNT[0],
    select=_COUNT[1],
)

# The active-alert state: a later start wins (a new alert, episode 0); for the same start resolved wins over firing,
# so a firing event that arrives late behind its resolved event does not undo it, unless it happened after the
# resolved event: then the alert fired again with the same start (a new episode, notified at once).
STORE = """
    WITH incoming AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                             $7::timestamptz[])
            AS t(org_id, fingerprint, status, starts_at, alert, event_id, event_time)
    ), upserted AS (
        INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id, event_time)
        SELECT org_id, fingerprint, status, starts_at, alert::jsonb, event_id, event_time FROM incoming
        ON CONFLICT (org_id, fingerprint) DO UPDATE SET status = EXCLUDED.status, starts_at = EXCLUDED.starts_at,
            alert = EXCLUDED.alert, event_id = EXCLUDED.event_id, updated_at = now(),
            event_time = CASE WHEN alerts.starts_at = EXCLUDED.starts_at AND alerts.status = EXCLUDED.status
                              THEN GREATEST(alerts.event_time, EXCLUDED.event_time) ELSE EXCLUDED.event_time END,
            episode = CASE WHEN alerts.starts_at < EXCLUDED.starts_at THEN 0
                           WHEN alerts.status = 'resolved' AND EXCLUDED.status = 'firing' THEN alerts.episode + 1
                           ELSE alerts.episode END
        WHERE alerts.starts_at < EXCLUDED.starts_at OR (alerts.starts_at = EXCLUDED.starts_at AND (
              alerts.status = EXCLUDED.status OR EXCLUDED.status = 'resolved'
              OR EXCLUDED.event_time > alerts.event_time))
        RETURNING org_id, fingerprint, status, starts_at, episode
    )
    SELECT i.fingerprint, i.org_id, COALESCE(u.status, a.status) AS status,
           COALESCE(u.starts_at, a.starts_at) AS starts_at, COALESCE(u.episode, a.episode, 0) AS episode,
           CASE WHEN u.org_id IS NULL AND a.status = 'resolved' AND a.starts_at = i.starts_at
                THEN a.alert::text END AS resolved_alert
    FROM incoming i
    LEFT JOIN upserted u ON u.org_id = i.org_id AND u.fingerprint = i.fingerprint
    LEFT JOIN alerts a ON a.org_id = i.org_id AND a.fingerprint = i.fingerprint
"""


def _rounds(events: Sequence[AlertFiring | AlertResolved]) -> list[list[AlertFiring | AlertResolved]]:
    """The batch in rounds of at most one event per alert, each alert's events in the order they happened (a batch
    may carry an alert's firing, resolved and firing again)."""
    order = sorted(range(len(events)), key=lambda k: (events[k].time or _NEVER, k))
    rounds: list[list[AlertFiring | AlertResolved]] = []
    seen: dict[tuple[str, str], int] = {}
    for k in order:
        e = events[k]
        key = (e.data.org_id, e.data.fingerprint)
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(e)
    return rounds


_NEVER = datetime.min.replace(tzinfo=UTC)


async def take_in(
    conn: asyncpg.Connection,
    events: Sequence[AlertFiring | AlertResolved],
    *,
    basic: list[str],
    window_s: float,
    store_only: Collection[str] = (),
    handing: Handing | None = None,
) -> tuple[int, list[Claimed]]:
    """Store the alerts' state and queue one notification per matching, entitled subscriber (the caller's
    transaction); firing notices first, then resolved ones (only for subscribers that had the firing notice).
    Events whose id is in `store_only` are stored but queue nothing (a Clinic alert the plan does not include).
    How many were queued, and with `handing` (a dispatcher of this process, no grouping window) the notifications
    inserted as being sent by it, to hand to its senders after the commit (INSERT_FIRING_HANDED)."""
    queued = 0
    handed: list[Claimed] = []
    for batch in _rounds(events):
        now = datetime.now(UTC)
        texts = [e.data.model_dump_json() for e in batch]
        final = await conn.fetch(
            STORE,
            [e.data.org_id for e in batch],
            [e.data.fingerprint for e in batch],
            [e.data.status.value for e in batch],
            [e.data.starts_at for e in batch],
            texts,
            [e.id for e in batch],
            [e.time or now for e in batch],
        )
        firing: tuple[list[str], list[int]] = ([], [])
        firing_alerts: dict[tuple[str, str], Alert] = {}
        resolved: tuple[list[str], list[int]] = ([], [])
        for e, text, row in zip(batch, texts, final, strict=True):
            if e.id in store_only:
                continue
            same_start = row["starts_at"] == e.data.starts_at
            episode = row["episode"] if same_start else 0
            if e.data.status is AlertStatus.RESOLVED:
                resolved[0].append(text)
                resolved[1].append(episode)
                continue
            firing[0].append(text)
            firing[1].append(episode)
            firing_alerts[(e.data.org_id, e.data.fingerprint)] = e.data
            if row["resolved_alert"] is not None:  # late behind its resolved event: firing, then resolved
                resolved[0].append(row["resolved_alert"])
                resolved[1].append(episode)
        if firing[0] and handing is not None and window_s == 0:
            args = (handing.me, handing.parts, handing.full)
            rows = await conn.fetch(INSERT_FIRING_HANDED, *firing, AlertStatus.FIRING.value, basic, 0.0, *args)
            queued += len(rows)
            handed += [
                _claimed(r, firing_alerts[(r["org_id"], r["fingerprint"])]) for r in rows if r["state"] == "sending"
            ]
        elif firing[0]:
            queued += await conn.fetchval(INSERT_FIRING, *firing, AlertStatus.FIRING.value, basic, window_s)
        if resolved[0]:
            queued += await conn.fetchval(INSERT_RESOLVED, *resolved, AlertStatus.RESOLVED.value, basic, window_s)
    if queued > len(handed):  # rows for claims to find; those handed over are this dispatcher's already
        await conn.execute(f"NOTIFY {WAKE}")
    return queued, handed


def _claimed(row: asyncpg.Record, alert: Alert) -> Claimed:
    """A notification inserted as being sent, as a claim would have returned it (first attempt)."""
    return Claimed(
        row["id"],
        row["subscriber_id"],
        row["org_id"],
        row["channel"],
        row["grp"],
        0,
        row["window_from"],
        alert,
        row["part"],
    )


REPEATS_LOOP = "repeats"
REPEAT_BATCH = 1000
# Delivered firing notices whose repeat is due, oldest first, read through an index that holds only notices not yet
# looked at (`repeated`): the cost of a check is what is due, not the history. Each is looked at once: marked
# repeated, and a new round queued when its alert still fires with that start and episode, it is the latest notice
# of that alert for the subscriber (a severity change makes a newer one), and the subscriber is active. Records an
# operator parked are left out until re-driven.
_DUE = """
    WITH due AS (
        SELECT n.id, n.subscriber_id, n.org_id, n.channel, n.grp, n.fingerprint, n.starts_at, n.round, n.episode
        FROM notifications n
        WHERE n.status = 'firing' AND n.state = 'delivered' AND NOT n.repeated
          AND n.delivered_at <= now() - make_interval(secs => $1) AND ($2::bigint IS NULL OR n.id = $2)
          AND NOT EXISTS (SELECT 1 FROM alert_mutes m WHERE m.org_id = n.org_id AND m.fingerprint = n.fingerprint)
          AND NOT EXISTS (SELECT 1 FROM alert_acks k WHERE k.org_id = n.org_id AND k.fingerprint = n.fingerprint
                          AND k.starts_at = n.starts_at AND k.episode = n.episode)
          AND NOT EXISTS (SELECT 1 FROM parked p WHERE p.loop = 'repeats' AND p.key = n.id::text
                          AND p.redriven_at IS NULL)
        ORDER BY n.delivered_at
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    )
"""
_QUEUE = """
    , looked_at AS (
        UPDATE notifications n SET repeated = true FROM due d WHERE n.id = d.id
    ), inserted AS (
        INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,
                                   round, alert, part, episode)
        SELECT d.subscriber_id, d.org_id, d.channel, d.grp, d.fingerprint, 'firing', a.alert ->> 'severity',
               d.starts_at, d.round + 1, a.alert, s.part, d.episode
        FROM due d
        JOIN alerts a ON a.org_id = d.org_id AND a.fingerprint = d.fingerprint AND a.status = 'firing'
                     AND a.starts_at = d.starts_at AND a.episode = d.episode
        JOIN subscribers s ON s.id = d.subscriber_id AND s.state = 'active'
        WHERE NOT EXISTS (SELECT 1 FROM notifications x WHERE x.subscriber_id = d.subscriber_id
                            AND x.fingerprint = d.fingerprint AND x.starts_at = d.starts_at AND x.status = 'firing'
                            AND x.id > d.id)
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM due) AS looked, (SELECT count(*) FROM inserted) AS queued
"""
_CANDIDATES = _DUE + " SELECT id FROM due ORDER BY id"  # noqa: S608  (constant SQL, values bound)


async def queue_repeats(conn: asyncpg.Connection, interval_s: float, only: int | None = None) -> int:
    """A new round for every alert still firing whose last notice to a subscriber is `interval_s` old (or only the
    notice `only`), a batch at a time until none is due; how many were queued."""
    queued = 0
    while True:
        row = await conn.fetchrow(_DUE + _QUEUE, interval_s, only, REPEAT_BATCH)
        queued += row["queued"]
        if row["looked"] < REPEAT_BATCH:
            break
    if queued:
        await conn.execute(f"NOTIFY {WAKE}")
    return int(queued)


async def repeat_candidates(conn: asyncpg.Connection, interval_s: float) -> list[int]:
    """The notices that are due a repeat (ids), for queueing them one by one."""
    return [r["id"] for r in await conn.fetch(_CANDIDATES, interval_s, None, REPEAT_BATCH)]
