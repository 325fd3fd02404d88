"""The HTTP intake's store, on a real Postgres: a request cancelled while its transaction waits (its client went
away) still stores what it started to, and the rows it inserts as being sent reach this process's senders; an
alert posted through the Alertmanager API is never stored without its time-out; a subscriber deleted while an
intake queues notices for it leaves none behind, its history goes after it a batch at a time (a crash cut short or
not), and one queued for a subscriber that is gone is cancelled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from notify_helpers import dispatcher_on, email_subscriber, past_notifications
from notify_helpers import settings as notify_settings
from prometheus_client import REGISTRY

from care_schemas.events.alert import Alert, alert_event, alert_event_adapter
from care_schemas.topics import ALERT_EVENTS
from carekit import parking
from carekit.db import by_key_connection
from carekit.identity import Identity, Role
from carekit_testing import eventually, within
from notify_service.adapters import mutes, queue, repository, subscribers
from notify_service.adapters.queue import Claimed, Handing
from notify_service.handlers import alertmanager_api, purges
from notify_service.handlers.delivery.dispatcher import Local
from notify_service.handlers.intake import AlertIntake

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def _waiting_on_a_lock(pool: asyncpg.Pool, locktype: str = "advisory") -> bool:
    """Whether some transaction waits for a lock of that type (`advisory`: an intake's; `transactionid`: a row's)."""
    return bool(await pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = $1 AND NOT granted", locktype))


async def _cancelled_while_waiting(pool: asyncpg.Pool, intake: AlertIntake, alert: Alert) -> str:
    """Post `alert` and cancel the request while its transaction waits for another intake transaction of the
    organisation (its client went away); the event id."""
    event = alert_event(alert, source="/t")
    async with pool.acquire() as holder, holder.transaction():
        await mutes.lock_for_intake(holder, [alert.org_id])
        request = asyncio.create_task(intake.accept([event], {event.id: alert.model_dump_json()}, "http"))
        await eventually(lambda: _waiting_on_a_lock(pool), timeout_s=10)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
    return event.id


async def test_a_request_cancelled_while_its_transaction_waits_still_stores_its_alerts(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local())  # type: ignore[arg-type]
    event_id = await _cancelled_while_waiting(pool, intake, alert)

    async def stored() -> list[str]:
        rows = await pool.fetch("SELECT event_id FROM alerts WHERE org_id = $1", alert.org_id)
        return [r["event_id"] for r in rows]

    assert await eventually(stored, timeout_s=10) == [event_id]


class _Senders:
    """This process's dispatcher as the intake sees it: it holds partition 0 and takes what is handed to it."""

    def __init__(self) -> None:
        self.taken: list[Claimed] = []

    def handing(self) -> list[Handing]:
        return [Handing("me", [0], [])]

    def hand(self, rows: list[Claimed]) -> list[Claimed]:
        self.taken += rows
        return []

    async def take(self, rows: list[Claimed]) -> None:
        self.hand(rows)


