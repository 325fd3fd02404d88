"""The dispatcher's senders: an unexpected failure while rendering or sending never strands notifications, and a
target never has more messages sent and unwritten than its senders."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import gc
import json
import re
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from notify_helpers import settings, target

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from carekit.foreground import Foreground
from carekit_testing import eventually, within
from notify_service.adapters import queue
from notify_service.adapters.channels import REGISTRY
from notify_service.adapters.channels.base import SendContext, Target
from notify_service.adapters.queue import Claimed, Result
from notify_service.adapters.secrets import SecretBox
from notify_service.config import Settings
from notify_service.domain.classify import Outcome, Verdict
from notify_service.handlers.delivery import dispatcher as dispatcher_module
from notify_service.handlers.delivery.backlog import Backlog
from notify_service.handlers.delivery.beside import Beside
from notify_service.handlers.delivery.dispatcher import RECORD_YIELD_S, Dispatcher, hand_over
from notify_service.handlers.delivery.targets import Targets

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]


def queued(rows: Iterable[Claimed]) -> Backlog:
    """One target's backlog holding these rows (all of one channel)."""
    rows = list(rows)
    pending = Backlog(REGISTRY[ChannelType(rows[0].channel)].groups)
    pending.extend(rows)
    return pending


SECRET_URL = "https://hooks.example.com/hook/T0/secret-token-4711"


def _dispatcher(cfg: Settings | None = None, foreground: Foreground | None = None) -> Dispatcher:
    """A dispatcher without Postgres or HTTP: tests drive its senders and stand in for its recorder."""
    cfg = cfg or settings()
    box = SecretBox(cfg.notify_secret_key)
    targets = Targets(None, box, cfg)  # type: ignore[arg-type]
    return Dispatcher(None, targets, SendContext(None, cfg), cfg, foreground=foreground)  # type: ignore[arg-type]


def _loaded(dispatcher: Dispatcher, url: str) -> Target:
    """A webhook subscriber the dispatcher has already loaded (no database needed to send to it)."""
    hook = target(ChannelType.WEBHOOK, {"url": url})
    dispatcher._targets._cache[hook.subscriber_id] = (time.monotonic(), hook)
    return hook


def _webhook_sends(monkeypatch: pytest.MonkeyPatch, send: Any) -> None:
    """The webhook channel sends through `send` for this test (render unchanged)."""
    monkeypatch.setitem(REGISTRY, ChannelType.WEBHOOK, dataclasses.replace(REGISTRY[ChannelType.WEBHOOK], send=send))


def _claiming(monkeypatch: pytest.MonkeyPatch, cfg: Settings) -> tuple[Dispatcher, asyncio.Event]:
    """A dispatcher claiming partition 0, whose webhook sends are answered 200 once the event is set."""
    dispatcher = _dispatcher(cfg)
    dispatcher._running, dispatcher.owned = True, {0}
    answer = asyncio.Event()

    async def send(ctx: Any, t: Any, rendered: Any) -> Outcome:
        await answer.wait()
        return Outcome(Verdict.OK, "HTTP 200", 200)

    _webhook_sends(monkeypatch, send)
    return dispatcher, answer


