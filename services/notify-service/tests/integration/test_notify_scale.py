"""On real Postgres: delivery partitions shared fairly by several instances and taken over from one that died
(its in-flight rows due again); a target's Retry-After pause survives a restart; the retention job purges old
history in batches and leaves what is live."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial

import asyncpg
import pytest
from notify_helpers import dispatcher_on, email_subscriber, past_notifications
from notify_helpers import settings as notify_settings

from care_schemas.catalogue import ChannelType, PlanCode
from care_schemas.events.action import AlertAcknowledged, AlertAcknowledgedData
from care_schemas.events.alert import Alert, AlertRef, AlertStatus, alert_event
from care_schemas.events.plan import ChangeReason
from carekit.identity import Identity, Role
from carekit.retention import KIT, PURGED, purge_once
from carekit_testing import entries_read, entries_read_by, plan_changed, within
from notify_service.adapters import alert_actions as alert_actions_store
from notify_service.adapters import am_api, delivery_log, im_queue, queue, repository, subscribers
from notify_service.adapters import mutes as mute_locks
from notify_service.adapters.channels.base import SendContext
from notify_service.adapters.queue import Result
from notify_service.adapters.secrets import SecretBox
from notify_service.app import RETENTION
from notify_service.domain.subscribers import PARTITIONS, partition_of, target_key
from notify_service.handlers import alert_actions as alert_actions_handlers
from notify_service.handlers import alertmanager_api, mutes, notices
from notify_service.handlers.delivery.dispatcher import Dispatcher, hand_over
from notify_service.handlers.delivery.scheduler import repeat_once
from notify_service.handlers.delivery.targets import Targets
from notify_service.handlers.intake import store_alerts
from notify_service.handlers.purges import purge_deleted

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


_ALERTS = (
    "INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id, event_time) SELECT"
    " COALESCE($1, 'org-' || (i % 100)), $2 || i, $3, $4, $5, $2 || i, now() FROM generate_series(1, $6) AS i"
)


async def _alerts(pool: asyncpg.Pool, org: str | None, prefix: str, status: str, alert: Alert, n: int) -> None:
    """`n` alerts of `org` (None: spread over org-0 to org-99) with `status`, fingerprints and event ids `prefix`1 to
    `prefix`n, each starting and carried as `alert`: rows the statement under test should not read."""
    await pool.execute(_ALERTS, org, prefix, status, alert.starts_at, alert.model_dump(mode="json"), n)


async def _owners(pool: asyncpg.Pool) -> dict[str, set[int]]:
    rows = await pool.fetch("SELECT part, owner FROM delivery_partitions WHERE lease_until > now() ORDER BY part")
    out: dict[str, set[int]] = {}
    for r in rows:
        out.setdefault(r["owner"], set()).add(r["part"])
    return out


async def _subscriber(pool: asyncpg.Pool, box: SecretBox, sub: str, url: str) -> subscribers.Subscriber:
    now = datetime.now(UTC)
    return await subscribers.insert(
        pool,
        box,
        subscribers.Subscriber(
            id=sub, org_id="org-scale", project_id="proj-1", cluster_id=None, type=ChannelType.WEBHOOK, name=sub,
            severities=None, rules=None, config={"url": url}, state="active", state_reason=None, created_by="t",
            created_at=now, updated_at=now,
        ),
    )  # fmt: skip


async def test_two_instances_share_the_partitions_and_one_takes_over_what_a_dead_one_was_sending(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    first, second = dispatcher_on(pool, "first", ttl_s=1.0), dispatcher_on(pool, "second", ttl_s=1.0)
    await first.lease_once()
    assert await _owners(pool) == {"first": set(range(PARTITIONS))}, "alone, an instance delivers everything"

    await second.lease_once()  # says it is alive; nothing is free yet
    await first.lease_once()  # sees two alive: hands half back
    await second.lease_once()  # takes what was handed back
    owners = await _owners(pool)
    assert len(owners["first"]) == len(owners["second"]) == PARTITIONS // 2
    assert owners["first"].isdisjoint(owners["second"])
    assert first.owned == owners["first"]
    assert second.owned == owners["second"]

    # a notification of one of first's partitions is being sent by it when it dies (no clean stop: no hand-back)
    part = min(owners["first"])
    box = SecretBox(notify_settings().notify_secret_key)
    await _subscriber(pool, box, "sub-dead", "http://127.0.0.1:9/dead")
    await pool.execute(
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert, part) VALUES ('sub-dead', 'org-scale', 'webhook', 'g', 'fp-dead', 'firing', 'critical', $1, $2, $3)",
        alert.starts_at,
        alert.model_dump(mode="json"),
        part,
    )
    [claimed] = await queue.claim(pool, 10, parts=sorted(first.owned), me="first")
    assert await queue.claim(pool, 10, parts=sorted(second.owned), me="second") == [], "not second's partition"
    await pool.execute("UPDATE delivery_instances SET seen_at = now() - interval '1 minute' WHERE id = 'first'")
    await pool.execute("UPDATE delivery_partitions SET lease_until = now() - interval '1 second' WHERE owner = 'first'")

    await second.lease_once()
    assert await _owners(pool) == {"second": set(range(PARTITIONS))}, "the survivor takes every partition"
    [again] = await queue.claim(pool, 10, parts=sorted(second.owned), me="second")
    assert again.id == claimed.id, "what the dead instance was sending is sent again by the survivor"
    # the dead instance's late answer is not written over the survivor's claim
    await queue.record(pool, [Result([claimed], "retry", 503, "late", 1.0, retry_in_s=60)], "first")
    assert await pool.fetchval("SELECT state FROM notifications WHERE id = $1", claimed.id) == "sending"
    await queue.record(pool, [Result([again], "delivered", 200, "ok", 1.0)], "second")
    assert await pool.fetchval("SELECT state FROM notifications WHERE id = $1", claimed.id) == "delivered"


async def test_a_process_that_delivers_beside_a_dispatcher_process_takes_a_smaller_share(pool: asyncpg.Pool) -> None:
    """NOTIFY_ROLE=all with DELIVERY_HANDOFF_SOCKET takes a fifth of the share of a dispatcher (its core also serves
    the API and the intake): 11 partitions against 53, every one held; DELIVERY_SHARE sets it."""
    socket = "handoff.sock"  # never opened here: it only says the dispatcher process is beside
    beside = dispatcher_on(pool, "beside", delivery_handoff_socket=socket)
    dispatcher = dispatcher_on(pool, "dispatcher", notify_role="dispatcher", delivery_handoff_socket=socket)
    await beside.lease_once()
    assert await _owners(pool) == {"beside": set(range(PARTITIONS))}, "alone, it delivers everything"
    for instance in (dispatcher, beside, dispatcher):
        await instance.lease_once()
    owners = await _owners(pool)
    assert (len(owners["beside"]), len(owners["dispatcher"])) == (11, 53)
    assert owners["beside"] | owners["dispatcher"] == set(range(PARTITIONS))

    even = dispatcher_on(pool, "beside", delivery_handoff_socket=socket, delivery_share=1.0)
    even.owned = set(owners["beside"])
    for instance in (even, dispatcher, even):
        await instance.lease_once()
    assert sorted(len(parts) for parts in (await _owners(pool)).values()) == [32, 32]


async def test_the_intake_inserts_each_notice_as_sent_by_the_dispatcher_that_holds_its_partition(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """A process that delivers beside a dispatcher process hands to both: each first notice is inserted as being
    sent by whichever holds its target's partition and comes back with that one's name (`Claimed.by`), for the
    intake to hand it to that one; a target of a partition neither holds is queued for claims."""
    box = SecretBox(notify_settings().notify_secret_key)
    for sub in ("sub-own", "sub-other", "sub-neither"):
        await _subscriber(pool, box, sub, f"http://127.0.0.1:9/{sub}")
    await pool.execute("UPDATE subscribers SET part = (ARRAY[3, 5, 9])[array_position(ARRAY['sub-own', 'sub-other'"
                       ", 'sub-neither'], id)] WHERE org_id = 'org-scale'")  # fmt: skip
    handing = [queue.Handing("own", [1, 3], []), queue.Handing("other", [5, 7], [])]
    event = alert_event(alert.model_copy(update={"org_id": "org-scale", "fingerprint": "fp-both"}), source="/t")
    async with pool.acquire() as conn:
        taken = await repository.take_alone(conn, [event], basic=["webhook"], window_s=0, handing=handing)
    assert taken is not None
    assert taken.queued == 3
    assert sorted((r.subscriber_id, r.part, r.by) for r in taken.handed) == [
        ("sub-other", 5, "other"),
        ("sub-own", 3, "own"),
    ]
    rows = await pool.fetch("SELECT subscriber_id, state, claimed_by FROM notifications WHERE fingerprint = 'fp-both'")
    assert {r["subscriber_id"]: (r["state"], r["claimed_by"]) for r in rows} == {
        "sub-own": ("sending", "own"),
        "sub-other": ("sending", "other"),
        "sub-neither": ("pending", None),
    }


async def test_a_clean_stop_hands_every_partition_back_at_once(pool: asyncpg.Pool) -> None:
    await pool.execute("UPDATE delivery_partitions SET owner = NULL, lease_until = '-infinity'")
    await pool.execute("DELETE FROM delivery_instances")
    leaving, staying = dispatcher_on(pool, "leaving"), dispatcher_on(pool, "staying")
    await leaving.lease_once()
    await staying.lease_once()
    from notify_service.adapters import leases

    await leases.leave(pool, "leaving")
    await staying.lease_once()
    assert await _owners(pool) == {"staying": set(range(PARTITIONS))}


async def test_a_channels_retry_after_still_holds_its_target_after_a_restart(pool: asyncpg.Pool, alert: Alert) -> None:
    cfg = notify_settings()
    box = SecretBox(cfg.notify_secret_key)
    saved = await _subscriber(pool, box, "sub-paused", "http://127.0.0.1:9/paused")
    other = await _subscriber(pool, box, "sub-same-url", "http://127.0.0.1:9/paused")  # the same endpoint
    row = queue.Claimed(1, saved.id, saved.org_id, "webhook", "g", 0, datetime.now(UTC), alert)
    pause = (saved.target_key, 120.0)
    await queue.record(pool, [Result([row], "retry", 429, "HTTP 429", 1.0, retry_in_s=120, pause=pause)])

    restarted = Targets(pool, box, cfg)  # a new process: nothing in memory
    for sub in (saved.id, other.id):
        target = await restarted.get(sub)
        assert target is not None
        assert restarted.limits(target).wait_s() > 100, "Retry-After is honoured after the restart"
    elsewhere = await _subscriber(pool, box, "sub-elsewhere", "http://127.0.0.1:9/fine")
    target = await restarted.get(elsewhere.id)
    assert target is not None
    assert restarted.limits(target).wait_s() == 0, "another endpoint is not held"
    assert saved.target_key == target_key(ChannelType.WEBHOOK, {"url": "http://127.0.0.1:9/paused"})
    part = await pool.fetchval("SELECT part FROM subscribers WHERE id = $1", saved.id)
    assert part == partition_of(saved.target_key)


async def test_retention_purges_old_history_in_batches_and_keeps_what_is_live(pool: asyncpg.Pool, alert: Alert) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    recent = datetime.now(UTC) - timedelta(days=1)
    insert = (
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert, state, created_at, repeated) VALUES ('sub-ret', 'org-ret', 'webhook', 'g', $1, $2, 'critical', $3,"
        " $4, $5, $6, $7)"
    )
    doc = alert.model_dump(mode="json")
    await _subscriber(pool, SecretBox(notify_settings().notify_secret_key), "sub-ret", "http://127.0.0.1:9/ret")
    cases = {  # fingerprint: (status, state, created_at, repeated, kept)
        "old-resolved-delivered": ("resolved", "delivered", old, False, False),
        "old-firing-repeated": ("firing", "delivered", old, True, False),
        "old-cancelled": ("firing", "cancelled", old, False, False),
        "old-firing-awaiting-repeat": ("firing", "delivered", old, False, True),  # the repeat check still needs it
        "old-pending": ("firing", "pending", old, False, True),
        "old-dead": ("firing", "dead", old, False, True),  # staff may re-drive it
        "recent-resolved": ("resolved", "delivered", recent, False, True),
    }
    for i in range(5):  # more than one batch
        cases[f"old-bulk-{i}"] = ("resolved", "delivered", old, False, False)
    for fp, (status, state, at, repeated, _) in cases.items():
        await pool.execute(insert, fp, status, alert.starts_at, doc, state, at, repeated)
    await pool.execute(
        "INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids, fingerprints, attempt,"
        " outcome, detail, latency_ms, attempted_at) VALUES ('org-ret', 'sub-ret', 'webhook', '{1}', '{x}', 1,"
        " 'delivered', 'ok', 1, $1), ('org-ret', 'sub-ret', 'webhook', '{2}', '{y}', 1, 'delivered', 'ok', 1, $2)",
        old,
        recent,
    )
    await pool.execute(
        "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('c', 'old', $1), ('c', 'new', $2)",
        old,
        recent,
    )
    before = PURGED.labels("notifications")._value.get()

    done = await purge_once(pool, [*KIT, *RETENTION], datetime.now(UTC) - timedelta(days=30), batch=2)

    rows = await pool.fetch("SELECT fingerprint FROM notifications WHERE org_id = 'org-ret'")
    kept = {r["fingerprint"] for r in rows}
    assert kept == {fp for fp, case in cases.items() if case[4]}
    assert done["notifications"] == 8
    assert PURGED.labels("notifications")._value.get() - before == 8
    attempts = await pool.fetch("SELECT fingerprints FROM delivery_attempts WHERE org_id = 'org-ret'")
    assert [r["fingerprints"] for r in attempts] == [["y"]]
    events = await pool.fetch("SELECT event_id FROM processed_events WHERE consumer = 'c'")
    assert [r["event_id"] for r in events] == ["new"]


async def test_a_subscriber_saved_without_a_partition_still_gets_its_notifications(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """A subscriber written before partitions existed (or by hand, as the benchmarks do) is hashed by the lease
    loop, and its queued notifications join its partition, so they are claimed."""
    cfg = notify_settings()
    box = SecretBox(cfg.notify_secret_key)
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
        " VALUES ('sub-old', 'org-old', 'proj-1', 'webhook', 'o', $1, '{}', 't')",
        box.seal({"url": "http://127.0.0.1:9/old"}),
    )
    await pool.execute(
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert) VALUES ('sub-old', 'org-old', 'webhook', 'g', 'fp-old', 'firing', 'critical', $1, $2)",
        alert.starts_at,
        alert.model_dump(mode="json"),
    )
    await pool.execute("UPDATE delivery_partitions SET owner = NULL, lease_until = '-infinity'")
    await pool.execute("DELETE FROM delivery_instances")
    dispatcher = Dispatcher(pool, Targets(pool, box, cfg), SendContext(None, cfg), cfg, box=box, me="only")  # type: ignore[arg-type]
    await dispatcher.lease_once()
    claimed = await queue.claim(pool, 10, parts=sorted(dispatcher.owned), me="only")
    assert [c.subscriber_id for c in claimed] == ["sub-old"]
    assert claimed[0].part == partition_of(target_key(ChannelType.WEBHOOK, {"url": "http://127.0.0.1:9/old"}))
    # one more queued without a partition after the subscriber got its own (an older instance in a rolling upgrade)
    await pool.execute(
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert) VALUES ('sub-old', 'org-old', 'webhook', 'g', 'fp-late', 'firing', 'critical', $1, $2)",
        alert.starts_at,
        alert.model_dump(mode="json"),
    )
    await dispatcher.lease_once()
    [late] = await queue.claim(pool, 10, parts=sorted(dispatcher.owned), me="only")
    assert late.id != claimed[0].id, "the late one, not the one already being sent"


async def test_a_claim_takes_whole_groups_so_that_a_group_goes_in_one_message(pool: asyncpg.Pool, alert: Alert) -> None:
    """Two groups of 6 and a claim of at most 10: the first group whole, the second left for the next claim (cut at
    10 it would go out as two messages). A group larger than the claim alone is cut to the claim's size."""
    box = SecretBox(notify_settings().notify_secret_key)
    await _subscriber(pool, box, "sub-groups", "http://127.0.0.1:9/groups")
    sizes = {"g-a": 6, "g-b": 6, "g-c": 15}
    for grp, size in sizes.items():
        await pool.execute(
            "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
            " alert, part, next_attempt_at)"
            " SELECT 'sub-groups', 'org-scale', 'webhook', $1, $1 || '-' || i, 'firing', 'critical', $2, $3, 0,"
            " now() - interval '1 second' FROM generate_series(1, $4) AS i",
            grp,
            alert.starts_at,
            alert.model_dump(mode="json"),
            size,
        )
    claims = []
    while claimed := await queue.claim(pool, 10):
        claims.append(([r.grp for r in claimed], claimed.more))
    assert claims == [
        (["g-a"] * 6, True),  # g-b would not have fitted whole: left for the next claim, which comes at once
        (["g-b"] * 6, True),
        (["g-c"] * 10, True),  # alone larger than a claim: cut to it
        (["g-c"] * 5, False),
    ]