async def test_the_rows_of_a_request_cancelled_while_its_transaction_waits_reach_the_senders(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """The rows are handed over by the request after the store (so that it answers before the senders start); when
    the request was cancelled meanwhile, the store hands them over when it finishes. Otherwise they stayed being
    sent by a dispatcher that never had them, until this process stopped."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-c", part=0)
    senders = _Senders()
    intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local(senders))  # type: ignore[arg-type]
    await _cancelled_while_waiting(pool, intake, alert)

    async def handed() -> list[str]:
        return [r.subscriber_id for r in senders.taken]

    assert await eventually(handed, timeout_s=10) == ["sub-c"]
    sending = await pool.fetchval("SELECT claimed_by FROM notifications WHERE state = 'sending'")
    assert sending == "me", "inserted as being sent by the dispatcher it was handed to"

    second = alert_event(alert.model_copy(update={"fingerprint": "fp-2"}), source="/t")
    await intake.accept([second], {second.id: second.data.model_dump_json()}, "http")  # not cancelled: at once
    assert [r.alert.fingerprint for r in senders.taken] == ["fp-1", "fp-2"]


class _Moved(_Senders):
    """A dispatcher whose partition moved to another instance between the store's start and its end: it sends none
    of the rows; its release waits until `go`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self.pool, self.releasing, self.go = pool, asyncio.Event(), asyncio.Event()

    def hand(self, rows: list[Claimed]) -> list[Claimed]:
        return list(rows)

    async def release(self, rows: list[Claimed]) -> None:
        self.releasing.set()
        await self.go.wait()
        await queue.release(self.pool, [r.id for r in rows], "me")


async def test_rows_the_dispatcher_will_not_send_are_queued_again_though_the_request_is_cancelled(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """Left being sent by a dispatcher that does not send them, they would wait until this process stopped."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-m", part=0)
    moved = _Moved(pool)
    intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local(moved))  # type: ignore[arg-type]
    event = alert_event(alert, source="/t")
    request = asyncio.create_task(intake.accept([event], {event.id: alert.model_dump_json()}, "http"))
    async with asyncio.timeout(10):
        await moved.releasing.wait()
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    moved.go.set()

    async def queued() -> tuple[str, str | None] | None:
        row = await pool.fetchrow("SELECT state, claimed_by FROM notifications WHERE subscriber_id = 'sub-m'")
        return None if row is None or row["state"] == "sending" else (row["state"], row["claimed_by"])

    assert await eventually(queued, timeout_s=10) == ("pending", None)


class _Topic:
    """alert.events.v1 as the intake's fallback sees it (what reaches Kafka is tests/e2e/test_notify_intake.py's)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish_all(self, payloads: list[tuple[str, bytes]]) -> None:
        self.published += payloads


async def test_an_alert_posted_to_the_alertmanager_api_is_stored_with_its_time_out_or_not_at_all(
    pool: asyncpg.Pool,
) -> None:
    """Its time-out is written in the alert's own transaction. When it cannot be (here a trigger refuses it once),
    the alert is not stored without it: the alert goes through the topic, and the time-out is noted after it. Noted
    apart, after the alert, a crash between the two left the alert firing for good."""
    await pool.execute(
        """
        CREATE SEQUENCE refuse_once;
        CREATE FUNCTION refuse_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('refuse_once') = 1 THEN RAISE EXCEPTION 'refused once'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_once BEFORE INSERT ON am_alert_ends FOR EACH ROW EXECUTE FUNCTION refuse_once();
        """
    )
    topic = _Topic()
    intake = AlertIntake(pool, {ALERT_EVENTS: topic}, notify_settings(grouping_window_s=0), Local())  # type: ignore[arg-type]
    ends = datetime.now(UTC) + timedelta(minutes=5)
    posted = {"labels": {"alertname": "disk_full", "project_id": "proj-1", "instance": "tikv-0"}, "endsAt": ends}
    owner = Identity(sub="ops", org="org-ends", role=Role.ORG_OWNER)

    assert await alertmanager_api.post_alerts(intake, owner, [posted]) == []

    assert await pool.fetchval("SELECT count(*) FROM alerts WHERE org_id = 'org-ends'") == 0  # not stored half
    assert [org for org, _ in topic.published] == ["org-ends"]  # the Kafka intake stores it
    [(_, record)] = topic.published
    assert alert_event_adapter.validate_json(record).data.rule == "disk_full"
    assert await pool.fetchval("SELECT ends_at FROM am_alert_ends WHERE org_id = 'org-ends'") == ends

    assert await alertmanager_api.post_alerts(intake, owner, [posted]) == []  # the usual way: both at once
    assert await pool.fetchval("SELECT count(*) FROM alerts WHERE org_id = 'org-ends'") == 1
    assert len(topic.published) == 1


async def _notices(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT subscriber_id, fingerprint FROM notifications ORDER BY subscriber_id, fingerprint")
    return [(r["subscriber_id"], r["fingerprint"]) for r in rows]


async def test_a_deleted_subscriber_leaves_no_notification_behind_though_an_intake_was_queuing_one(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """Deleting a subscriber deletes its notifications and no other's. An intake of its organisation that is
    queuing notices when the delete starts finishes first, and what it queued goes too: no foreign key does this
    since migrations/014, the delete holds the organisation's intake lock. An intake after it queues nothing for the
    subscriber and does not fail."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-gone")
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-kept")
    intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local())  # type: ignore[arg-type]
    first = alert_event(alert, source="/t")
    await intake.accept([first], {first.id: first.data.model_dump_json()}, "http")
    assert await _notices(pool) == [("sub-gone", "fp-1"), ("sub-kept", "fp-1")]

    second = alert_event(alert.model_copy(update={"fingerprint": "fp-2"}), source="/t")
    async with pool.acquire() as under_way:
        transaction = under_way.transaction()
        await transaction.start()
        await mutes.lock_for_intake(under_way, [alert.org_id])
        await repository.take_in(under_way, [second], basic=["email"], window_s=0.0, store_only=set())
        deleting = asyncio.create_task(subscribers.delete(pool, alert.org_id, "sub-gone"))

        async def waiting_or_done() -> bool:
            return deleting.done() or await _waiting_on_a_lock(pool)

        await eventually(waiting_or_done, timeout_s=10)
        await transaction.commit()
    assert await within(deleting, 10) is True
    assert await purges.purge_deleted(pool, 1000) == 2, "its two notices, the one queued under way among them"
    assert await _notices(pool) == [("sub-kept", "fp-1"), ("sub-kept", "fp-2")]

    third = alert_event(alert.model_copy(update={"fingerprint": "fp-3"}), source="/t")
    await intake.accept([third], {third.id: third.data.model_dump_json()}, "http")
    assert await _notices(pool) == [("sub-kept", "fp-1"), ("sub-kept", "fp-2"), ("sub-kept", "fp-3")]
    assert await subscribers.delete(pool, alert.org_id, "sub-gone") is False
    assert await subscribers.delete(pool, "another-org", "sub-kept") is False, "only its own organisation's"
    assert await purges.purge_deleted(pool, 1000) == 0
    assert len(await _notices(pool)) == 3


async def _left(pool: asyncpg.Pool) -> dict[str, int]:
    """Notifications and dead letters per subscriber, and the subscribers whose purge is noted."""
    rows = await pool.fetch(
        "SELECT subscriber_id, count(*) AS n FROM notifications GROUP BY 1 UNION ALL"
        " SELECT 'dead:' || subscriber_id, count(*) FROM dead_letters GROUP BY 1 UNION ALL"
        " SELECT 'purge:' || subscriber_id, 1 FROM subscriber_purges"
    )
    return {r["subscriber_id"]: r["n"] for r in rows}


async def test_a_deleted_subscribers_history_goes_after_it_a_batch_at_a_time(pool: asyncpg.Pool, alert: Alert) -> None:
    """The delete's transaction, which holds the organisation's intake lock, removes only the subscriber and notes
    its purge: its history goes after it in statements of at most a batch each, then the note; the other
    subscriber's notifications stay (migrations/015)."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-long")
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-stays")
    await past_notifications(pool, alert.org_id, "sub-long", 2500)
    await past_notifications(pool, alert.org_id, "sub-stays", 3)

    assert await subscribers.delete(pool, alert.org_id, "sub-long") is True
    assert await _left(pool) == {
        "sub-long": 2500,
        "dead:sub-long": 1,
        "purge:sub-long": 1,
        "sub-stays": 3,
        "dead:sub-stays": 1,
    }, "the delete's own transaction leaves the history to the purge"
    batches, after = [], subscribers.FIRST
    async with by_key_connection(pool) as conn:
        assert await subscribers.purging(conn) == ["sub-long"]
        while True:
            purged = await subscribers.purge_batch(conn, "sub-long", after, 1000)
            batches.append(purged.deleted)
            if not purged.more:
                break
            after = purged.after
        assert await subscribers.purged(conn, "sub-long") is True
    assert batches == [1000, 1000, 500]
    assert await _left(pool) == {"sub-stays": 3, "dead:sub-stays": 1}


async def test_the_purge_runs_when_a_subscriber_is_deleted_and_finishes_one_a_crash_cut_short(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """The purge loop finishes at start what a crash left (a note whose subscriber is gone, its history still
    there), and is woken by a delete's NOTIFY rather than its hourly pass; it counts what it purged."""
    await pool.execute("INSERT INTO subscriber_purges (subscriber_id, org_id) VALUES ('sub-crashed', $1)", alert.org_id)
    await past_notifications(pool, alert.org_id, "sub-crashed", 30)
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-live")
    await past_notifications(pool, alert.org_id, "sub-live", 20)
    purged_before = REGISTRY.get_sample_value("notify_deleted_subscriber_notifications_purged_total") or 0.0
    loop = asyncio.create_task(purges.run_purges(pool, 7, 3600.0))
    try:

        async def only_live_left() -> dict[str, int] | None:
            left = await _left(pool)
            return left if "sub-crashed" not in left and "purge:sub-crashed" not in left else None

        assert await eventually(only_live_left, timeout_s=10) == {"sub-live": 20, "dead:sub-live": 1}
        assert await subscribers.delete(pool, alert.org_id, "sub-live") is True

        async def nothing_left() -> bool:
            return await _left(pool) == {}

        await eventually(nothing_left, timeout_s=10)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    purged = REGISTRY.get_sample_value("notify_deleted_subscriber_notifications_purged_total")
    assert purged == purged_before + 50


async def test_a_notice_queued_for_a_subscriber_that_is_gone_is_cancelled(pool: asyncpg.Pool, alert: Alert) -> None:
    """A path that queues a notice without the intake's lock (a repeat) can race a delete: the dispatcher finds no
    target for it and cancels it with the reason, instead of trying it for ever."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-once", part=0)
    intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local())  # type: ignore[arg-type]
    event = alert_event(alert, source="/t")
    await intake.accept([event], {event.id: event.data.model_dump_json()}, "http")
    await pool.execute("DELETE FROM subscribers WHERE id = 'sub-once'")  # as a delete racing a repeat leaves it
    dispatcher = dispatcher_on(pool, None, grouping_window_s=0)
    await dispatcher.lease_once()
    tasks = [asyncio.create_task(dispatcher.run()), asyncio.create_task(dispatcher.record_forever())]
    try:

        async def cancelled() -> tuple[str, str] | None:
            row = await pool.fetchrow("SELECT state, last_error FROM notifications WHERE subscriber_id = 'sub-once'")
            return (row["state"], row["last_error"]) if row["state"] == "cancelled" else None

        assert await eventually(cancelled, timeout_s=10) == (
            "cancelled",
            "cancelled: subscriber deleted or suspended",
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_two_purges_of_one_subscriber_count_each_notification_once(pool: asyncpg.Pool, alert: Alert) -> None:
    """Every instance that serves the API purges (handlers/purges.py): a batch whose rows another instance deleted
    first reads them but deletes, and counts, none of them, and goes on."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-twice")
    await past_notifications(pool, alert.org_id, "sub-twice", 10)
    assert await subscribers.delete(pool, alert.org_id, "sub-twice") is True
    async with pool.acquire() as first, pool.acquire() as second:
        transaction = first.transaction()
        await transaction.start()
        ahead = await subscribers.purge_batch(first, "sub-twice", subscribers.FIRST, 6)
        behind = asyncio.create_task(subscribers.purge_batch(second, "sub-twice", subscribers.FIRST, 6))

        async def waiting_or_done() -> bool:
            return behind.done() or await _waiting_on_a_lock(pool, "transactionid")

        await eventually(waiting_or_done, timeout_s=10)
        await transaction.commit()
        late = await within(behind, 10)
        assert (ahead.deleted, ahead.more, late.deleted, late.more) == (6, True, 0, True)
        rest = await subscribers.purge_batch(second, "sub-twice", late.after, 6)
        assert (rest.deleted, rest.more) == (4, False)
        assert await subscribers.purged(second, "sub-twice") is True
    assert await _left(pool) == {}


async def test_a_purge_that_fails_for_good_is_parked_and_the_others_go_on(pool: asyncpg.Pool, alert: Alert) -> None:
    """A deleted subscriber whose notifications cannot be deleted (here a trigger refuses, with the reason) is parked
    for an operator and left out of later passes; another deleted subscriber's purge goes on; once re-driven (the
    cause gone), it is purged."""
    await pool.execute(
        """
        CREATE FUNCTION refuse_stuck() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.subscriber_id = 'sub-stuck' THEN
                RAISE EXCEPTION 'kept by a hold' USING ERRCODE = 'check_violation';
            END IF;
            RETURN OLD;
        END $$;
        CREATE TRIGGER refuse_stuck BEFORE DELETE ON notifications FOR EACH ROW EXECUTE FUNCTION refuse_stuck();
        """
    )
    for sub in ("sub-stuck", "sub-free"):
        await email_subscriber(pool, alert.org_id, alert.project_id, sub)
        await past_notifications(pool, alert.org_id, sub, 5)
        assert await subscribers.delete(pool, alert.org_id, sub) is True

    assert await purges.purge_deleted(pool, 1000) == 5
    [entry] = await parking.parked(pool, loop="subscriber-purges")
    assert entry["key"] == "sub-stuck"
    assert "kept by a hold" in entry["reason"]
    assert await _left(pool) == {"sub-stuck": 5, "dead:sub-stuck": 1, "purge:sub-stuck": 1}
    assert await purges.purge_deleted(pool, 1000) == 0, "a parked purge is not tried on every pass"

    await pool.execute("DROP TRIGGER refuse_stuck ON notifications")
    assert await parking.redrive(pool, entry["id"], "ops") == "subscriber-purges"
    assert await purges.purge_deleted(pool, 1000) == 5
    assert await _left(pool) == {}