async def test_a_channel_that_raises_returns_its_notifications_for_a_retry(
    alert: Alert, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(ctx: Any, t: Any, rendered: Any) -> Any:
        raise ValueError(f"cannot post to {SECRET_URL}")

    _webhook_sends(monkeypatch, explode)
    dispatcher = _dispatcher()
    rows = queued([Claimed(7, "sub-1", "org-1", "webhook", "sub-1/", 0, datetime.now(UTC), alert)])
    await dispatcher._start_next(target(ChannelType.WEBHOOK, {"url": SECRET_URL}), rows)

    result = await within(dispatcher._results.get(), 1)
    assert [r.id for r in result.rows] == [7]
    assert result.outcome == "retry"
    assert "internal error: ValueError" in result.detail
    assert "secret-token-4711" not in result.detail
    assert "secret-token-4711" not in caplog.text


async def test_a_render_failure_returns_the_whole_group_for_a_retry(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any) -> Any:
        raise RuntimeError("render bug")

    broken = dataclasses.replace(REGISTRY[ChannelType.SLACK], render=explode)
    monkeypatch.setitem(REGISTRY, ChannelType.SLACK, broken)
    dispatcher = _dispatcher()
    rows = queued(Claimed(i, "sub-1", "org-1", "slack", "sub-1/cl-1", 0, datetime.now(UTC), alert) for i in range(1, 4))
    slack = target(ChannelType.SLACK, {"webhook_url": "https://hooks.slack.com/services/T0/B0/abcdefghijkl"})
    await dispatcher._start_next(slack, rows)

    result = await within(dispatcher._results.get(), 1)
    assert sorted(r.id for r in result.rows) == [1, 2, 3]
    assert result.outcome == "retry"


async def test_hanging_targets_cannot_hold_every_send_slot_while_a_healthy_target_waits(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    started: dict[str, float] = {}

    async def send(ctx: Any, t: Any, rendered: Any) -> Outcome:
        started[t.config["url"]] = loop.time()
        if "hang" in t.config["url"]:
            await asyncio.sleep(0.5)
            return Outcome(Verdict.RETRY, "timeout after 15s")
        return Outcome(Verdict.OK, "HTTP 200", 200)

    _webhook_sends(monkeypatch, send)
    cfg = settings(delivery_concurrency=4, webhook_rate_per_s=1000, webhook_burst=1000)
    dispatcher = _dispatcher(cfg)
    hanging = [target(ChannelType.WEBHOOK, {"url": f"https://hooks.example.com/hang/{i}"}) for i in range(6)]
    hanging = [dataclasses.replace(t, subscriber_id=f"sub-hang-{i}") for i, t in enumerate(hanging)]
    healthy = dataclasses.replace(
        target(ChannelType.WEBHOOK, {"url": "https://hooks.example.com/ok"}), subscriber_id="ok"
    )

    def row(i: int, t: Any) -> Backlog:
        return queued(
            [Claimed(i, t.subscriber_id, "org-1", "webhook", f"{t.subscriber_id}/", 0, datetime.now(UTC), alert)]
        )

    # first round: the endpoints hang until they time out
    await asyncio.gather(*(dispatcher._start_next(t, row(i, t)) for i, t in enumerate(hanging)))
    # they are retried, still hanging, while a healthy target has something to send
    retries = [asyncio.create_task(dispatcher._start_next(t, row(10 + i, t))) for i, t in enumerate(hanging)]
    await asyncio.sleep(0.05)
    await dispatcher._start_next(healthy, row(99, healthy))
    assert not all(r.done() for r in retries), "the healthy target waited for hanging ones"
    await asyncio.gather(*retries)


async def test_a_target_never_has_more_messages_unwritten_than_its_senders_and_each_row_goes_once(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash bound rests on this: at most DELIVERY_TARGET_INFLIGHT messages of a target are sent and not yet
    written. Rows handed out while the target's senders run get senders of their own, up to that number."""
    inflight = 3
    cfg = settings(delivery_target_inflight=inflight, webhook_rate_per_s=1000, webhook_burst=1000)
    dispatcher = _dispatcher(cfg)
    hook = _loaded(dispatcher, "https://hooks.example.com/slow")
    unwritten, most, written = 0, 0, []

    async def send(ctx: Any, t: Any, rendered: Any) -> Outcome:
        nonlocal unwritten, most
        unwritten += 1
        most = max(most, unwritten)
        await asyncio.sleep(0.005)
        return Outcome(Verdict.OK, "HTTP 200", 200)

    async def recorder() -> None:  # writing answers takes longer than sending: senders must wait for it
        nonlocal unwritten
        while True:
            result = await dispatcher._results.get()
            await asyncio.sleep(0.02)
            written.extend(r.id for r in result.rows)
            unwritten -= 1
            dispatcher._durable.pop(id(result)).set_result(None)

    _webhook_sends(monkeypatch, send)
    rows = [
        Claimed(i, hook.subscriber_id, "org-1", "webhook", f"sub-1/={i}", 0, datetime.now(UTC), alert)
        for i in range(20)
    ]
    writing = asyncio.create_task(recorder())
    try:
        dispatcher._hand_out(rows[:1])  # one row: one sender
        await asyncio.sleep(0.001)
        dispatcher._hand_out(rows[1:])  # more while it sends

        async def settled() -> bool:
            return len(written) == 20 and not dispatcher._lanes

        await eventually(settled, timeout_s=5, interval_s=0.01)
    finally:
        writing.cancel()
    assert sorted(written) == list(range(20)), "every row sent once"
    assert most == inflight, f"at most {inflight} messages sent and unwritten, and that many used (saw {most})"
    assert not dispatcher._queues, "no backlog left behind"
    assert dispatcher.in_memory == 0, "no row counted in memory"


class _Poll:
    """Stands in for a poll of the intake (thousands of records) held in FastStream's context while handled."""


_CURRENT_POLL: contextvars.ContextVar[_Poll] = contextvars.ContextVar("current_poll")


async def test_senders_opened_by_the_intake_do_not_keep_its_poll_in_memory(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intake hands its rows to the dispatcher from inside its handler, where FastStream's context holds the
    poll; the senders it opens live on, and must not keep that poll alive once the handler is done."""
    cfg = settings(webhook_rate_per_s=1000, webhook_burst=1000)
    dispatcher = _dispatcher(cfg)
    hook = _loaded(dispatcher, "https://hooks.example.com/slow")
    sending, answer = asyncio.Event(), asyncio.Event()

    async def send(ctx: Any, t: Any, rendered: Any) -> Outcome:
        sending.set()
        await answer.wait()
        return Outcome(Verdict.OK, "HTTP 200", 200)

    _webhook_sends(monkeypatch, send)
    row = Claimed(3, hook.subscriber_id, "org-1", "webhook", "sub-1/", 0, datetime.now(UTC), alert)

    def handler() -> weakref.ref[_Poll]:
        poll = _Poll()
        _CURRENT_POLL.set(poll)
        dispatcher._hand_out([row])
        return weakref.ref(poll)

    try:
        handling = contextvars.copy_context()
        held = handling.run(handler)
        del handling  # the handler is done: nothing but the sender could keep its poll now
        await within(sending.wait(), 5)
        gc.collect()
        assert dispatcher._lanes, "the sender is still at work"
        assert held() is None, "the finished handler's poll is not kept alive by the sender it opened"
    finally:
        answer.set()
    result = await within(dispatcher._results.get(), 5)
    assert [r.id for r in result.rows] == [3]
    dispatcher._durable.pop(id(result)).set_result(None)


async def test_an_outage_while_loading_the_subscriber_is_waited_out_without_costing_its_rows_an_attempt(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = settings(webhook_rate_per_s=1000, webhook_burst=1000)
    dispatcher = _dispatcher(cfg)
    hook = target(ChannelType.WEBHOOK, {"url": "https://hooks.example.com/ok"})
    lookups = 0

    async def get(subscriber_id: str) -> Any:  # Postgres is unreachable the first time the subscriber is loaded
        nonlocal lookups
        lookups += 1
        if lookups == 1:
            raise ConnectionRefusedError("connect call failed ('127.0.0.1', 5432)")
        return hook

    async def send(ctx: Any, t: Any, rendered: Any) -> Outcome:
        return Outcome(Verdict.OK, "HTTP 200", 200)

    monkeypatch.setattr(dispatcher._targets, "get", get)
    _webhook_sends(monkeypatch, send)
    dispatcher._hand_out([Claimed(5, hook.subscriber_id, "org-1", "webhook", "sub-1/", 0, datetime.now(UTC), alert)])

    result = await within(dispatcher._results.get(), 5)
    assert (result.outcome, [r.id for r in result.rows]) == ("delivered", [5]), "sent once the database is back"
    assert lookups == 2
    dispatcher._durable.pop(id(result)).set_result(None)


async def _deliver_all(dispatcher: Dispatcher, zoom: Any, rows: Backlog) -> list[Any]:
    """Run one target's worker step until its rows are settled; every result, in order."""
    results = []
    while rows:
        await dispatcher._start_next(zoom, rows)
        while not dispatcher._results.empty():
            results.append(dispatcher._results.get_nowait())
    return results


def _storm(alert: Alert, n: int) -> Backlog:
    return queued(
        Claimed(
            i,
            "sub-zoom",
            "org-1",
            "zoom",
            "sub-zoom/cl-1",
            0,
            datetime.now(UTC),
            alert.model_copy(update={"fingerprint": f"storm-{i:04d}", "summary": f"instance tikv-{i} is unhappy"}),
        )
        for i in range(n)
    )


@pytest.mark.parametrize("refuse_over", [None, 10], ids=["zoom-limit", "endpoint-stricter-than-documented"])
async def test_a_storm_of_120_zoom_alerts_arrives_once_each(
    alert: Alert, monkeypatch: pytest.MonkeyPatch, refuse_over: int | None
) -> None:
    """Sized to Zoom's limit as sent (JSON, escapes counted), 120 alerts need no 413 re-send; and where an
    endpoint refuses smaller messages still, the re-send in halves carries each alert exactly once."""
    accepted: list[list[str]] = []

    async def zoom_endpoint(ctx: Any, t: Any, rendered: Any) -> Outcome:
        body = rendered.payload["body"]
        named = re.findall(r"storm-\d{4}", body[0]["text"])
        too_long = len(json.dumps(body)) > 4200  # what the local Zoom stand-in (tests/fakes) refuses
        if too_long or (refuse_over is not None and len(named) > refuse_over):
            return Outcome(Verdict.PERMANENT, "payload too large (HTTP 413)", 413)
        accepted.append(named)
        return Outcome(Verdict.OK, "HTTP 200", 200)

    monkeypatch.setitem(REGISTRY, ChannelType.ZOOM, dataclasses.replace(REGISTRY[ChannelType.ZOOM], send=zoom_endpoint))
    cfg = settings(zoom_rate_per_s=10_000)
    dispatcher = _dispatcher(cfg)
    zoom = dataclasses.replace(
        target(ChannelType.ZOOM, {"endpoint_url": "https://x.zoom.us/inbound/webhook/a", "verification_token": "t"}),
        subscriber_id="sub-zoom",
    )
    results = await _deliver_all(dispatcher, zoom, _storm(alert, 120))

    everything = sorted(name for message in accepted for name in message)
    assert everything == [f"storm-{i:04d}" for i in range(120)], "each alert in exactly one accepted message"
    assert sorted(r.id for res in results if res.outcome == "delivered" for r in res.rows) == list(range(120))
    resplits = [res for res in results if res.outcome == "resplit"]
    assert (len(resplits) == 0) if refuse_over is None else (len(resplits) >= 1)


async def test_the_intake_hands_over_no_more_than_the_rows_a_dispatcher_may_hold(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DELIVERY_HELD_ROWS bounds what waits in memory: once that many rows wait unsent, the intake queues its
    notifications in Postgres (state() says none) and claims stop, until senders have taken rows off."""
    dispatcher, answer = _claiming(
        monkeypatch, settings(delivery_held_rows=5, webhook_rate_per_s=1000, webhook_burst=1000)
    )
    hook = _loaded(dispatcher, "https://hooks.example.com/held")
    rows = [
        Claimed(i, hook.subscriber_id, "org-1", "webhook", f"sub-1/={i}", 0, datetime.now(UTC), alert) for i in range(5)
    ]
    assert dispatcher.state() is not None, "room for rows: the intake hands them over"
    dispatcher._hand_out(rows[:4])
    assert dispatcher.state() is not None, "4 of 5 held"
    dispatcher._hand_out(rows[4:])
    assert dispatcher.state() is None, "5 of 5 held: the intake queues in Postgres"
    assert not dispatcher._room(), "and claims wait"
    answer.set()
    for _ in range(5):
        result = await within(dispatcher._results.get(), 5)
        dispatcher._durable.pop(id(result)).set_result(None)
    assert dispatcher.in_memory == 0
    assert dispatcher.state() is not None, "sent: room again"


async def test_the_claims_are_woken_only_for_rows_the_dispatcher_left_in_postgres(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows the dispatcher left in Postgres wake its claims: those left for lack of room once a row is sent, those of
    a target whose backlog was full once its senders finish. Otherwise nothing does (anything else new comes with a
    NOTIFY): before, every burst sent cost an empty claim, 120 of the 124 claims of a 5,000-alert run."""
    cfg = settings(delivery_held_rows=3, delivery_target_backlog=2, webhook_rate_per_s=1000, webhook_burst=1000)
    dispatcher, answer = _claiming(monkeypatch, cfg)
    hooks = [_loaded(dispatcher, f"https://hooks.example.com/woken-{i}") for i in range(3)]

    def hand_out(hook: Target, *ids: int) -> None:
        dispatcher._hand_out(
            [Claimed(i, hook.subscriber_id, "org-1", "webhook", f"g{i}", 0, datetime.now(UTC), alert) for i in ids]
        )

    async def answered(n: int) -> None:
        answer.set()
        for _ in range(n):
            result = await within(dispatcher._results.get(), 5)
            dispatcher._durable.pop(id(result)).set_result(None)

        async def finished() -> bool:
            return not dispatcher._lanes

        await eventually(finished, timeout_s=5, interval_s=0.01)
        answer.clear()

    assert dispatcher.state() is not None
    hand_out(hooks[0], 1)
    await answered(1)
    assert not dispatcher._wake.is_set(), "everything was handed over and sent: no claim to make"

    for hook, row in zip(hooks, (2, 3, 4), strict=True):
        hand_out(hook, row)
    assert dispatcher.state() is None, "3 of 3 held: the intake queues the next notifications in Postgres"
    await answered(3)
    assert dispatcher._wake.is_set(), "room again: the claims take what was left"
    dispatcher._wake.clear()

    hand_out(hooks[0], 5, 6)
    handing = dispatcher.state()
    assert handing is not None
    assert handing.full == [hooks[0].subscriber_id], "its backlog is full: the intake queues its rows in Postgres"
    await answered(2)
    assert dispatcher._wake.is_set(), "its senders finished: the claims take what was left of it"


async def test_a_claim_that_left_rows_for_lack_of_room_claims_again_as_soon_as_a_row_is_sent(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim that filled the dispatcher's memory with more still due claims again as soon as a row is sent, not
    after the poll interval (60 s here)."""
    cfg = settings(
        delivery_held_rows=2, delivery_claim_batch=2, delivery_poll_interval_s=60, webhook_rate_per_s=1000,
        webhook_burst=1000,
    )  # fmt: skip
    dispatcher, answer = _claiming(monkeypatch, cfg)
    hook = _loaded(dispatcher, "https://hooks.example.com/claimed")
    batches = iter([[1, 2], [3]])
    claimed: asyncio.Queue[list[int]] = asyncio.Queue()

    async def claim(pool: Any, limit: int, skip: Any = (), *, parts: Any = None, me: Any = None) -> queue.Claims:
        ids = next(batches, [])
        rows = queue.Claims(
            Claimed(i, hook.subscriber_id, "org-1", "webhook", f"g{i}", 0, datetime.now(UTC), alert) for i in ids
        )
        rows.more = ids == [1, 2]
        claimed.put_nowait(ids)
        return rows

    async def next_due(pool: Any, parts: Any) -> None:
        return None

    monkeypatch.setattr(queue, "claim", claim)
    monkeypatch.setattr(queue, "next_due", next_due)
    claiming = asyncio.create_task(dispatcher._claim_forever())
    try:
        assert await within(claimed.get(), 5) == [1, 2], "a full claim, more due, and no room left"
        answer.set()
        result = await within(dispatcher._results.get(), 5)
        dispatcher._durable.pop(id(result)).set_result(None)
        assert await within(claimed.get(), 5) == [3], "a row sent: room again, claimed at once"
    finally:
        claiming.cancel()
        dispatcher._stop_lanes()


async def test_a_subscriber_is_loaded_once_however_many_of_its_senders_ask_at_the_same_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = settings()
    targets = Targets(None, None, cfg)  # type: ignore[arg-type]
    hook = target(ChannelType.WEBHOOK, {"url": "https://hooks.example.com/ok"})
    loads: list[str] = []
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def load(subscriber_id: str) -> Any:
        loads.append(subscriber_id)
        return await answer

    monkeypatch.setattr(targets, "_load", load)
    asking = [asyncio.ensure_future(targets.get(hook.subscriber_id)) for _ in range(8)]
    await asyncio.sleep(0)
    answer.set_result(hook)
    assert await asyncio.gather(*asking) == [hook] * 8
    assert loads == [hook.subscriber_id]
    assert targets.fresh(hook.subscriber_id) == (hook,)

    # an outage reaches every sender waiting for the load, and the next ask loads again
    targets.forget(hook.subscriber_id)
    answer = asyncio.get_running_loop().create_future()
    asking = [asyncio.ensure_future(targets.get(hook.subscriber_id)) for _ in range(3)]
    await asyncio.sleep(0)
    answer.set_exception(ConnectionRefusedError("connect call failed"))
    outcomes = await asyncio.gather(*asking, return_exceptions=True)
    assert all(isinstance(o, ConnectionRefusedError) for o in outcomes)
    assert targets.fresh(hook.subscriber_id) is None

    # the subscriber changed while it was being loaded: what the load read is not kept
    answer = asyncio.get_running_loop().create_future()
    stale = asyncio.ensure_future(targets.get(hook.subscriber_id))
    await asyncio.sleep(0)
    targets.forget(hook.subscriber_id)
    answer.set_result(hook)
    assert await stale == hook
    assert targets.fresh(hook.subscriber_id) is None
    assert len(loads) == 3


class _Other:
    """A dispatcher in another process, as the intake sees one: it takes what it is handed."""

    def __init__(self) -> None:
        self.handed: list[Claimed] = []
        self.released: list[Claimed] = []

    def handing(self) -> list[queue.Handing]:
        return [queue.Handing("other", [5], [])]

    def hand(self, rows: Sequence[Claimed]) -> list[Claimed]:
        self.handed += rows
        return []

    async def release(self, rows: Sequence[Claimed]) -> None:
        self.released += rows

    async def take(self, rows: Sequence[Claimed]) -> None:
        self.hand(rows)


async def test_beside_a_dispatcher_process_each_row_goes_to_the_one_it_was_inserted_for(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that delivers beside a dispatcher process tells the intake what both may take, and hands each row
    to the dispatcher it was inserted as being sent by (`Claimed.by`); a row of its own that it may no longer send
    (the partition moved) is queued again as its own, the other's as the other's."""
    own, answer = _claiming(monkeypatch, settings())
    hook = _loaded(own, "https://hooks.example.com/beside")
    other = _Other()
    beside = Beside(own, other)
    assert [h.me for h in beside.handing()] == [own.me, "other"]
    assert [h.parts for h in beside.handing()] == [[0], [5]]

    def row(i: int, part: int, by: str) -> Claimed:
        return Claimed(i, hook.subscriber_id, "org-1", "webhook", f"sub-1/={i}", 0, datetime.now(UTC), alert, part, by)

    released: list[Claimed] = []

    async def release(rows: Sequence[Claimed]) -> None:
        released.extend(rows)

    monkeypatch.setattr(own, "release", release)
    await hand_over(beside, [row(1, 0, own.me), row(2, 5, "other"), row(3, 9, own.me)])
    assert [r.id for r in other.handed] == [2], "the other's row goes to the other"
    assert [r.id for r in released] == [3], "its own row of a partition it no longer holds is queued again"
    assert own.in_memory == 1, "its own row of its partition goes to its senders"
    answer.set()
    result = await within(own._results.get(), 5)
    assert [r.id for r in result.rows] == [1]
    own._durable.pop(id(result)).set_result(None)

    await beside.release([row(4, 0, own.me), row(5, 5, "other")])
    assert ([r.id for r in released], [r.id for r in other.released]) == ([3, 4], [5])


class _Writer:
    """The recorder's own connection, standing in: never closed."""

    def is_closed(self) -> bool:
        return False


Written = list[tuple[list[int], bool]]


@contextlib.asynccontextmanager
async def _recorder() -> AsyncIterator[tuple[Dispatcher, Foreground, Written]]:
    """A dispatcher's recorder running beside its process's HTTP requests (`Foreground`), writing nowhere: each
    batch's row ids, and whether a request was under way as it wrote."""
    foreground = Foreground()
    dispatcher = _dispatcher(foreground=foreground)
    written: Written = []

    async def record(batch: Sequence[queue.Result]) -> None:
        written.append(([r.id for res in batch for r in res.rows], foreground.busy))

    dispatcher.record = record  # type: ignore[method-assign]
    dispatcher._writer = _Writer()  # type: ignore[assignment]
    recorder = asyncio.create_task(dispatcher.record_forever())
    try:
        yield dispatcher, foreground, written
    finally:
        recorder.cancel()
        await asyncio.gather(recorder, return_exceptions=True)


def _delivered(alert: Alert, row_id: int, subscriber: str = "sub-1") -> Result:
    row = Claimed(row_id, subscriber, "org-1", "webhook", f"{subscriber}/={row_id}", 0, datetime.now(UTC), alert)
    return Result([row], "delivered", 200, "HTTP 200", 1.0)


async def test_answers_no_sender_waits_for_are_written_once_the_http_request_under_way_has_stored(
    alert: Alert,
) -> None:
    """Two statements at once in Postgres each take longer on a small machine: the request's caller waits for its
    store, while nobody waits for these answers (their target has nothing more to send)."""
    async with _recorder() as (dispatcher, foreground, written):
        with foreground.under_way():
            first = dispatcher._put(_delivered(alert, 1))
            for _ in range(20):  # the recorder's turns while the request builds its events and stores them
                await asyncio.sleep(0)
            second = dispatcher._put(_delivered(alert, 2))
        await within(asyncio.gather(first, second), 1)
    assert written == [([1, 2], False)], "written after the request, in one batch with what came meanwhile"


async def test_answers_a_sender_waits_for_are_written_while_a_request_is_under_way(
    alert: Alert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The target has more rows: its sender takes the next one only once this answer is durable."""
    monkeypatch.setattr(dispatcher_module, "RECORD_YIELD_S", 3600.0)  # were it to wait, it would wait for the request
    async with _recorder() as (dispatcher, foreground, written):
        dispatcher._queues["sub-1"] = queued([_delivered(alert, 9).rows[0]])
        with foreground.under_way():
            await within(dispatcher._put(_delivered(alert, 1)), 1)
    assert written == [([1], True)]


async def test_a_request_that_stays_under_way_delays_the_answers_no_longer_than_the_bound(alert: Alert) -> None:
    async with _recorder() as (dispatcher, foreground, written):
        with foreground.under_way():
            started = time.monotonic()
            await within(dispatcher._put(_delivered(alert, 1)), 1)
            waited = time.monotonic() - started
    assert written == [([1], True)], "written while the request was still under way"
    assert waited >= RECORD_YIELD_S * 0.9, f"it let the request go first for {RECORD_YIELD_S}s (waited {waited:.4f}s)"