async def test_the_intake_hands_a_local_dispatcher_what_it_may_send_at_once_and_queues_the_rest(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """With no grouping window, the intake inserts the first notices of targets in the partitions a dispatcher of
    its process holds as being sent by it, and returns them to hand over (no claim has to find them). A target whose
    backlog is full, or of a partition held elsewhere, is queued; so is an organisation's notice that a silence
    matches, and the silence holds it. A dispatcher that is not claiming gives back what it is handed."""
    box = SecretBox(notify_settings().notify_secret_key)
    for sub in ("sub-here", "sub-full", "sub-elsewhere"):
        await _subscriber(pool, box, sub, f"http://127.0.0.1:9/{sub}")
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by, part)"
        " VALUES ('sub-muted', 'org-1', 'proj-1', 'webhook', 'm', '\\x00', '{}', 't', 7)"
    )
    part = {r["id"]: r["part"] for r in await pool.fetch("SELECT id, part FROM subscribers")}
    held = [part["sub-here"], part["sub-full"], part["sub-muted"]]
    if part["sub-elsewhere"] in held:  # the URLs hash to partitions: keep the third out of the held ones
        await pool.execute("UPDATE subscribers SET part = $1 WHERE id = 'sub-elsewhere'", max(held) + 1)
    now = datetime.now(UTC)
    owner = Identity(sub="ops", org="org-1", role=Role.ORG_OWNER)
    silence = {
        "matchers": [{"name": "alertname", "value": "disk_full", "isRegex": False, "isEqual": True}],
        "startsAt": now,
        "endsAt": now + timedelta(hours=1),
        "createdBy": "ops",
        "comment": "maintenance",
    }
    await alertmanager_api.post_silence(pool, owner, silence)
    scale = alert.model_copy(update={"org_id": "org-scale", "fingerprint": "fp-here", "starts_at": now})
    muted = alert.model_copy(update={"fingerprint": "fp-muted", "rule": "disk_full", "starts_at": now})
    events = [alert_event(scale, source="/t"), alert_event(muted, source="/t")]

    handing = queue.Handing("me", sorted(held), ["sub-full"])
    async with pool.acquire() as conn, conn.transaction():
        await mute_locks.lock_for_intake(conn, ["org-1", "org-scale"])
        taken = await repository.take_in(conn, events, basic=["webhook"], window_s=0, handing=[handing])
        handed = await mutes.at_intake(conn, events, taken)

    assert taken.queued == 4
    assert taken.ruled == ["org-1"]
    assert [(r.subscriber_id, r.attempts, r.part, r.alert) for r in handed] == [
        ("sub-here", 0, part["sub-here"], scale)
    ]
    rows = await pool.fetch("SELECT subscriber_id, state, claimed_by, held_by FROM notifications")
    assert {r["subscriber_id"]: (r["state"], r["claimed_by"], r["held_by"] is not None) for r in rows} == {
        "sub-here": ("sending", "me", False),
        "sub-full": ("pending", None, False),
        "sub-elsewhere": ("pending", None, False),
        "sub-muted": ("pending", None, True),
    }
    assert sorted(r.subscriber_id for r in await queue.claim(pool, 10, me="other")) == ["sub-elsewhere", "sub-full"]

    await hand_over(dispatcher_on(pool, "me"), handed)  # never started: not claiming
    assert await pool.fetchval("SELECT state FROM notifications WHERE subscriber_id = 'sub-here'") == "pending"


