"""Issue 8's second case in notify-service, on real Postgres: a stored row or a result that can never be processed
is isolated with its reason, and every other notification, result, repeat and ticket update goes on."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from notify_helpers import queue_tam_emails, sending_fails_for, settings

from care_schemas.events.alert import Alert
from carekit import parking
from carekit.faults import Retries
from carekit_testing import within
from notify_service.adapters import queue
from notify_service.adapters.channels.base import SendContext
from notify_service.adapters.channels.im import ChatBots
from notify_service.adapters.im_queue import ImMessage
from notify_service.adapters.queue import Result
from notify_service.domain.classify import Outcome, Verdict
from notify_service.handlers.delivery.dispatcher import Dispatcher
from notify_service.handlers.delivery.scheduler import repeat_once
from notify_service.handlers.delivery.ticket_updates import TicketUpdates

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def _subscriber(pool: asyncpg.Pool, sub: str, alert: Alert) -> None:
    await pool.execute(
        "INSERT INTO subscribers (id, org_id, project_id, type, name, secret, display, created_by)"
        " VALUES ($1, $2, $3, 'email', 'n', '\\x00', '{}', 't')",
        sub,
        alert.org_id,
        alert.project_id,
    )


async def _notification(pool: asyncpg.Pool, sub: str, alert: Alert, stored: dict[str, Any], **cols: Any) -> int:
    row_id: int = await pool.fetchval(
        "INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at,"
        " alert, state, delivered_at) VALUES ($1, $2, 'email', $1 || '/', $3, 'firing', $4, $5, $6, $7, $8)"
        " RETURNING id",
        sub,
        alert.org_id,
        alert.fingerprint,
        alert.severity.value,
        alert.starts_at,
        stored,
        cols.get("state", "pending"),
        cols.get("delivered_at"),
    )
    return row_id


async def test_a_stored_alert_that_no_longer_validates_is_dead_lettered_and_the_others_are_claimed(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """Before, claim() validated every row it took: one bad row crashed delivery for everyone, on every claim."""
    await _subscriber(pool, "sub-claim", alert)
    good = alert.model_copy(update={"fingerprint": "fp-good"})
    bad = alert.model_copy(update={"fingerprint": "fp-bad"})
    broken = bad.model_dump(mode="json")
    del broken["summary"]  # stored before a schema change, or edited by hand
    bad_id = await _notification(pool, "sub-claim", bad, broken)
    await _notification(pool, "sub-claim", good, good.model_dump(mode="json"))

    [claimed] = await queue.claim(pool, 10)
    assert claimed.alert.fingerprint == "fp-good"
    state = await pool.fetchval("SELECT state FROM notifications WHERE id = $1", bad_id)
    reason = await pool.fetchval("SELECT reason FROM dead_letters WHERE notification_id = $1", bad_id)
    assert state == "dead"
    assert reason == "the stored alert no longer validates: summary: Field required"
    published = await pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'care.notify.dead_lettered.v1'")
    assert published == 1, "operators see it on notify.deadletter.v1 too, and can re-drive it"


async def test_a_result_that_cannot_be_recorded_is_isolated_and_the_others_are_recorded(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """Before, the recorder retried the same batch forever: no result after it was ever written."""
    await _subscriber(pool, "sub-rec", alert)
    for n in range(3):
        a = alert.model_copy(update={"fingerprint": f"fp-rec-{n}"})
        await _notification(pool, "sub-rec", a, a.model_dump(mode="json"))
    rows = sorted(await queue.claim(pool, 10), key=lambda r: r.alert.fingerprint)
    assert [r.alert.fingerprint for r in rows] == ["fp-rec-0", "fp-rec-1", "fp-rec-2"]
    batch = [
        Result([rows[0]], "delivered", 200, "ok", 1.0),
        Result([rows[1]], "retry", 2**40, "an answer no int column holds", 1.0),  # asyncpg cannot encode it
        Result([rows[2]], "retry", 500, "HTTP 500: disk \x00 full", 1.0),  # NUL from an endpoint's answer
    ]
    await Dispatcher(pool, None, None, settings()).record(batch)  # type: ignore[arg-type]

    states = {
        r["fingerprint"]: (r["state"], r["last_error"])
        for r in await pool.fetch(
            "SELECT fingerprint, state, last_error FROM notifications WHERE subscriber_id = 'sub-rec'"
        )
    }
    assert states["fp-rec-0"] == ("delivered", None)
    assert states["fp-rec-2"] == ("pending", "HTTP 500: disk \\u0000 full")
    dead_state, why = states["fp-rec-1"]
    assert dead_state == "dead"
    assert why.startswith("the delivery result could not be recorded: DataError")


async def test_the_recorder_outlives_its_connection_being_killed(pool: asyncpg.Pool, alert: Alert) -> None:
    """The recorder keeps one connection for its writes; when Postgres ends it (a restart, a failover, an
    operator), the write in hand is retried on a new connection and senders' results keep being written."""
    await _subscriber(pool, "sub-conn", alert)
    for n in range(2):
        a = alert.model_copy(update={"fingerprint": f"fp-conn-{n}"})
        await _notification(pool, "sub-conn", a, a.model_dump(mode="json"))
    first, second = sorted(await queue.claim(pool, 10), key=lambda r: r.alert.fingerprint)
    dispatcher = Dispatcher(pool, None, None, settings(), me=None)  # type: ignore[arg-type]
    dispatcher._recorder = Retries("delivery-recorder", base_s=0.05, max_s=0.2)
    recorder = asyncio.create_task(dispatcher.record_forever())
    try:
        await within(dispatcher._put(Result([first], "delivered", 200, "ok", 1.0)), 10)
        assert dispatcher._writer is not None
        killed = await pool.fetchval("SELECT pg_terminate_backend($1)", dispatcher._writer.get_server_pid())
        assert killed
        await within(dispatcher._put(Result([second], "delivered", 200, "ok", 1.0)), 10)
    finally:
        recorder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recorder
    states = await pool.fetch("SELECT state FROM notifications WHERE subscriber_id = 'sub-conn'")
    assert [r["state"] for r in states] == ["delivered", "delivered"]
    assert dispatcher._writer is None, "given back to the pool when the recorder stopped"


