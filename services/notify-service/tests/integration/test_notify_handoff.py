"""The hand-off between an API process and a dispatcher process over a Unix socket (adapters/handoff.py), on a real
Postgres and a real socket: rows the intake inserts as being sent by the dispatcher reach it; rows it has not taken
when the connection breaks are queued again; a frame that is not one closes only its connection; while nothing is
connected the intake queues its rows for claims."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest
from notify_helpers import email_subscriber
from notify_helpers import settings as notify_settings

from care_schemas.events.alert import Alert, alert_event
from carekit_testing import eventually
from notify_service.adapters import handoff
from notify_service.adapters.handoff import HandoffServer, RemoteDispatcher
from notify_service.adapters.queue import Claimed, Handing
from notify_service.handlers.delivery.dispatcher import Local
from notify_service.handlers.intake import AlertIntake

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
HOLDS = Handing("dispatcher-1", [0], [])


class _Dispatcher:
    """The dispatcher process's side: what it was handed; `stuck` makes it take a batch without ever finishing."""

    def __init__(self) -> None:
        self.taken: list[Claimed] = []
        self.state: Handing | None = HOLDS
        self.stuck = False
        self.arrived, self.unstuck = asyncio.Event(), asyncio.Event()

    async def take(self, rows: Sequence[Claimed]) -> None:
        self.arrived.set()
        if self.stuck:
            await self.unstuck.wait()
            return
        self.taken += rows


@contextlib.asynccontextmanager
async def _serving(path: str, dispatcher: _Dispatcher) -> AsyncIterator[asyncio.Task[None]]:
    server = asyncio.create_task(HandoffServer(path, dispatcher.take, lambda: dispatcher.state).run())

    async def listening() -> bool:
        return os.path.exists(path)  # noqa: ASYNC240 (one stat of a local path)

    try:
        await eventually(listening, timeout_s=10)
        yield server
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


@contextlib.asynccontextmanager
async def _connected(path: str, pool: asyncpg.Pool) -> AsyncIterator[RemoteDispatcher]:
    remote = RemoteDispatcher(path, pool)
    task = asyncio.create_task(remote.run())
    try:
        yield remote
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _socket(tmp_path: Path) -> str:
    return str(tmp_path / "handoff.sock")


async def _post(intake: AlertIntake, alert: Alert, fingerprint: str) -> None:
    event = alert_event(alert.model_copy(update={"fingerprint": fingerprint}), source="/t")
    await intake.accept([event], {event.id: event.data.model_dump_json()}, "http")


async def _states(pool: asyncpg.Pool, sub: str) -> list[tuple[str, str | None]]:
    rows = await pool.fetch("SELECT state, claimed_by FROM notifications WHERE subscriber_id = $1 ORDER BY id", sub)
    return [(r["state"], r["claimed_by"]) for r in rows]


async def _queued_again(pool: asyncpg.Pool, sub: str) -> bool:
    return await _states(pool, sub) == [("pending", None)]


async def test_rows_the_api_inserts_for_the_dispatcher_process_reach_it(
    pool: asyncpg.Pool, alert: Alert, tmp_path: Path
) -> None:
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-h", part=0)
    dispatcher = _Dispatcher()
    async with _serving(_socket(tmp_path), dispatcher), _connected(_socket(tmp_path), pool) as remote:
        async with asyncio.timeout(10):
            await remote.connected.wait()
        assert remote.state() == HOLDS, "the API knows what the dispatcher may take"
        intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local(remote))  # type: ignore[arg-type]
        await _post(intake, alert, "fp-1")
        await _post(intake, alert, "fp-2")

        assert await eventually(lambda: _count(dispatcher.taken, 2), timeout_s=10)
    assert [r.alert.fingerprint for r in dispatcher.taken] == ["fp-1", "fp-2"]
    assert dispatcher.taken[0].alert == alert.model_copy(update={"fingerprint": "fp-1"}), "the alert as stored"
    assert await _states(pool, "sub-h") == [("sending", "dispatcher-1")] * 2, "being sent by the dispatcher"


async def test_what_the_dispatcher_may_take_reaches_the_api_when_it_changes(
    pool: asyncpg.Pool, alert: Alert, tmp_path: Path
) -> None:
    """A dispatcher that holds as many rows as it may, or whose partitions moved, takes nothing more at once: the
    intake queues its rows in Postgres instead."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-f", part=0)
    dispatcher = _Dispatcher()
    async with _serving(_socket(tmp_path), dispatcher), _connected(_socket(tmp_path), pool) as remote:
        async with asyncio.timeout(10):
            await remote.connected.wait()
        dispatcher.state = None  # no room
        await eventually(lambda: _none(remote.state()), timeout_s=10)
        intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local(remote))  # type: ignore[arg-type]
        await _post(intake, alert, "fp-1")
        assert await _states(pool, "sub-f") == [("pending", None)], "queued for a claim"
        dispatcher.state = HOLDS
        await eventually(lambda: _equal(remote.state(), HOLDS), timeout_s=10)
        await _post(intake, alert, "fp-2")
        assert await eventually(lambda: _count(dispatcher.taken, 1), timeout_s=10)
    assert dispatcher.taken[0].alert.fingerprint == "fp-2"


async def _none(value: object) -> bool:
    return value is None


async def _equal(value: object, wanted: object) -> bool:
    return value == wanted


async def _count(rows: list[Claimed], wanted: int) -> bool:
    return len(rows) >= wanted


async def test_rows_the_dispatcher_had_not_taken_when_the_connection_broke_are_queued_again(
    pool: asyncpg.Pool, alert: Alert, tmp_path: Path
) -> None:
    """Left being sent by a dispatcher that never got them, they would wait until it stopped (or forever)."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-b", part=0)
    dispatcher = _Dispatcher()
    dispatcher.stuck = True
    async with _connected(_socket(tmp_path), pool) as remote:
        async with _serving(_socket(tmp_path), dispatcher):
            async with asyncio.timeout(10):
                await remote.connected.wait()
            intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local(remote))  # type: ignore[arg-type]
            await _post(intake, alert, "fp-1")
            async with asyncio.timeout(10):
                await dispatcher.arrived.wait()
            assert await _states(pool, "sub-b") == [("sending", "dispatcher-1")]
        # the dispatcher process is gone before it acknowledged the batch
        assert await eventually(lambda: _queued_again(pool, "sub-b"), timeout_s=10)
        assert remote.state() is None, "nothing is handed while the dispatcher is away"
    dispatcher.unstuck.set()