async def test_the_intake_wakes_the_claims_only_for_notifications_it_left_for_them(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """The intake's NOTIFY wakes the claims of every dispatcher. Notifications it handed to the dispatcher of its own
    process need no claim, so it stays silent for them; a notification it queued (here: its target's backlog is
    full) wakes them, and so does one handed and then given back (its organisation has silences, or the dispatcher
    lost the partition meanwhile)."""
    box = SecretBox(notify_settings().notify_secret_key)
    await _subscriber(pool, box, "sub-woken", "http://127.0.0.1:9/woken")
    part = await pool.fetchval("SELECT part FROM subscribers WHERE id = 'sub-woken'")
    heard: asyncio.Queue[str] = asyncio.Queue()

    def wake(_conn: object, _pid: object, _channel: object, payload: str) -> None:
        heard.put_nowait(payload)

    async def take_in(fingerprint: str, full: list[str]) -> tuple[int, int]:
        now = datetime.now(UTC)
        event = alert_event(
            alert.model_copy(update={"org_id": "org-scale", "fingerprint": fingerprint, "starts_at": now}), source="/t"
        )
        async with pool.acquire() as conn, conn.transaction():
            handing = queue.Handing("me", [part], full)
            taken = await repository.take_in(conn, [event], basic=["webhook"], window_s=0, handing=[handing])
        return taken.queued, len(taken.handed)

    listener = await pool.acquire()
    await listener.add_listener(queue.WAKE, wake)
    try:
        assert await take_in("fp-handed", []) == (1, 1)
        await pool.execute(f"NOTIFY {queue.WAKE}, 'marker'")
        assert await within(heard.get(), 5) == "marker", "handed over: no claim woken before the marker"

        assert await take_in("fp-queued", ["sub-woken"]) == (1, 0)
        assert await within(heard.get(), 5) == "", "queued for a claim: the claims are woken"

        sending = await pool.fetchval("SELECT id FROM notifications WHERE state = 'sending'")
        await queue.release(pool, [sending], "me")
        assert await within(heard.get(), 5) == "", "given back: the claims are woken"
        await queue.release(pool, [sending], "me")  # no longer being sent: nothing changes
        await pool.execute(f"NOTIFY {queue.WAKE}, 'marker'")
        assert await within(heard.get(), 5) == "marker", "nothing given back: no claim woken before the marker"
    finally:
        await listener.remove_listener(queue.WAKE, wake)
        await pool.release(listener)


async def _queued_after_quiet_statistics(
    pool: asyncpg.Pool, alert: Alert, sub: str, *, part: str = "0", due: str = "now()"
) -> None:
    """20,000 notifications of `sub` delivered and the statistics taken (no row pending, they say), then 20,000
    pending, in partition `part` and due at `due` (SQL of the series' `i`)."""
    await _subscriber(pool, SecretBox(notify_settings().notify_secret_key), sub, f"http://127.0.0.1:9/{sub}")
    insert = (
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        f" alert, part, state, next_attempt_at) SELECT $6, 'org-scale', 'webhook', $1 || i, $1 || i, 'firing',"
        f" 'critical', $2, $3, {part}, $4, {due} FROM generate_series(1, $5) AS i"
    )
    await pool.execute(insert, "old-", alert.starts_at, alert.model_dump(mode="json"), "delivered", 20_000, sub)
    await pool.execute("ANALYZE notifications")
    await pool.execute(insert, "new-", alert.starts_at, alert.model_dump(mode="json"), "pending", 20_000, sub)


async def test_claims_take_a_burst_at_once_when_the_statistics_were_taken_while_nothing_was_pending(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """Statistics taken while every notification had been delivered (a quiet spell, or an intake that hands its
    rows to its own dispatcher) say that no row is pending; then 20,000 arrive. Each claim reads its rows by the
    values the one before gave it, so the claims drain them: as one statement, one claim re-read its own results
    for every pending row and ran for minutes."""
    await _queued_after_quiet_statistics(pool, alert, "sub-burst")

    async def drain() -> int:
        taken = 0
        while claimed := await queue.claim(pool, 1000, parts=[0], me="burst"):
            taken += len(claimed)
        return taken

    # a bound on a hang, not a speed target: the 20 claims take about a second here (bench/README.md, "claims")
    assert await within(drain(), 120) == 20_000


async def test_the_next_due_time_reads_a_few_entries_when_the_statistics_were_taken_while_nothing_was_pending(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """A dispatcher whose claim found nothing due asks when the next row is due. With statistics that say nothing is
    pending and 20,000 rows queued for a grouping window, the answer comes from the first entries of the due index,
    not from every queued row (min() read them all: 17-22 ms a call in bench_notify_intake.py)."""
    await _queued_after_quiet_statistics(
        pool, alert, "sub-later", part="i % 64", due="now() + make_interval(secs => 3600 + i)"
    )
    first = await pool.fetchval("SELECT min(next_attempt_at) FROM notifications WHERE state = 'pending'")

    mine = list(range(64))
    assert await queue.next_due(pool, mine) == first
    assert await queue.next_due(pool, [5]) == await pool.fetchval(
        "SELECT min(next_attempt_at) FROM notifications WHERE state = 'pending' AND part = 5"
    )
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")  # as next_due plans it
        plan = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {queue.NEXT_DUE}", mine)
    top = plan[0]["Plan"]  # the pool decodes json
    buffers = top["Shared Hit Blocks"] + top["Shared Read Blocks"]
    assert buffers < 50, f"next_due read {buffers} blocks"


async def _read_by_scans(pool: asyncpg.Pool, table: str = "notifications") -> int:
    """Rows of `table` read by whole-table scans so far (what every backend has reported); `entries_read` counts
    index entries read too."""
    count: int = await pool.fetchval("SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = $1", table)
    return count


@pytest.mark.parametrize("outcome", ["delivered", "retry"])
async def test_the_recorder_writes_by_index_on_a_table_that_was_small_when_its_statements_were_planned(
    pool: asyncpg.Pool, alert: Alert, outcome: str
) -> None:
    """The recorder's connection runs the same statements for the life of the process, and Postgres plans each once
    for all after five runs. Planned on a table of 20 rows, that plan read the whole table, and kept reading it as
    the table grew: here ten writes after 20,000 more rows read 200,000 rows instead of none. A retry's update, a
    join with its rows, read the whole primary key instead (index entries count too), when the table had been
    analyzed while empty."""
    await pool.execute("ANALYZE notifications")
    await _subscriber(pool, SecretBox(notify_settings().notify_secret_key), "sub-small", "http://127.0.0.1:9/small")
    insert = (
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert, part, state) SELECT 'sub-small', 'org-scale', 'webhook', $1 || i, $1 || i, 'firing', 'critical', $2,"
        " $3, 0, 'sending' FROM generate_series(1, $4) AS i RETURNING id"
    )
    stored = alert.model_dump(mode="json")
    writer = await queue.writer(pool)
    try:

        async def deliver(ids: list[int]) -> None:
            for i in ids:
                row = queue.Claimed(i, "sub-small", "org-scale", "webhook", "g", 0, alert.starts_at, alert)
                result = Result([row], outcome, 200 if outcome == "delivered" else 503, "ok", 1.0, retry_in_s=1.0)
                await queue.record(writer, [result])

        await deliver([r["id"] for r in await pool.fetch(insert, "small-", alert.starts_at, stored, 20)])
        grown = [r["id"] for r in await pool.fetch(insert, "grown-", alert.starts_at, stored, 20_000)]
        await writer.execute("SELECT pg_stat_force_next_flush()")  # the writes so far are counted before
        before = await entries_read(pool, "notifications")
        await deliver(grown[:10])
        await writer.execute("SELECT pg_stat_force_next_flush()")
        after = await entries_read(pool, "notifications")
    finally:
        await pool.release(writer)

    assert after - before < 1_000
    moved = "delivered" if outcome == "delivered" else "pending"
    assert await pool.fetchval("SELECT count(*) FROM notifications WHERE state = $1", moved) == 30


@pytest.mark.parametrize("analyzed", [False, True], ids=["never-analyzed", "analyzed-empty"])
@pytest.mark.parametrize("batch", [1, 10])
async def test_the_intake_reads_alerts_by_key_on_a_table_that_was_small_when_its_statements_were_planned(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert, analyzed: bool, batch: int
) -> None:
    """The intake's store looks up each alert it takes by organisation and fingerprint. Planned once for all while
    the alerts table held ten alerts, it read the whole table on every run as the table grew: here ten intakes
    after 20,000 more alerts read 200,000 rows instead of none. Planned after statistics that found the table empty
    (ANALYZE before the first alert), the one call's plan read every entry of the table's primary key for each
    alert of a batch (an index read whole: `enable_seqscan = off` does not forbid that): 1,000 alerts took 1.9 s
    of Postgres after 5,000 (bench/bench_notify_rows.py --batch 1000)."""
    if analyzed:
        await pool.execute("ANALYZE alerts")
    settings = notify_settings(grouping_window_s=0)

    async def take(prefix: str) -> None:
        for i in range(10):
            events = [
                alert_event(alert.model_copy(update={"fingerprint": f"{prefix}{i}-{j}"}), source="/t")
                for j in range(batch)
            ]
            await store_alerts(one, events, settings)

    await take("small-")
    await _alerts(pool, alert.org_id, "grown-", "firing", alert, 20000)
    read = await entries_read_by(pool, one, ("alerts",), lambda: take("later-"))

    assert read < 1_000
    assert await pool.fetchval("SELECT count(*) FROM alerts WHERE fingerprint LIKE 'later-%'") == 10 * batch


async def _subscribers_read(pool: asyncpg.Pool) -> int:
    """Rows of subscribers read so far, through its indexes or whole (what every backend has reported)."""
    count: int = await pool.fetchval(
        "SELECT seq_tup_read + COALESCE(idx_tup_fetch, 0) FROM pg_stat_user_tables WHERE relname = 'subscribers'"
    )
    return count


@pytest.mark.parametrize("resolved", [False, True], ids=["firing", "resolved"])
async def test_the_intake_reads_only_its_organisations_subscribers_however_many_others_have(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert, resolved: bool
) -> None:
    """An alert's notices go to its organisation's subscribers, found by organisation. Planned on a new database,
    the store read every active subscriber of every organisation for each intake (in the benchmark, 100
    subscribers for each request of 50 alerts): its cost grew with the number of customers. Here ten intakes of
    ten alerts, planned while one subscriber existed, then run beside 5,000 subscribers of other organisations."""
    settings = notify_settings(grouping_window_s=0)
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
        " VALUES ('sub-mine', $1, $2, 'email', 'o', '\\x00', '{}', 't')",
        alert.org_id,
        alert.project_id,
    )

    async def take(prefix: str) -> None:
        for i in range(10):
            batch = [alert.model_copy(update={"fingerprint": f"{prefix}{i}-{k}"}) for k in range(10)]
            await store_alerts(one, [alert_event(a, source="/t") for a in batch], settings)
            if resolved:
                ended = {"status": AlertStatus.RESOLVED, "ends_at": alert.starts_at}
                over = [a.model_copy(update=ended) for a in batch]
                await store_alerts(one, [alert_event(a, source="/t") for a in over], settings)

    await take("small-")
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
        " SELECT 'sub-' || i, 'org-other-' || i, $1, 'email', 'o', '\\x00', '{}', 't'"
        " FROM generate_series(1, 5000) AS i",
        alert.project_id,
    )
    async with one.acquire() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")  # its reads so far are counted before
    before = await _subscribers_read(pool)
    await take("later-")
    async with one.acquire() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")
    after = await _subscribers_read(pool)

    assert after - before < 1_000
    statuses = ["firing", "resolved"] if resolved else ["firing"]
    queued = await pool.fetch(
        "SELECT status, count(*) FROM notifications WHERE subscriber_id = 'sub-mine' AND fingerprint LIKE 'later-%'"
        " GROUP BY status ORDER BY status"
    )
    assert [(r["status"], r["count"]) for r in queued] == [(s, 100) for s in statuses]


