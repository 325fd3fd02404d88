"""Silences and maintenance windows hold back notifications of the alerts they match, and release them when they
end. State lives in Postgres only (every instance reads the same), so a silence applies everywhere at once.

* `at_intake` is the one call the intake makes (in its transaction, after queueing): alerts of organisations that
  have silences or windows are looked at, their new notifications held if muted.
* `reconcile` looks at one organisation whole: after a silence or window changes (in that request's transaction)
  and whenever one starts or ends (`run_mutes`, from `mute_checks`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
from pydantic import ValidationError

from care_schemas.events.alert import Alert, AlertFiring, AlertResolved, AlertStatus
from carekit.faults import is_outage
from carekit.parking import Isolation
from carekit.polling import poll_forever, woken_by
from notify_service.adapters import mutes, queue, silences
from notify_service.adapters.queue import Claimed
from notify_service.adapters.repository import Taken
from notify_service.domain.alertmanager import labels_of
from notify_service.domain.silences import Rules

log = logging.getLogger(__name__)
LOOP = "mutes"
CHECKS = Isolation(LOOP)


def now() -> datetime:
    return datetime.now(UTC)


async def rules_of(conn: asyncpg.Connection | asyncpg.Pool, org: str, at: datetime) -> Rules:
    """The organisation's silences not yet over and its windows."""
    return Rules(
        await silences.silences(conn, org, current_only=True),
        await silences.windows(conn, org),
        at,
    )


async def reconcile(conn: asyncpg.Connection, org: str, *, only: Sequence[str] | None = None) -> None:
    """Bring the organisation's held notifications in line with its silences and windows now (in the caller's
    transaction, under the organisation's mute lock: exclusive here unless `only` comes from the intake, which
    holds it shared)."""
    if only is None:
        await mutes.lock(conn, [org])
    at = now()
    rules = await rules_of(conn, org, at)
    by_id = {s.id: s for s in rules.silences}
    muted: dict[str, str] = {}
    resolved: list[str] = []
    free: list[str] = []
    for row in await mutes.candidates(conn, org, only):
        try:
            alert = Alert.model_validate(row["alert"])
        except ValidationError:
            continue  # a stored alert that no longer reads: delivery isolates its notifications itself
        muting = rules.muting(labels_of(alert))
        if muting:
            muted[row["fingerprint"]] = muting.reason(by_id)[:1000]
            if row["status"] == AlertStatus.RESOLVED.value:
                resolved.append(row["fingerprint"])
        else:
            free.append(row["fingerprint"])
    await mutes.cancel_never_sent(conn, org, resolved)
    await mutes.hold(conn, org, muted)
    await mutes.release(conn, org, free)
    await mutes.set_mutes(conn, org, muted, free)
    if only is None:
        await mutes.schedule(conn, org, rules.next_change())


async def at_intake(
    conn: asyncpg.Connection, events: Sequence[AlertFiring | AlertResolved], taken: Taken
) -> list[Claimed]:
    """Hold what was just queued for alerts a silence or window mutes (the intake's transaction), in the
    organisations `repository.take_in` found with silences or windows (`taken.ruled`). An error here that is not an
    outage does not cost the alerts: they stay queued as they are, the organisation is logged and left to the mute
    loop, which retries it (and parks it if it keeps failing). Notifications handed to this process's dispatcher
    (inserted as being sent) of those organisations are queued instead, so that the same rules hold them; the rest
    are returned, to be handed over. The caller holds the organisations' intake locks
    (`adapters.mutes.lock_for_intake`), the mute lock shared among them."""
    handed, ruled = taken.handed, taken.ruled
    if handed and ruled:
        await queue.release(conn, [r.id for r in handed if r.org_id in ruled], None)
        handed = [r for r in handed if r.org_id not in ruled]
    for org in ruled:
        fingerprints = sorted({e.data.fingerprint for e in events if e.data.org_id == org})
        try:
            async with conn.transaction():
                await reconcile(conn, org, only=fingerprints)
        except Exception as exc:
            if is_outage(exc):
                raise
            log.error("muting alerts of %s at intake failed (left to the mute loop): %s", org, exc)
            await mutes.schedule(conn, org, now())
    return list(handed)


async def check_due(pool: asyncpg.Pool) -> int:
    """One pass over organisations whose silences or windows started or ended; how many were looked at."""
    done = 0
    async with pool.acquire() as conn:
        for org in await mutes.due(conn, LOOP):
            async with conn.transaction():
                await mutes.lock(conn, [org])  # the mute lock before the check's row, as everywhere
                if not await mutes.claim_check(conn, org):
                    continue
                await CHECKS.run(conn, org, lambda org=org: reconcile(conn, org))  # type: ignore[misc]
                done += 1
    return done


async def run_mutes(pool: asyncpg.Pool, interval_s: float) -> None:
    """Forever: look at organisations when their silences or windows start or end (woken on changes)."""
    async with woken_by(pool, mutes.CHECKS) as wake:
        await poll_forever(lambda: check_due(pool), every_s=interval_s, what="mute checks", log=log, wake=wake)
