"""Postgres access for intake: active-alert state and one queued notification per matching subscriber."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from care_schemas.events.alert import Alert, AlertFiring, AlertResolved
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
_SUBSCRIBED = """
        FROM i JOIN subscribers s
          ON s.org_id = i.org_id AND s.project_id = i.project_id AND s.state = 'active'
         AND (s.cluster_id IS NULL OR s.cluster_id = i.cluster_id)
         AND (s.severities IS NULL OR i.severity = ANY (s.severities))
         AND (s.rules IS NULL OR i.rule = ANY (s.rules))
        LEFT JOIN plan_projection p ON p.org_id = s.org_id
"""
_NOTIFICATION_COLUMNS = """
    subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at, alert, next_attempt_at, window_from,
    part, episode, state, claimed_by
"""
_SAME_FIRING = """
    SELECT 1 FROM notifications f WHERE f.subscriber_id = s.id AND f.fingerprint = i.fingerprint
      AND f.starts_at = i.starts_at AND f.episode = i.episode AND f.status = 'firing'
"""
# A resolved notice only for subscribers that got (or are getting) the firing one. A resolved notice whose firing
# notice was dead-lettered (none delivered, none on its way) waits for a re-drive of that firing notice, parked
# (never due) instead of being scanned by every claim meanwhile. `incoming` is MATERIALIZED (here and in `_TAKE`) so
# that each alert's JSON text is parsed once: inlined (Postgres inlines a CTE used once), every `alert ->> ...` below
# parsed the whole text again, and the insert ran at a third of the speed.
INSERT_RESOLVED = f"""
    WITH incoming AS MATERIALIZED (
        SELECT t.alert::jsonb AS alert, t.episode FROM unnest($1::text[], $2::int[]) AS t(alert, episode)
    ), i AS (
        SELECT alert, episode, alert ->> 'org_id' AS org_id, alert ->> 'project_id' AS project_id,
               alert ->> 'cluster_id' AS cluster_id, alert ->> 'fingerprint' AS fingerprint,
               alert ->> 'severity' AS severity, (alert ->> 'starts_at')::timestamptz AS starts_at,
               alert ->> 'rule' AS rule
        FROM incoming
    ), inserted AS (
        INSERT INTO notifications ({_NOTIFICATION_COLUMNS})
        SELECT s.id, i.org_id, s.type, {_GROUP}, i.fingerprint, 'resolved', i.severity, i.starts_at, i.alert,
               CASE WHEN EXISTS ({_SAME_FIRING} AND f.state IN ('pending', 'sending', 'delivered'))
                    THEN now() + make_interval(secs => $4) ELSE 'infinity' END,
               now() + make_interval(secs => $4), s.part, i.episode, 'pending', NULL
        {_SUBSCRIBED}
        WHERE COALESCE(p.entitlements -> 'alert_channels', $3::jsonb) ? s.type
          AND EXISTS ({_SAME_FIRING} AND f.state <> 'cancelled')
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT count(*) FROM inserted
"""  # noqa: S608 (constant SQL, values bound)

# One round of the intake in one statement (one round trip; each alert's JSON parsed once): the alerts' state, their
# firing notices, and what the caller needs for the rest.
#
# The active-alert state: a later start wins (a new alert, episode 0); for the same start resolved wins over firing,
# so a firing event that arrives late behind its resolved event does not undo it, unless it happened after the
# resolved event: then the alert fired again with the same start (a new episode, notified at once). An event whose
# start is not the alert's (an older one) is notified as episode 0.
#
# One firing notice per matching, entitled subscriber, due after the grouping window ($10), of every firing event but
# those in $8 (stored only: a Clinic alert the plan does not include). With a dispatcher in this process holding
# partitions $13 ($12 names it) and no grouping window, a first firing notice of a target in those partitions whose
# backlog is not full (not in $14) is inserted as being sent by it ({state}), to be handed to its senders; no claim
# has to find it. When a notice is queued for claims, they are woken at commit.
#
# Rows, by `kind`: `queued` (TAKE_HANDED), each notification inserted (those handed over are needed), or `counted`
# (TAKE), how many (`n`); `resolved`, each resolved notice to queue next (a resolved event, or a firing event late
# behind its resolved event: firing, then resolved), in the batch's order `n`; `ruled`, each organisation of $11 with
# a silence not yet over or a maintenance window (this statement runs after the intake's locks, so a silence
# committed while it waited for them is seen); `woken`, claims were woken.
_TAKE = f"""
    WITH incoming AS MATERIALIZED (
        SELECT t.*, t.text::jsonb AS alert
        FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::timestamptz[])
            WITH ORDINALITY AS t(org_id, fingerprint, status, starts_at, text, event_id, event_time, n)
    ), upserted AS (
        INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id, event_time)
        SELECT org_id, fingerprint, status, starts_at, alert, event_id, event_time FROM incoming
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
    ), stored AS (
        SELECT i.n, i.org_id, i.fingerprint, i.status, i.starts_at, i.text, i.alert,
               CASE WHEN COALESCE(u.starts_at, a.starts_at) = i.starts_at THEN COALESCE(u.episode, a.episode, 0)
                    ELSE 0 END AS episode,
               CASE WHEN u.org_id IS NULL AND a.status = 'resolved' AND a.starts_at = i.starts_at
                    THEN a.alert::text END AS resolved_alert
        FROM incoming i
        LEFT JOIN upserted u ON u.org_id = i.org_id AND u.fingerprint = i.fingerprint
        LEFT JOIN alerts a ON a.org_id = i.org_id AND a.fingerprint = i.fingerprint
        WHERE i.event_id <> ALL ($8::text[])
    ), i AS (
        SELECT alert, episode, org_id, alert ->> 'project_id' AS project_id, alert ->> 'cluster_id' AS cluster_id,
               fingerprint, alert ->> 'severity' AS severity, starts_at, alert ->> 'rule' AS rule
        FROM stored WHERE status = 'firing'
    ), inserted AS (
        INSERT INTO notifications ({_NOTIFICATION_COLUMNS})
        SELECT s.id, i.org_id, s.type, {_GROUP}, i.fingerprint, 'firing', i.severity, i.starts_at, i.alert,
               now() + make_interval(secs => $10), now() + make_interval(secs => $10), s.part, i.episode, {{state}}
        {_SUBSCRIBED}
        WHERE COALESCE(p.entitlements -> 'alert_channels', $9::jsonb) ? s.type
        ON CONFLICT DO NOTHING
        RETURNING id, subscriber_id, org_id, channel, grp, window_from, part, state, fingerprint
    ), woken AS (
        SELECT pg_notify('{WAKE}', '') FROM (SELECT FROM inserted WHERE state = 'pending' LIMIT 1) AS q
    )
    {{queued}}
    UNION ALL
    SELECT 'resolved', NULL, NULL, org_id, NULL, NULL, NULL, NULL, NULL, fingerprint,
           CASE WHEN status = 'resolved' THEN text ELSE resolved_alert END, episode, n
    FROM stored WHERE status = 'resolved' OR resolved_alert IS NOT NULL
    UNION ALL
    SELECT 'ruled', NULL, NULL, org_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM (SELECT org_id FROM silences WHERE org_id = ANY ($11::text[]) AND ends_at > now()
          UNION SELECT org_id FROM maintenance_windows WHERE org_id = ANY ($11::text[])) AS r
    UNION ALL
    SELECT 'woken', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM woken