async def test_an_organisations_subscriber_list_and_receivers_read_only_its_subscribers(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert
) -> None:
    """The subscriber list and the Alertmanager API's receivers (also read for its alerts and status) read the
    organisation's subscribers, not those of every organisation: before, each call read the whole table."""
    box = SecretBox(notify_settings().notify_secret_key)
    mine = await _subscriber(pool, box, "sub-listed", "http://127.0.0.1:9/listed")
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
        " SELECT 'sub-' || i, 'org-other-' || i, $1, 'email', 'o', '\\x00', '{}', 't'"
        " FROM generate_series(1, 5000) AS i",
        alert.project_id,
    )
    await pool.execute("ANALYZE subscribers")
    async with one.acquire() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        before = await _subscribers_read(pool)
        for _ in range(10):
            assert [s.id for s in await subscribers.list_for(conn, box, mine.org_id, None)] == ["sub-listed"]
            assert [r["id"] for r in await am_api.receivers(conn, mine.org_id)] == ["sub-listed"]
        await conn.execute("SELECT pg_stat_force_next_flush()")
    assert await _subscribers_read(pool) - before < 1_000


async def test_resolved_alerts_find_their_firing_notices_by_key_on_a_table_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert
) -> None:
    """A resolved alert queues a resolved notice for each subscriber that had its firing notice, found by subscriber,
    fingerprint and start. Planned once for all after statistics that found notifications empty, those lookups
    must still probe an index, not read the table or an index whole as it grows."""
    await _subscriber(pool, SecretBox(notify_settings().notify_secret_key), "sub-res", "http://127.0.0.1:9/res")
    await pool.execute("ANALYZE")
    settings = notify_settings(grouping_window_s=0)
    alert = alert.model_copy(update={"org_id": "org-scale"})
    await pool.execute(
        "INSERT INTO plan_projection (org_id, plan, entitlements, version, event_id) VALUES ('org-scale',"
        " 'enterprise', '{\"alert_channels\": [\"webhook\"]}', 1, 'e-1')"
    )
    firing = [alert.model_copy(update={"fingerprint": f"res-{i}"}) for i in range(20)]

    async def take(alerts: list[Alert]) -> None:
        for a in alerts:
            await store_alerts(one, [alert_event(a, source="/t")], settings)

    await take(firing)
    await take([a.model_copy(update={"status": AlertStatus.RESOLVED}) for a in firing[:10]])
    await pool.execute(
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert, part, state) SELECT 'sub-res', $1, 'webhook', 'g', 'grown-' || i, 'firing', 'critical', $2, $3,"
        " 0, 'delivered' FROM generate_series(1, 20000) AS i",
        alert.org_id,
        alert.starts_at,
        alert.model_dump(mode="json"),
    )
    resolved_later = [a.model_copy(update={"status": AlertStatus.RESOLVED}) for a in firing[10:]]
    read = await entries_read_by(pool, one, ("notifications",), lambda: take(resolved_later))

    assert read < 1_000
    resolved = await pool.fetchval("SELECT count(*) FROM notifications WHERE status = 'resolved'")
    assert resolved == 20, "a resolved notice for each firing one"