async def test_a_repeat_that_cannot_be_queued_is_parked_and_the_other_alerts_repeat(
    pool: asyncpg.Pool, alert: Alert
) -> None:
    """Before, one statement queued every repeat: one bad stored alert stopped repeats for everyone."""
    await _subscriber(pool, "sub-rep", alert)
    long_ago = datetime.now(UTC) - timedelta(hours=4)
    latest: dict[str, int] = {}
    for fp in ("fp-rep-good", "fp-rep-bad"):
        a = alert.model_copy(update={"fingerprint": fp, "org_id": "org-rep"})
        stored = a.model_dump(mode="json")
        await pool.execute(
            "INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id)"
            " VALUES ($1, $2, 'firing', $3, $4, 'e')",
            a.org_id,
            fp,
            a.starts_at,
            {k: v for k, v in stored.items() if not (fp == "fp-rep-bad" and k == "severity")},
        )
        latest[fp] = await _notification(pool, "sub-rep", a, stored, state="delivered", delivered_at=long_ago)
    await pool.execute("UPDATE subscribers SET org_id = 'org-rep' WHERE id = 'sub-rep'")

    assert await repeat_once(pool, settings()) == 1
    repeated = await pool.fetch("SELECT fingerprint FROM notifications WHERE subscriber_id = 'sub-rep' AND round = 1")
    assert [r["fingerprint"] for r in repeated] == ["fp-rep-good"]
    [entry] = await parking.parked(pool, loop="repeats")
    assert entry["key"] == str(latest["fp-rep-bad"])
    assert "NotNullViolation" in entry["reason"]
    assert await repeat_once(pool, settings()) == 0, "a parked repeat is not tried on every pass"


async def test_a_ticket_update_that_keeps_failing_inside_notify_is_parked_and_the_others_are_sent(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await queue_tam_emails(pool, "org-i", ["iso-1", "iso-2"])
    sent = sending_fails_for(monkeypatch, "tam1@example.com", KeyError("text"))
    updates = TicketUpdates(pool, SendContext(None, settings()), ChatBots(settings()))  # type: ignore[arg-type]
    for _ in range(3):  # a bug: retried POISON_ATTEMPTS times, then given up and parked
        await updates.drain_once()
        await pool.execute("UPDATE im_messages SET next_attempt_at = now() WHERE state = 'pending'")
    states = {r["event_id"]: r["state"] for r in await pool.fetch("SELECT event_id, state FROM im_messages")}
    assert states["iso-1"] == "dead"
    assert states["iso-2"] == "delivered"
    assert sent == ["tam2@example.com"]
    [entry] = await parking.parked(pool, loop="ticket-updates")
    assert entry["reason"].startswith("tam_email: internal error: KeyError")

    # an operator re-drives it: it is due again, with a fresh retry window
    assert await parking.redrive(pool, entry["id"], "ops") == "ticket-updates"
    monkeypatch.setattr(TicketUpdates, "send", lambda self, m: _ok(sent, m))
    await updates.drain_once()
    assert await pool.fetchval("SELECT state FROM im_messages WHERE event_id = 'iso-1'") == "delivered"


async def _ok(sent: list[str], message: ImMessage) -> Outcome:
    sent.append(message.target["address"])
    return Outcome(Verdict.OK, "SMTP 250 accepted", 250)
