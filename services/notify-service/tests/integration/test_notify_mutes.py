"""Silences and maintenance windows on real Postgres, through the intake, the claim and the repeat scheduler:
exactly the matching alerts are held back (and logged as silenced), they go out when the mute ends, an alert that
resolved while muted and was never announced is not announced, and muted alerts get no repeat."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio
from notify_helpers import settings as notify_settings

from care_schemas.events.alert import Alert, AlertStatus, alert_event
from carekit.identity import Identity, Role
from carekit_testing import eventually, within
from notify_service import handlers
from notify_service.adapters import mutes as mute_locks
from notify_service.adapters import queue
from notify_service.adapters.queue import Result
from notify_service.adapters.repository import queue_repeats
from notify_service.handlers import alertmanager_api, mutes, windows

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
SETTINGS = notify_settings(grouping_window_s=0)
OWNER = Identity(sub="ops", org="org-1", role=Role.ORG_OWNER)


@pytest_asyncio.fixture(loop_scope="session")
async def pool(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The migrated pool (conftest.py) with the one email subscriber these tests notify."""
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
        " VALUES ('sub-m', 'org-1', 'proj-1', 'email', 'm', '\\x00', '{}', 't')"
    )
    return pool


def _an(alert: Alert, fingerprint: str, **changes: object) -> Alert:
    return alert.model_copy(update={"fingerprint": fingerprint, "starts_at": datetime.now(UTC), **changes})


async def _take(pool: asyncpg.Pool, *alerts: Alert) -> None:
    await handlers.take_in_alerts(pool, [alert_event(a, source="/t") for a in alerts], SETTINGS)


async def _silence(pool: asyncpg.Pool, value: str, minutes: float = 60) -> str:
    now = datetime.now(UTC)
    body = {
        "matchers": [{"name": "alertname", "value": value, "isRegex": True, "isEqual": True}],
        "startsAt": now,
        "endsAt": now + timedelta(minutes=minutes),
        "createdBy": "ops",
        "comment": "maintenance",
    }
    return await alertmanager_api.post_silence(pool, OWNER, body)


async def _claimed(pool: asyncpg.Pool) -> list[str]:
    return sorted(f"{c.alert.fingerprint}:{c.alert.status.value}" for c in await queue.claim(pool, 100))


async def _deliver(pool: asyncpg.Pool) -> list[str]:
    claimed = await queue.claim(pool, 100)
    await queue.record(pool, [Result([c], "delivered", 200, "ok", 1.0) for c in claimed])
    return sorted(f"{c.alert.fingerprint}:{c.alert.status.value}" for c in claimed)


async def _log(pool: asyncpg.Pool, fingerprint: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT outcome FROM delivery_attempts WHERE $1 = ANY(fingerprints) ORDER BY id", fingerprint
    )
    return [r["outcome"] for r in rows]