async def test_the_mute_check_reads_an_organisations_alerts_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert
) -> None:
    """The mute check of an organisation looks at its firing alerts and those still muted or holding notifications.
    Planned once for all after statistics that found the tables empty, its two EXISTS ran as joins over whole
    indexes of alert_mutes and notifications on every check as they grew."""
    await email_subscriber(pool, "org-0", "proj-1", "sub-m")
    await pool.execute("ANALYZE")

    async def check() -> None:
        for _ in range(10):
            async with one.acquire() as conn, conn.transaction():
                await mute_locks.lock_for_intake(conn, [alert.org_id])  # as the mute check runs: by key
                await mute_locks.candidates(conn, alert.org_id, None)

    await check()
    await _alerts(pool, None, "grown-", "resolved", alert, 20000)
    await pool.execute(
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert, part, state, held_by) SELECT 'sub-m', 'org-' || (i % 100), 'webhook', 'g', 'grown-' || i,"
        " 'firing', 'critical', $1, $2, 0, 'pending', 'silence s-1' FROM generate_series(1, 20000) AS i",
        alert.starts_at,
        alert.model_dump(mode="json"),
    )
    await pool.execute(
        "INSERT INTO alert_mutes (org_id, fingerprint, reason) SELECT 'org-' || (i % 100), 'grown-' || i,"
        " 'silence s-1' FROM generate_series(1, 20000) AS i"
    )
    read = await entries_read_by(pool, one, ("notifications", "alert_mutes"), check)

    # each check probes its organisation's 200 alerts: at most 400 entries, 4,000 for ten checks
    assert read < 10_000, "every organisation's entries were read"


async def test_links_of_tickets_to_alerts_are_checked_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert
) -> None:
    """Every 2 s the links of tickets to alerts not yet told are checked against their alert. Planned once for all
    after statistics that found the tables empty, the check read the whole of alerts for each untold link."""
    await pool.execute("ANALYZE")
    for i in range(3):  # still firing: nothing to tell, the links stay untold
        fingerprint = f"linked-{i}"
        await pool.execute(
            "INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id, event_time)"
            " VALUES ($1, $2, 'firing', $3, $4, $2, now())",
            alert.org_id,
            fingerprint,
            alert.starts_at,
            alert.model_dump(mode="json"),
        )
        await pool.execute(
            "INSERT INTO alert_tickets (org_id, fingerprint, starts_at, ticket_id, link, opened_at)"
            " VALUES ($1, $2, $3, $4, 'https://console.example/t', now())",
            alert.org_id,
            fingerprint,
            alert.starts_at,
            f"t-{i}",
        )

    async def passes() -> None:
        for _ in range(10):
            assert await alert_actions_store.tell_resolved(one) == 0

    await passes()
    await _alerts(pool, alert.org_id, "grown-", "resolved", alert, 20000)
    read = await entries_read_by(pool, one, ("alerts",), passes)

    assert read < 1_000, "the whole of alerts was read"


async def test_the_alertmanager_time_outs_are_checked_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert
) -> None:
    """Every 5 s the alerts posted through the Alertmanager API whose `endsAt` passed are resolved. Planned once for
    all after statistics that found the table empty, the check must still read only what is due (a rewrite that took
    the due rows by row id read all 20,000 entries on every pass, and was not kept)."""
    await pool.execute("ANALYZE")
    later = datetime.now(UTC) + timedelta(hours=1)
    await pool.execute(
        "INSERT INTO am_alert_ends (org_id, fingerprint, starts_at, ends_at, alert) VALUES ($1, 'first', $2, $3, $4)",
        alert.org_id,
        alert.starts_at,
        later,
        alert.model_dump(mode="json"),
    )

    async def passes() -> None:
        for _ in range(10):
            assert await am_api.resolve_timed_out(one) == 0

    await passes()
    await pool.execute(
        "INSERT INTO am_alert_ends (org_id, fingerprint, starts_at, ends_at, alert) SELECT $1, 'grown-' || i, $2,"
        " $3, $4 FROM generate_series(1, 20000) AS i",
        alert.org_id,
        alert.starts_at,
        later,
        alert.model_dump(mode="json"),
    )
    read = await entries_read_by(pool, one, ("am_alert_ends",), passes)

    assert read < 1_000, "the whole table was read"


