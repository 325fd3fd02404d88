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
# Each alert's matching subscribers (`notify_subscribers`, migrations/007_intake_in_one_call.sql, as in the one call)
_SUBSCRIBED = """
        FROM i CROSS JOIN LATERAL notify_subscribers(i.org_id, i.project_id, i.cluster_id, i.severity, i.rule) AS s
        LEFT JOIN plan_projection p ON p.org_id = s.org_id
"""
_NOTIFICATION_COLUMNS = """
    subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at, alert, next_attempt_at, window_from,
    part, episode, state, claimed_by
"""


# OFFSET 0 keeps each EXISTS a probe of notifications_firing for each row: turned into a join, its plan (made once,
# from the statistics of that moment) could read the whole index for every call, as it did after an ANALYZE that found
# notifications empty (tests/integration/test_notify_scale.py, `..._analyzed_while_empty`).
def _same_firing(state: str) -> str:
    return f"""
    SELECT 1 FROM notifications f WHERE f.subscriber_id = s.id AND f.fingerprint = i.fingerprint
      AND f.starts_at = i.starts_at AND f.episode = i.episode AND f.status = 'firing' AND {state} OFFSET 0
"""  # noqa: S608 (constant SQL)


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
               CASE WHEN EXISTS ({_same_firing("f.state IN ('pending', 'sending', 'delivered')")})
                    THEN now() + make_interval(secs => $4) ELSE 'infinity' END,
               now() + make_interval(secs => $4), s.part, i.episode, 'pending', NULL
        {_SUBSCRIBED}
        WHERE COALESCE(p.entitlements -> 'alert_channels', $3::jsonb) ? s.type
          AND EXISTS ({_same_firing("f.state <> 'cancelled'")})
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT count(*) FROM inserted
"""  # noqa: S608 (constant SQL, values bound)

# One round of the intake in one call: `notify_take_by_partition` (migrations/007, 009, 011) takes the intake's locks
# when asked ($15), then stores the alerts' state, queues their firing notices, reads the organisations with silences
# or windows and wakes the claims, all in one statement (each alert's JSON parsed once), and returns what the caller
# needs for the rest, by `kind`: `queued`/`counted`, `resolved`, `ruled`, `woken`, `again` (the migration says each).
# A function because each statement of a plpgsql function takes its own snapshot: the statement sees what was
# committed while the locks were awaited. Called alone ($16), it is the whole transaction: one round trip.
TAKE = "SELECT * FROM notify_take_by_partition($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"


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
    """What `take_in` did: how many notifications it queued; those inserted as being sent by a dispatcher the
    intake hands to (each row's `by`), to hand to its senders after the commit; the organisations of the alerts
    that have silences or maintenance windows (`handlers.mutes.at_intake` holds what they mute)."""

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
    handing: Sequence[Handing] = (),
    texts: Mapping[str, str] | None = None,
) -> Taken:
    """Store the alerts' state and queue one notification per matching, entitled subscriber (the caller's
    transaction, holding the alerts' organisations' intake locks); firing notices first, then resolved ones (only
    for subscribers that had the firing notice). Events whose id is in `store_only` are stored but queue nothing (a
    Clinic alert the plan does not include). With `handing` (the dispatchers the intake hands to, this process's and
    one in another process, `handlers.delivery.dispatcher.Hands`) and no grouping window, first notices are inserted
    as being sent by the dispatcher that holds their partition. `texts`: each alert's JSON by event id, when the
    caller has it (else serialised here)."""
    owners = _owners(handing, window_s)
    queued = 0
    handed: list[Claimed] = []
    ruled: set[str] = set()
    orgs = sorted({e.data.org_id for e in events})
    resolved_queued = 0
    for batch in _rounds(events):
        rows = await conn.fetch(TAKE, *_args(batch, store_only, basic, window_s, orgs, owners, texts), [], False)
        orgs = []  # silences and windows are read once, in the first round
        round_queued, round_handed, resolved = _sorted_out(rows, batch, owners)
        queued += round_queued
        handed += round_handed
        ruled.update(r["org_id"] for r in rows if r["kind"] == "ruled")
        if resolved:
            resolved.sort(key=lambda r: r["n"])
            notices = [r["alert"] for r in resolved]
            episodes = [r["episode"] for r in resolved]
            resolved_queued += await conn.fetchval(INSERT_RESOLVED, notices, episodes, basic, window_s)
    if resolved_queued:  # firing notices queued for claims woke them already (`woken`)
        await conn.execute(f"NOTIFY {WAKE}")
    return Taken(queued + resolved_queued, handed, sorted(ruled))


async def take_alone(
    conn: asyncpg.Connection,
    events: Sequence[AlertFiring],
    *,
    basic: list[str],
    window_s: float,
    handing: Sequence[Handing] = (),
    texts: Mapping[str, str] | None = None,
) -> Taken | None:
    """`take_in` for the usual intake, in one round trip that is its whole transaction, the intake's locks included
    (`conn` in no transaction): firing alerts, each once, none of them Clinic's. None, with nothing written, when
    the alerts need more than one statement (an organisation with silences or maintenance windows, an alert
    resolved with the same start, an alert twice): the caller takes them with `take_in` instead."""
    if len({(e.data.org_id, e.data.fingerprint) for e in events}) < len(events):
        return None
    orgs = sorted({e.data.org_id for e in events})
    owners = _owners(handing, window_s)
    rows = await conn.fetch(TAKE, *_args(events, (), basic, window_s, orgs, owners, texts), orgs, True)
    if any(r["kind"] == "again" for r in rows):
        return None
    queued, handed, _resolved = _sorted_out(rows, events, owners)  # none: an alert resolved with this start is `again`
    return Taken(queued, handed, [])


@dataclass(frozen=True)
class _Owners:
    """The dispatchers the intake hands to, as `notify_take_by_partition` takes them: who holds each partition,
    and the subscribers whose backlog is full with any of them."""

    by_part: dict[int, str]
    full: list[str]


def _owners(handing: Sequence[Handing], window_s: float) -> _Owners:
    if window_s != 0:  # a grouping window queues every notice for the claims
        return _Owners({}, [])
    return _Owners({part: h.me for h in handing for part in h.parts}, sorted({s for h in handing for s in h.full}))


def _args(
    batch: Sequence[AlertFiring | AlertResolved],
    store_only: Collection[str],
    basic: list[str],
    window_s: float,
    orgs: list[str],
    owners: _Owners,
    texts: Mapping[str, str] | None,
) -> list[object]:
    """`notify_take_by_partition`'s arguments $1-$14 for one round (each alert once)."""
    now = datetime.now(UTC)
    return [
        [e.data.org_id for e in batch],
        [e.data.fingerprint for e in batch],
        [e.data.status.value for e in batch],
        [e.data.starts_at for e in batch],
        [texts[e.id] for e in batch] if texts is not None else [e.data.model_dump_json() for e in batch],
        [e.id for e in batch],
        [e.time or now for e in batch],
        sorted(store_only),
        basic,
        window_s,
        orgs,
        list(owners.by_part.values()),
        list(owners.by_part),
        owners.full,
    ]


def _sorted_out(
    rows: Sequence[asyncpg.Record], batch: Sequence[AlertFiring | AlertResolved], owners: _Owners
) -> tuple[int, list[Claimed], list[asyncpg.Record]]:
    """A round's rows: how many notices it queued, those inserted as being sent by a dispatcher (each with its
    name), the resolved notices to queue next."""
    queued = 0
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
    if not sending:
        return queued, [], resolved
    alerts = {(e.data.org_id, e.data.fingerprint): e.data for e in batch}  # a round holds one event per alert
    handed = [_claimed(r, alerts[(r["org_id"], r["fingerprint"])], owners.by_part[r["part"]]) for r in sending]
    return queued, handed, resolved


def _claimed(row: asyncpg.Record, alert: Alert, by: str) -> Claimed:
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
        by,
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