"""  # noqa: S608 (constant SQL, values bound)
TAKE = _TAKE.format(
    state="'pending', NULL",
    queued="""SELECT 'counted' AS kind, NULL::bigint AS id, NULL::text AS subscriber_id, NULL::text AS org_id,
                  NULL::text AS channel, NULL::text AS grp, NULL::timestamptz AS window_from, NULL::smallint AS part,
                  NULL::text AS state, NULL::text AS fingerprint, NULL::text AS alert, NULL::int AS episode,
                  count(*) AS n
              FROM inserted""",
)
_HANDED = "s.part = ANY ($13::int[]) AND s.id <> ALL ($14::text[]) AND i.episode = 0"
TAKE_HANDED = _TAKE.format(
    state=f"CASE WHEN {_HANDED} THEN 'sending' ELSE 'pending' END, CASE WHEN {_HANDED} THEN $12 END",
    queued="""SELECT 'queued' AS kind, id, subscriber_id, org_id, channel, grp, window_from, part, state, fingerprint,
                  NULL::text AS alert, NULL::int AS episode, NULL::bigint AS n
              FROM inserted""",
)


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


@dataclass(frozen=True)
class Taken:
    """What `take_in` did: how many notifications it queued; those inserted as being sent by this process's
    dispatcher, to hand to its senders after the commit; the organisations of the alerts that have silences or
    maintenance windows (`handlers.mutes.at_intake` holds what they mute)."""

    queued: int
    handed: list[Claimed]
    ruled: list[str]


async def take_in(
    conn: asyncpg.Connection,
    events: Sequence[AlertFiring | AlertResolved],
    *,
    basic: list[str],
    window_s: float,
    store_only: Collection[str] = (),
    handing: Handing | None = None,
    texts: Mapping[str, str] | None = None,
) -> Taken:
    """Store the alerts' state and queue one notification per matching, entitled subscriber (the caller's
    transaction, holding the alerts' organisations' intake locks); firing notices first, then resolved ones (only
    for subscribers that had the firing notice). Events whose id is in `store_only` are stored but queue nothing (a
    Clinic alert the plan does not include). With `handing` (a dispatcher of this process) and no grouping window,
    notifications are inserted as being sent by it (`TAKE_HANDED`). `texts`: each alert's JSON by event id, when
    the caller has it (else serialised here)."""
    queued = 0
    handed: list[Claimed] = []
    ruled: set[str] = set()
    orgs = sorted({e.data.org_id for e in events})
    skip = sorted(store_only)
    resolved_queued = 0
    for batch in _rounds(events):
        now = datetime.now(UTC)
        args: list[object] = [
            [e.data.org_id for e in batch],
            [e.data.fingerprint for e in batch],
            [e.data.status.value for e in batch],
            [e.data.starts_at for e in batch],
            [texts[e.id] for e in batch] if texts is not None else [e.data.model_dump_json() for e in batch],
            [e.id for e in batch],
            [e.time or now for e in batch],
            skip,
            basic,
            window_s,
            orgs,
        ]
        orgs = []  # silences and windows are read once, in the first round
        if handing is not None and window_s == 0:
            rows = await conn.fetch(TAKE_HANDED, *args, handing.me, handing.parts, handing.full)
        else:
            rows = await conn.fetch(TAKE, *args)
        resolved: list[asyncpg.Record] = []
        sending: list[asyncpg.Record] = []
        for row in rows:
            kind = row["kind"]
            if kind == "counted":
                queued += row["n"]
            elif kind == "queued":
                queued += 1
                if row["state"] == "sending":
                    sending.append(row)
            elif kind == "resolved":
                resolved.append(row)
            elif kind == "ruled":
                ruled.add(row["org_id"])
        if sending:  # a round holds one event per alert: organisation and fingerprint name it
            alerts = {(e.data.org_id, e.data.fingerprint): e.data for e in batch}
            handed += [_claimed(r, alerts[(r["org_id"], r["fingerprint"])]) for r in sending]
        if resolved:
            resolved.sort(key=lambda r: r["n"])
            notices = [r["alert"] for r in resolved]
            episodes = [r["episode"] for r in resolved]
            resolved_queued += await conn.fetchval(INSERT_RESOLVED, notices, episodes, basic, window_s)
    if resolved_queued:  # firing notices queued for claims woke them already (`woken`)
        await conn.execute(f"NOTIFY {WAKE}")
    return Taken(queued + resolved_queued, handed, sorted(ruled))


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