async def test_the_repeat_check_reads_only_what_is_due_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert
) -> None:
    """Every 30 s the repeat check looks for delivered firing notices whose repeat is due. Planned once for all
    after statistics that found the tables empty, it must still read only the due notices and their alerts, not
    the history."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-r", part=0)
    await pool.execute("ANALYZE")
    grow = (
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert, part, state, delivered_at) SELECT 'sub-r', $1, 'email', 'g', $2 || i, 'firing', 'critical', $3, $4,"
        " 0, 'delivered', now() - make_interval(secs => $6) FROM generate_series(1, $5) AS i"
    )
    stored = alert.model_dump(mode="json")

    async def checks() -> None:
        for _ in range(10):
            await repeat_once(one, notify_settings(repeat_interval_s=3600.0))

    await pool.execute(grow, alert.org_id, "due-", alert.starts_at, stored, 3, 7200.0)
    await _alerts(pool, alert.org_id, "due-", "firing", alert, 3)
    await checks()  # the first three are repeated; then nothing is due
    await pool.execute(grow, alert.org_id, "grown-", alert.starts_at, stored, 20000, 0.0)
    await _alerts(pool, alert.org_id, "grown-", "firing", alert, 20000)
    read = await entries_read_by(pool, one, ("notifications", "alerts"), checks)

    assert read < 1_000, "the history was read"
    assert await pool.fetchval("SELECT count(*) FROM notifications WHERE round = 1") == 3, "the due ones repeated"


async def test_reviving_re_driven_messages_reads_the_re_driven_ones_not_every_dead_message(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """Each pass of the ticket-update loop revives the dead messages an operator re-drove. Dead messages are kept
    for good (re-drivable), so a pass that looked through all of them for a re-driven entry cost more with every
    message that ever died: here ten passes after 20,000 dead messages read 200,000 entries of them."""
    await pool.execute("ANALYZE")
    dead = (
        "INSERT INTO im_messages (event_id, kind, org_id, target, body, state) SELECT $1 || i, 'tam_email', 'org-1',"
        " '{}', '{}', 'dead' FROM generate_series(1, $2) AS i RETURNING id"
    )
    park = "INSERT INTO parked (loop, key, reason) SELECT 'ticket-updates', x::text, 'dead' FROM unnest($1::bigint[]) x"

    async def passes() -> None:
        for _ in range(10):
            async with one.acquire() as conn, conn.transaction():
                await conn.execute("SELECT set_config('enable_seqscan', 'off', true)")  # as the loop runs it
                await im_queue.revive_redriven(conn, "ticket-updates")

    await pool.execute(park, [r["id"] for r in await pool.fetch(dead, "first-", 3)])
    await passes()
    ids = [r["id"] for r in await pool.fetch(dead, "grown-", 20000)]
    await pool.execute(park, ids)
    await pool.execute("UPDATE parked SET redriven_at = now(), redriven_by = 'staff' WHERE key = $1", str(ids[7]))
    read = await entries_read_by(pool, one, ("im_messages",), passes)

    assert read < 1_000, "every dead message was read"
    revived = await pool.fetch("SELECT id FROM im_messages WHERE state = 'pending'")
    assert [r["id"] for r in revived] == [ids[7]], "the re-driven message is due again, and only it"


_OTHERS_ALERTS = (
    "INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id, event_time) SELECT 'org-other',"
    " 'grown-' || i, 'firing', $1, $2, 'event-' || i, now() FROM generate_series(1, 20000) AS i"
)
_OTHERS_ATTEMPTS = (
    "INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids, fingerprints, attempt, outcome,"
    " detail, latency_ms) SELECT 'org-other', 'sub-o', 'webhook', ARRAY[i], ARRAY['grown-' || i], 1, 'delivered',"
    " 'ok', 1 FROM generate_series(1, 20000) AS i"
)


_OTHERS_ACKS = (
    "INSERT INTO alert_acks (org_id, fingerprint, starts_at, episode, acknowledged_by, acknowledged_by_name,"
    " acknowledged_at) SELECT 'org-other', 'grown-' || i, '2026-11-26T08:00:00Z', 0, 'u', 'U', now()"
    " FROM generate_series(1, 20000) AS i"
)


@pytest.mark.parametrize(
    ("read", "table", "grow"),
    [
        ("alertmanager-api-alerts", "alerts", _OTHERS_ALERTS),
        ("delivery-log", "delivery_attempts", _OTHERS_ATTEMPTS),
        ("chat-message-acts", "alerts", _OTHERS_ALERTS + "; " + _OTHERS_ACKS),
    ],
)
async def test_reads_served_per_request_read_the_organisations_rows_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert, read: str, table: str, grow: str
) -> None:
    """The Alertmanager API's alert list, the delivery log and the acknowledgements shown on chat messages read one
    organisation's rows. Planned once for all after statistics that found the tables empty, they read every
    organisation's rows on every request."""
    await pool.execute("ANALYZE")
    calls = {
        "alertmanager-api-alerts": lambda: am_api.firing(one, alert.org_id),
        "delivery-log": lambda: delivery_log.attempts(one, alert.org_id, None, None, 50),
        "chat-message-acts": lambda: alert_actions_store.acts(one, alert.org_id, ["fp-1", "fp-2"]),
    }

    async def requests() -> None:
        for _ in range(10):
            await calls[read]()

    await requests()
    for statement in grow.split("; "):
        if "$1" in statement:
            await pool.execute(statement, alert.starts_at, alert.model_dump(mode="json"))
        else:
            await pool.execute(statement)
    tables = (table, "alert_acks") if read == "chat-message-acts" else (table,)
    read_entries = await entries_read_by(pool, one, tables, requests)

    assert read_entries < 1_000, "every organisation's rows were read"


def _acknowledged(alert: Alert, fingerprint: str) -> AlertAcknowledged:
    return AlertAcknowledged.build(
        source="/ticket-service",
        subject=fingerprint,
        data=AlertAcknowledgedData(
            alert=AlertRef(org_id=alert.org_id, fingerprint=fingerprint, starts_at=alert.starts_at),
            acknowledged_by="u-1",
            acknowledged_at=datetime.now(UTC),
        ),
    )


async def test_acknowledging_reads_the_alerts_firing_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert
) -> None:
    """Each acknowledgement from a chat message (the alert-actions consumer, a pool connection) records who
    acknowledged the alert's current firing, looking its episode up in alerts. Planned once for all after statistics
    that found the tables empty, it must still read that one alert, not every organisation's."""
    await pool.execute("ANALYZE")

    async def acknowledge(prefix: str) -> None:
        for i in range(1, 11):
            await alert_actions_handlers.take_in_action(one, _acknowledged(alert, f"{prefix}{i}"))

    await _alerts(pool, alert.org_id, "first-", "firing", alert, 10)
    await acknowledge("first-")
    await _alerts(pool, "org-other", "grown-", "firing", alert, 20000)
    await _alerts(pool, alert.org_id, "later-", "firing", alert, 10)
    read = await entries_read_by(pool, one, ("alerts",), partial(acknowledge, "later-"))

    assert read < 1_000, "every organisation's alerts were read"
    assert await pool.fetchval("SELECT count(*) FROM alert_acks WHERE org_id = $1", alert.org_id) == 20


@pytest.mark.parametrize("path", ["recorder", "unreadable"])
async def test_a_dead_firing_notice_parks_its_resolved_notice_by_key_on_a_table_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert, path: str
) -> None:
    """A firing notice dead-lettered (by the recorder, on its own connection; or isolated by a claim because its
    stored alert no longer reads, on a pool connection) parks the resolved notice queued after it. Planned once for
    all after statistics that found notifications empty, that update must still read the alert's few notices, not
    the queue."""
    await pool.execute("ANALYZE")
    await _subscriber(pool, SecretBox(notify_settings().notify_secret_key), "sub-d", "http://127.0.0.1:9/dead")
    insert = (
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert, part, state) SELECT 'sub-d', 'org-scale', 'webhook', 'g', $1 || i, $2, 'critical', $3, $4, 0, $5"
        " FROM generate_series(1, $6) AS i ORDER BY i RETURNING id"
    )
    stored = alert.model_dump(mode="json")
    writer = await queue.writer(one) if path == "recorder" else None

    async def dead(prefix: str) -> None:
        ids = await pool.fetch(insert, prefix, "firing", alert.starts_at, stored, "sending", 10)
        await pool.execute(insert, prefix, "resolved", alert.starts_at, stored, "pending", 10)
        for i, r in enumerate(ids, 1):
            fingerprint = f"{prefix}{i}"
            if writer is not None:
                mine = alert.model_copy(update={"fingerprint": fingerprint})
                row = queue.Claimed(r["id"], "sub-d", "org-scale", "webhook", "g", 0, alert.starts_at, mine)
                await queue.record(writer, [Result([row], "dead", 410, "gone", 1.0)])
            else:  # as a claim passes a row whose stored alert no longer reads
                claimed = {"id": r["id"], "subscriber_id": "sub-d", "org_id": "org-scale", "channel": "webhook"}
                claimed |= {"fingerprint": fingerprint, "status": "firing", "starts_at": alert.starts_at}
                await queue._isolate_unreadable(one, [(claimed, "the stored alert no longer validates")])  # type: ignore[list-item]

    try:
        await dead("first-")
        await pool.execute(insert, "grown-", "resolved", alert.starts_at, stored, "pending", 20000)
        if writer is None:
            read = await entries_read_by(pool, one, ("notifications",), partial(dead, "later-"))
        else:  # the recorder holds its connection: its statistics are flushed on it
            await writer.execute("SELECT pg_stat_force_next_flush()")
            before = await entries_read(pool, "notifications")
            await dead("later-")
            await writer.execute("SELECT pg_stat_force_next_flush()")
            read = await entries_read(pool, "notifications") - before
    finally:
        if writer is not None:
            await one.release(writer)

    assert read < 1_000, "the queue was read"
    parked = await pool.fetchval("SELECT count(*) FROM notifications WHERE next_attempt_at = 'infinity'")
    assert parked == 20, "each dead firing notice's resolved notice is parked"