async def test_a_row_handed_back_is_queued_again_as_the_dispatcher_it_was_inserted_for(
    pool: asyncpg.Pool, alert: Alert, tmp_path: Path
) -> None:
    """The API may give back rows it inserted for a dispatcher process that has since been replaced by one with
    another name (the connection broke between the insert and the hand-off): each row is queued again as the one it
    was inserted for, not as whichever is connected now (that would match no row, and leave it being sent)."""
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-r", part=0)
    intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local(_Gone()))  # type: ignore[arg-type]
    await _post(intake, alert, "fp-r")
    assert await _states(pool, "sub-r") == [("sending", "dispatcher-1")]
    row = await pool.fetchrow("SELECT id, grp, window_from FROM notifications WHERE subscriber_id = 'sub-r'")
    handed = Claimed(
        row["id"], "sub-r", alert.org_id, "email", row["grp"], 0, row["window_from"], alert, 0, "dispatcher-1"
    )
    dispatcher = _Dispatcher()
    dispatcher.state = Handing("dispatcher-2", [0], [])
    async with _serving(_socket(tmp_path), dispatcher), _connected(_socket(tmp_path), pool) as remote:
        await eventually(lambda: _equal(remote.state(), dispatcher.state), timeout_s=10)
        await remote.release([handed])
    assert await _queued_again(pool, "sub-r")


class _Gone:
    """A dispatcher process as the intake saw it just before it went away: it held partition 0, and takes nothing."""

    def handing(self) -> list[Handing]:
        return [HOLDS]

    def hand(self, rows: Sequence[Claimed]) -> list[Claimed]:
        return []  # kept here: the test hands them back itself


async def test_while_no_dispatcher_listens_the_intake_queues_its_rows_for_claims(
    pool: asyncpg.Pool, alert: Alert, tmp_path: Path
) -> None:
    await email_subscriber(pool, alert.org_id, alert.project_id, "sub-n", part=0)
    async with _connected(_socket(tmp_path), pool) as remote:
        intake = AlertIntake(pool, None, notify_settings(grouping_window_s=0), Local(remote))  # type: ignore[arg-type]
        await _post(intake, alert, "fp-1")
    assert await _states(pool, "sub-n") == [("pending", None)]


@pytest.mark.parametrize(
    "garbage",
    [struct.pack("!I", 5) + b"nope!", struct.pack("!I", 1 << 31), struct.pack("!I", 9) + b'{"kind":1}'],
    ids=["not-json", "too-long", "not-a-frame"],
)
async def test_a_frame_that_is_not_one_closes_its_connection_only(
    pool: asyncpg.Pool, alert: Alert, tmp_path: Path, garbage: bytes
) -> None:
    """No input stops the dispatcher's loop: the connection that sent it is closed, the next one is served."""
    dispatcher = _Dispatcher()
    async with _serving(_socket(tmp_path), dispatcher) as server:
        reader, writer = await asyncio.open_unix_connection(_socket(tmp_path))
        writer.write(garbage)
        async with asyncio.timeout(10):
            while await reader.read(65536):  # the state frame, then the end of the connection
                pass
        writer.close()
        assert not server.done(), "the server still runs"
        async with _connected(_socket(tmp_path), pool) as remote:
            async with asyncio.timeout(10):
                await remote.connected.wait()
            assert remote.state() == HOLDS


async def test_a_second_dispatcher_on_the_same_path_takes_it_over_when_the_first_is_gone(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two dispatcher processes given one path: the first serves it, the second claims only; once the first is gone
    the second serves the path, and the API hands its rows to it."""
    monkeypatch.setattr(handoff, "IN_USE_CHECK_S", 0.05)
    first, second = _Dispatcher(), _Dispatcher()
    second.state = Handing("dispatcher-2", [0], [])
    async with _connected(_socket(tmp_path), pool) as remote:
        async with _serving(_socket(tmp_path), first):
            waiting = asyncio.create_task(HandoffServer(_socket(tmp_path), second.take, lambda: second.state).run())
            try:
                await eventually(lambda: _equal(remote.state(), HOLDS), timeout_s=10)
                assert not waiting.done(), "the second waits while the first serves"
            except BaseException:
                waiting.cancel()
                raise
        try:
            await eventually(lambda: _equal(remote.state(), second.state), timeout_s=10)
        finally:
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