async def test_a_silence_holds_exactly_the_matching_alerts_and_releases_them_when_it_is_expired(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    silence = await _silence(pool, "disk_.*")
    muted, other = _an(alert, "m-1", rule="disk_full"), _an(alert, "m-2", rule="cpu_high")
    await _take(pool, muted, other)
    assert await _deliver(pool) == ["m-2:firing"], "only the alert the silence does not match goes out"
    assert await _log(pool, "m-1") == ["silenced"]
    [reason] = await pool.fetch("SELECT detail FROM delivery_attempts WHERE 'm-1' = ANY(fingerprints)")
    assert silence in reason["detail"]
    assert "maintenance" in reason["detail"]

    await alertmanager_api.expire_silence(pool, "org-1", silence)
    assert await _deliver(pool) == ["m-1:firing"], "released at once when the silence ends"
    assert await _log(pool, "m-1") == ["silenced", "released", "delivered"]


async def test_an_alert_resolved_while_silenced_and_never_announced_is_not_announced(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    silence = await _silence(pool, "quiet_.*")
    firing = _an(alert, "q-1", rule="quiet_one")
    await _take(pool, firing)
    await _take(pool, firing.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": datetime.now(UTC)}))
    await alertmanager_api.expire_silence(pool, "org-1", silence)
    assert await _claimed(pool) == [], "no lone resolved notice, and no late firing notice for an alert that is over"
    logged = await _log(pool, "q-1")
    assert logged[0] == "silenced"
    assert set(logged[1:]) == {"cancelled"}  # its firing and its resolved notice


async def test_an_alert_announced_before_the_silence_gets_its_resolved_notice_when_the_silence_ends(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    firing = _an(alert, "a-1", rule="announced_one")
    await _take(pool, firing)
    assert await _deliver(pool) == ["a-1:firing"]
    silence = await _silence(pool, "announced_.*")
    await _take(pool, firing.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": datetime.now(UTC)}))
    assert await _claimed(pool) == [], "held while silenced"
    await alertmanager_api.expire_silence(pool, "org-1", silence)
    assert await _deliver(pool) == ["a-1:resolved"], "the firing message shown gets its resolution"


async def test_a_muted_alert_gets_no_repeat_until_the_mute_ends(pool: asyncpg.Pool, alert: Alert) -> None:
    firing = _an(alert, "r-1", rule="repeating_one")
    await _take(pool, firing)
    assert await _deliver(pool) == ["r-1:firing"]
    await pool.execute("UPDATE notifications SET delivered_at = now() - interval '4 hours' WHERE fingerprint = 'r-1'")
    silence = await _silence(pool, "repeating_.*")
    async with pool.acquire() as conn:
        assert await queue_repeats(conn, 3 * 3600.0) == 0
        await alertmanager_api.expire_silence(pool, "org-1", silence)
        assert await queue_repeats(conn, 3 * 3600.0) == 1


async def test_a_silence_that_ends_by_itself_is_released_by_the_mute_loop(pool: asyncpg.Pool, alert: Alert) -> None:
    await _silence(pool, "short_.*", minutes=1)
    await _take(pool, _an(alert, "s-1", rule="short_one"))
    assert await _claimed(pool) == []
    await pool.execute("UPDATE silences SET ends_at = now() WHERE comment = 'maintenance' AND ends_at > now()")
    await pool.execute("UPDATE mute_checks SET due_at = now() WHERE org_id = 'org-1'")
    assert await mutes.check_due(pool) == 1
    assert await _deliver(pool) == ["s-1:firing"]


async def test_an_open_maintenance_window_holds_its_matches_until_it_is_deleted(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    local_now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    draft = {
        "name": "nightly",
        "rrule": "FREQ=DAILY",
        "starts": local_now - timedelta(minutes=5),
        "timezone": "UTC",
        "duration": "PT1H",
        "matchers": ['cluster_id="cl-maint"'],
        "comment": "",
    }
    window = await windows.save(pool, "org-1", "ops", draft)
    await _take(pool, _an(alert, "w-1", cluster_id="cl-maint"), _an(alert, "w-2", cluster_id="cl-live"))
    assert await _deliver(pool) == ["w-2:firing"]
    view = await windows.one(pool, "org-1", window)
    assert view["open"] is True
    await windows.remove(pool, "org-1", window)
    assert await _deliver(pool) == ["w-1:firing"]


@pytest.mark.parametrize("held", ["mute lock", "intake lock"])
async def test_an_intake_waits_for_a_silence_being_saved_and_for_another_intake(
    pool: asyncpg.Pool, alert: Alert, held: str
) -> None:
    """The usual intake is one call that takes its locks itself (`repository.take_alone`): the same locks as a
    silence or window being saved (exclusive) and as another intake of the organisation, so a silence saved beside
    an intake never misses what it queues, and two intakes of one organisation take turns."""
    async with pool.acquire() as holder, holder.transaction():
        if held == "mute lock":
            await mute_locks.lock(holder, ["org-1"])
        else:
            await mute_locks.lock_for_intake(holder, ["org-1"])
        intake = asyncio.create_task(_take(pool, _an(alert, f"w-{held}")))

        async def waiting() -> bool:
            return bool(
                await pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
                    " AND datname = current_database()"
                )
            )

        await eventually(waiting, timeout_s=10)
        assert not intake.done(), "the intake waits while the lock is held"
        assert await pool.fetchval("SELECT count(*) FROM alerts WHERE fingerprint = $1", f"w-{held}") == 0
    await within(intake, 10)
    assert await _claimed(pool) == [f"w-{held}:firing"], "and takes the alert once it is released"