async def test_resolved_alerts_posted_to_the_am_api_drop_their_time_outs_by_key_on_a_table_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert
) -> None:
    """Each Alertmanager-API post with resolved alerts drops their time-outs, in the intake's transaction (its
    locks' statement plans it by key). Planned once for all after statistics that found am_alert_ends empty, the
    delete must still read those alerts' entries, not every organisation's time-outs: it does (10 entries for ten
    posts after 20,000 more), where on a connection not planned by key it read all 20,000 for each post (a guard)."""
    await pool.execute("ANALYZE")
    settings = notify_settings()
    ends = datetime.now(UTC) + timedelta(hours=1)
    time_outs = (
        "INSERT INTO am_alert_ends (org_id, fingerprint, starts_at, ends_at, alert) SELECT $1, $2 || i, $3, $4, $5"
        " FROM generate_series(1, $6) AS i"
    )
    stored = alert.model_dump(mode="json")

    async def posts(prefix: str) -> None:
        for i in range(1, 11):
            resolved = alert.model_copy(update={"fingerprint": f"{prefix}{i}", "status": AlertStatus.RESOLVED})
            taken = [(resolved, ends)]

            async def note_ends(conn: asyncpg.Connection, taken: list[tuple[Alert, datetime]] = taken) -> None:
                await am_api.note_ends(conn, taken)  # as the Alertmanager API's intake notes them

            await store_alerts(one, [alert_event(resolved, source="/t")], settings, also=note_ends)

    await pool.execute(time_outs, alert.org_id, "first-", alert.starts_at, ends, stored, 10)
    await posts("first-")
    await pool.execute(time_outs, "org-other", "grown-", alert.starts_at, ends, stored, 20000)
    await pool.execute(time_outs, alert.org_id, "later-", alert.starts_at, ends, stored, 10)
    read = await entries_read_by(pool, one, ("am_alert_ends",), partial(posts, "later-"))

    assert read < 1_000, "every organisation's time-outs were read"
    assert await pool.fetchval("SELECT count(*) FROM am_alert_ends WHERE org_id = $1", alert.org_id) == 0


