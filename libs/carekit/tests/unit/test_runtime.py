"""Supervised background loops: a loop that stops is restarted with backoff, counted, and /healthz says so."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from carekit import runtime as runtime_module
from carekit import web
from carekit.runtime import FAILING_AFTER, Runtime
from carekit_testing import within

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]


def _restarts(loop: str) -> float:
    return REGISTRY.get_sample_value("care_background_restarts_total", {"loop": loop}) or 0.0


def _runtime() -> Runtime:
    return Runtime(settings=None, broker=None, publishers=None)  # type: ignore[arg-type]


async def _healthz(rt: Runtime) -> httpx.Response:
    app = FastAPI()
    web.install(app)
    app.state.runtime = rt
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get("/healthz")


async def _until(check: Any, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_loop_that_crashes_is_restarted_counted_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "FIRST_BACKOFF_S", 0.01)
    rt = _runtime()
    calls = {"n": 0}
    settled = asyncio.Event()

    async def flaky() -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise KeyError("tam")
        settled.set()
        await asyncio.Event().wait()

    before = _restarts("flaky-loop")
    rt.spawn("flaky-loop", flaky)
    try:
        await within(settled.wait(), 5)
        assert _restarts("flaky-loop") - before == 2
        answer = await _healthz(rt)
        assert answer.status_code == 200
        loop = answer.json()["loops"]["flaky-loop"]
        assert loop["state"] == "running"
        assert loop["restarts"] == 2
        assert loop["failing"] is False
        assert loop["last_error"] == "KeyError: 'tam'"
    finally:
        for task in rt.tasks:
            task.cancel()
        await asyncio.gather(*rt.tasks, return_exceptions=True)


async def test_a_loop_that_keeps_dying_turns_healthz_503_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "FIRST_BACKOFF_S", 0.001)
    rt = _runtime()

    async def broken() -> None:
        raise RuntimeError("cannot start")

    async def fine() -> None:
        await asyncio.Event().wait()

    rt.spawn("broken-loop", broken)
    rt.spawn("fine-loop", fine)
    try:
        await _until(lambda: rt.loops["broken-loop"].restarts >= FAILING_AFTER)
        answer = await _healthz(rt)
        assert answer.status_code == 503
        body = answer.json()
        assert body["failing"] == ["broken-loop"]
        assert body["loops"]["fine-loop"]["restarts"] == 0
        assert body["loops"]["broken-loop"]["last_error"] == "RuntimeError: cannot start"
    finally:
        for task in rt.tasks:
            task.cancel()
        await asyncio.gather(*rt.tasks, return_exceptions=True)


async def test_a_loop_that_returns_is_restarted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "FIRST_BACKOFF_S", 0.01)
    rt = _runtime()
    runs = {"n": 0}

    async def returns() -> None:
        runs["n"] += 1

    rt.spawn("returning-loop", returns)
    try:
        await _until(lambda: runs["n"] >= 2)
        assert rt.loops["returning-loop"].last_error == "the loop returned"
    finally:
        for task in rt.tasks:
            task.cancel()
        await asyncio.gather(*rt.tasks, return_exceptions=True)


async def test_stopping_leaves_behind_a_loop_that_ignores_its_cancellation_and_says_where_it_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rt = _runtime()
    ended, release = asyncio.Event(), asyncio.Event()

    async def stuck_here() -> None:
        await release.wait()

    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # what a swallowed cancellation looks like from outside
            await asyncio.sleep(3600)
        await stuck_here()

    async def polite() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            ended.set()

    rt.spawn("stubborn-loop", stubborn)
    rt.spawn("polite-loop", polite)
    await asyncio.sleep(0)
    left = rt.tasks[0]
    with caplog.at_level("ERROR", logger="carekit.runtime"):
        assert await within(rt.stop_loops(grace_s=0.2), 5) == ["stubborn-loop"]
    assert ended.is_set()
    assert "background loop stubborn-loop did not stop within 0.2 s" in caplog.text
    assert "-> stubborn (" in caplog.text
    assert "-> stuck_here (" in caplog.text
    assert rt.tasks == []
    release.set()
    left.cancel()
    await asyncio.wait([left])