async def test_the_mute_check_cancels_what_resolved_while_muted_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool, alert: Alert
) -> None:
    """The mute loop's check of an organisation (`check_due`, a pool connection) cancels the notices of alerts that
    resolved while muted and were never announced. Planned once for all after statistics that found notifications
    empty, it must still read those alerts' notices, not every organisation's queue."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-c", part=0)
    await email_subscriber(pool, "org-other", alert.project_id, "sub-o", part=0)
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "alertname", "value": "disk_full", "isRegex": False, "isEqual": True}],
        "startsAt": now,
        "endsAt": now + timedelta(hours=1),
        "createdBy": "ops",
        "comment": "maintenance",
    }
    await alertmanager_api.post_silence(pool, Identity(sub="ops", org=alert.org_id, role=Role.ORG_OWNER), silence)
    await pool.execute(  # a firing alert the silence does not match: each check releases what it holds
        "INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id, event_time)"
        " VALUES ($1, $2, 'firing', $3, $4, $2, now())",
        alert.org_id,
        alert.fingerprint,
        alert.starts_at,
        alert.model_dump(mode="json"),
    )
    await pool.execute("ANALYZE")
    muted = alert.model_copy(update={"rule": "disk_full", "status": AlertStatus.RESOLVED})
    stored = muted.model_dump(mode="json")
    notices = (
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert, part, state, held_by, next_attempt_at) SELECT $1, $2, 'email', 'g',"
        " CASE WHEN $6 = 1 THEN $3 ELSE $3 || i END, s, 'critical', $4, $5, 0, 'pending', 'silence s-1', 'infinity'"
        " FROM generate_series(1, $6) AS i, unnest('{firing,resolved}'::text[]) AS s"
    )

    async def checks(prefix: str) -> None:
        for i in range(1, 11):
            await pool.execute(
                "INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id, event_time)"
                " VALUES ($1, $2, 'resolved', $3, $4, $2, now())",
                alert.org_id,
                f"{prefix}{i}",
                alert.starts_at,
                stored,
            )
            await pool.execute(notices, "sub-c", alert.org_id, f"{prefix}{i}", alert.starts_at, stored, 1)
            await mute_locks.schedule(pool, alert.org_id, datetime.now(UTC))  # type: ignore[arg-type]
            assert await mutes.check_due(one) == 1

    await checks("first-")
    await pool.execute(notices, "sub-o", "org-other", "grown-", alert.starts_at, stored, 10000)  # 20,000 rows
    read = await entries_read_by(pool, one, ("notifications",), partial(checks, "later-"))

    assert read < 2_000, "every organisation's notices were read"
    cancelled = await pool.fetchval("SELECT count(*) FROM notifications WHERE state = 'cancelled'")
    assert cancelled == 40, "the firing and resolved notices of each alert resolved while muted"


# Rows of each table the retention job purges: $1 rows of age $2, $3 naming them apart (a few old ones purgeable,
# then 20,000 young ones kept)
_HISTORY = {
    "outbox": "INSERT INTO outbox (topic, key, event_id, event_type, payload, created_at, sent_at) SELECT 't', 'k',"
    " $3 || i, 'x', '\\x00', $2, $2 FROM generate_series(1, $1) AS i",
    "processed_events": "INSERT INTO processed_events (consumer, event_id, processed_at) SELECT 'c', $3 || i, $2"
    " FROM generate_series(1, $1) AS i",
    "parked": "INSERT INTO parked (loop, key, reason, parked_at, redriven_at, redriven_by) SELECT 'l', $3 || i, 'r',"
    " $2, $2, 'staff' FROM generate_series(1, $1) AS i",
    "notifications": "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity,"
    " starts_at, alert, state, created_at) SELECT 'sub-ret', 'org-ret', 'webhook', 'g', $3 || i, 'resolved',"
    " 'critical', $2, '{}', 'delivered', $2 FROM generate_series(1, $1) AS i",
    "delivery_attempts": "INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids,"
    " fingerprints, attempt, outcome, detail, latency_ms, attempted_at) SELECT 'org-ret', 'sub-ret', 'webhook',"
    " ARRAY[i], ARRAY[$3 || i], 1, 'delivered', 'ok', 1, $2 FROM generate_series(1, $1) AS i",
    "intake_rejections": "INSERT INTO intake_rejections (org_id, source, alert_index, reason, received_at)"
    " SELECT 'org-ret', $3, i, 'r', $2 FROM generate_series(1, $1) AS i",
    "im_messages": "INSERT INTO im_messages (event_id, kind, org_id, target, body, state, created_at) SELECT $3 || i,"
    " 'k', 'org-ret', '{}', '{}', 'delivered', $2 FROM generate_series(1, $1) AS i",
    "alerts": "INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id, event_time, updated_at)"
    " SELECT 'org-ret', $3 || i, 'resolved', $2, '{}', $3 || i, $2, $2 FROM generate_series(1, $1) AS i",
    "silences": "INSERT INTO silences (id, org_id, matchers, starts_at, ends_at, created_by, comment, author_sub)"
    " SELECT gen_random_uuid(), 'org-ret', '[]', $2, $2, $3, 'c', 'u' FROM generate_series(1, $1) AS i",
    "alert_acks": "INSERT INTO alert_acks (org_id, fingerprint, starts_at, episode, acknowledged_by, acknowledged_at)"
    " SELECT 'org-ret', $3 || i, $2, 0, 'u', $2 FROM generate_series(1, $1) AS i",
    "alert_tickets": "INSERT INTO alert_tickets (org_id, fingerprint, starts_at, ticket_id, link, opened_at, told_at)"
    " SELECT 'org-ret', $3 || i, $2, 't', 'l', $2, $2 FROM generate_series(1, $1) AS i",
}


async def test_retention_batches_read_about_what_they_delete_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """Each retention pass deletes history older than the cut-off, a batch at a time. Planned once for all after
    statistics that found the tables empty, a batch must still read about the rows it deletes, not every row kept
    (the last 30 days are most of each table) once or for each row it deletes: ten passes of three rows a table
    after 20,000 kept read 400,060 entries of most tables (alerts 600,060), and one read of the table a pass
    (200,030-200,165) for those with no index on their age (the rows people write: silences, acknowledgements,
    alert-ticket links); now under 1,000 each. Rows are written in the order of their age, as they are in service:
    the oldest first (each table is purged oldest first by an index on its age, or in id order below the first row
    kept where rows are written in the order of their age)."""
    await _subscriber(pool, SecretBox(notify_settings().notify_secret_key), "sub-ret", "http://127.0.0.1:9/ret")
    await pool.execute("ANALYZE")
    assert set(_HISTORY) == {p.table for p in [*KIT, *RETENTION]}
    old, young = datetime.now(UTC) - timedelta(days=40), datetime.now(UTC) - timedelta(days=1)

    async def history(prefix: str) -> None:  # three rows a table a second of age, ten seconds
        for i in range(10):
            for sql in _HISTORY.values():
                await pool.execute(sql, 3, old + timedelta(seconds=i), f"{prefix}{i}-")

    async def passes() -> None:  # each pass's cut-off a second later: three rows a table to purge
        for i in range(10):
            cutoff = old + timedelta(seconds=i, milliseconds=500)
            assert await purge_once(one, [*KIT, *RETENTION], cutoff, batch=10) == dict.fromkeys(_HISTORY, 3)

    await history("first-")
    await passes()
    await history("later-")
    for sql in _HISTORY.values():
        await pool.execute(sql, 20000, young, "young-")
    async with one.acquire() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")
    before = {table: await entries_read(pool, table) for table in _HISTORY}
    await passes()
    async with one.acquire() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")
    read = {table: await entries_read(pool, table) - before[table] for table in _HISTORY}

    assert {t: n for t, n in read.items() if n >= 1_000} == {}, "the rows kept were read"


async def test_notices_read_the_organisations_contacts_and_plan_by_key_on_tables_analyzed_while_empty(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """Each plan event that causes a notice (the notices consumer, a pool connection) reads the organisation's
    contacts and plan. Planned once for all after statistics that found the tables empty, it must still read that
    organisation's rows, not every organisation's: ten events after 20,000 other organisations read 200,010 rows
    and index entries (the contacts whole for each); now 10."""
    await pool.execute("ANALYZE")
    contacts = (
        "INSERT INTO org_contacts (org_id, version, owner_email, event_id) SELECT $1 || i, 1, 'owner@example.com',"
        " $1 || i FROM generate_series(1, $2) AS i"
    )
    settings = notify_settings()

    async def retirements() -> None:  # each moves the organisation off its legacy plan: a notice to its owner
        for i in range(10):
            event = plan_changed(
                "org-n1", PlanCode.BASIC, i + 1, previous=PlanCode.LEGACY_BASIC, reason=ChangeReason.LEGACY_RETIREMENT
            )
            assert await notices.take_in_plan_event(one, event, settings) == 1

    await pool.execute(contacts, "org-n", 1)
    await retirements()
    await pool.execute(contacts, "org-other-", 20000)
    await pool.execute(
        "INSERT INTO plan_projection (org_id, plan, entitlements, version, event_id) SELECT 'org-other-' || i,"
        " 'basic', '{}', 1, 'e-' || i FROM generate_series(1, 20000) AS i"
    )
    read = await entries_read_by(pool, one, ("org_contacts", "plan_projection"), retirements)

    assert read < 1_000, "every organisation's contacts and plans were read"
    assert await pool.fetchval("SELECT count(*) FROM im_messages WHERE org_id = 'org-n1'") == 20


async def test_purging_delivered_notifications_does_not_read_the_dead_letters(
    pool: asyncpg.Pool, one: asyncpg.Pool
) -> None:
    """Dead letters are kept for good (operators re-drive them) and are deleted with their notification. Each
    notification the retention job purges makes Postgres look for its dead letters: with no index on their
    notification, it read every dead letter for each one purged (ten passes of three after 20,000 dead letters:
    600,000 rows), whatever the statistics; by the index on their notification (migration 010), none."""
    await _subscriber(pool, SecretBox(notify_settings().notify_secret_key), "sub-ret", "http://127.0.0.1:9/ret")
    old = datetime.now(UTC) - timedelta(days=40)
    notifications = _HISTORY["notifications"]
    dead = (
        "WITH n AS (INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity,"
        " starts_at, alert, state) SELECT 'sub-ret', 'org-ret', 'webhook', 'g', 'dead-' || i, 'firing', 'critical',"
        " now(), '{}', 'dead' FROM generate_series(1, 20000) AS i RETURNING id, fingerprint)"
        " INSERT INTO dead_letters (notification_id, subscriber_id, org_id, channel, fingerprint, attempts, reason)"
        " SELECT id, 'sub-ret', 'org-ret', 'webhook', fingerprint, 5, 'gone' FROM n"
    )
    purges = [p for p in RETENTION if p.table == "notifications"]

    async def passes(prefix: str) -> None:
        for i in range(10):
            await pool.execute(notifications, 3, old + timedelta(seconds=i), f"{prefix}{i}-")
            cutoff = old + timedelta(seconds=i, milliseconds=500)
            assert await purge_once(one, purges, cutoff, batch=10) == {"notifications": 3}

    await passes("first-")
    await pool.execute(dead)
    read = await entries_read_by(pool, one, ("dead_letters",), partial(passes, "later-"))

    assert read < 1_000, "every dead letter was read for each notification purged"
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 20000


async def _index_pages_read(pool: asyncpg.Pool, one: asyncpg.Pool, index: str) -> int:
    """Pages of `index` every backend has read so far (from shared buffers or not), flushed from `one` first."""
    async with one.acquire() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")
    pages: int = await pool.fetchval(
        "SELECT idx_blks_hit + idx_blks_read FROM pg_statio_user_indexes WHERE indexrelname = $1", index
    )
    return pages


async def test_a_deleted_subscribers_batches_read_about_what_they_delete(pool: asyncpg.Pool, one: asyncpg.Pool) -> None:
    """A deleted subscriber's notifications go a batch at a time (handlers/purges.py). Each batch must go on from
    where the one before it stopped in the subscriber's range of notifications_natural: started from the beginning,
    it stepped over every entry the batches before it had deleted (not yet vacuumed), and 1,000,000 notifications
    took 13.9 s instead of 6.4 (bench/bench_subscriber_delete.py): here 20,000 in batches of 100 read 37,567 pages
    of the index; now 1,327."""
    await email_subscriber(pool, "org-purge", "proj-1", "sub-purged")
    await past_notifications(pool, "org-purge", "sub-purged", 20000)
    await pool.execute("ANALYZE notifications")
    assert await subscribers.delete(pool, "org-purge", "sub-purged") is True
    before = await _index_pages_read(pool, one, "notifications_natural")
    assert await purge_deleted(one, 100) == 20000
    read = await _index_pages_read(pool, one, "notifications_natural") - before
    assert await pool.fetchval("SELECT count(*) FROM notifications") == 0
    assert read < 3_000, f"{read} pages of the index read to delete 20,000 notifications in batches of 100"
