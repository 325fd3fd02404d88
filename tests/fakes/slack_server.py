"""A local Slack: the Web API the service calls, and the signed requests Slack sends to the service."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from aiohttp import web

from carekit_testing import free_port, within


@dataclass
class ApiCall:
    method: str
    payload: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.perf_counter)  # when it arrived (benchmarks measure latency with it)


@dataclass
class FakeSlack:
    """Answers `chat.postMessage` and `views.open` like Slack (token checked), and signs requests to the service."""

    signing_secret: str
    bot_token: str
    team_id: str = "T0TEST"
    bot_user_id: str = "UBOT"
    port: int = field(default_factory=free_port)
    calls: list[ApiCall] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def next_ts(self) -> str:
        return f"{1_764_000_000 + next(self._ts)}.000100"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        if request.content_type == "application/json":
            payload = json.loads(raw or b"{}")
        else:
            payload = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else payload.get("token")
        if self.answers:
            status, headers = self.answers.pop(0)
            if status != 200:
                return web.json_response({"ok": False, "error": "ratelimited"}, status=status, headers=headers)
        if token != self.bot_token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.calls.append(ApiCall(method, payload, token))
        self.arrived.set()
        if method == "chat.postMessage":
            if not payload.get("channel") or not (payload.get("text") or payload.get("blocks")):
                return web.json_response({"ok": False, "error": "no_text"})
            ts = self.next_ts()
            return web.json_response({"ok": True, "channel": payload["channel"], "ts": ts, "message": payload})
        if method == "views.open":
            if not payload.get("trigger_id") or not payload.get("view"):
                return web.json_response({"ok": False, "error": "invalid_arguments"})
            view = payload["view"] if isinstance(payload["view"], dict) else json.loads(payload["view"])
            return web.json_response({"ok": True, "view": {**view, "id": f"V{self.next_ts().replace('.', '')}"}})
        return web.json_response({"ok": True})

    def of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout_s: float = 20) -> list[ApiCall]:
        """The first `count` calls of `method`, waiting up to the deadline."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [c for c in self.calls if c.method == method]
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"Slack got {len(found)} {method} calls, expected {count}: {self.calls!r}")
            self.arrived.clear()
            try:
                await within(self.arrived.wait(), min(remaining, 0.5))
            except TimeoutError:
                continue

    # --- what Slack sends to the app ---------------------------------------------------------------------------

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(self.signing_secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}

    def event_body(self, event: dict[str, Any], event_id: str) -> bytes:
        doc = {
            "token": "legacy-token-unused",
            "team_id": self.team_id,
            "api_app_id": "A0TEST",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
        }
        return json.dumps(doc).encode()

    async def post_event(
        self, client: httpx.AsyncClient, url: str, event: dict[str, Any], event_id: str, retry_num: int | None = None
    ) -> httpx.Response:
        body = self.event_body(event, event_id)
        headers = {"Content-Type": "application/json", **self.sign(body)}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await client.post(f"{url}/slack/events", content=body, headers=headers)

    async def post_interaction(self, client: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **self.sign(body)}
        return await client.post(f"{url}/slack/interactivity", content=body, headers=headers)

    def click(self, message: ApiCall, channel: str, user: str = "UCUSTOMER") -> dict[str, Any]:
        """The block_actions payload Slack sends when a user clicks the first button of a posted message."""
        button = next(e for b in message.payload["blocks"] if b["type"] == "actions" for e in b["elements"])
        return {
            "type": "block_actions",
            "team": {"id": self.team_id, "domain": "test"},
            "user": {"id": user, "username": "customer"},
            "channel": {"id": channel, "name": "support"},
            "container": {"type": "message", "message_ts": "x", "channel_id": channel, "is_ephemeral": False},
            "trigger_id": f"trigger-{self.next_ts()}",
            "message": {"ts": "x", "thread_ts": message.payload.get("thread_ts")},
            "actions": [
                {"action_id": button["action_id"], "block_id": "raise", "value": button["value"], "type": "button"}
            ],
        }

    def press(self, message: ApiCall, action_id: str, user: str = "UCUSTOMER") -> dict[str, Any]:
        """The block_actions payload Slack sends when a user clicks the button `action_id` of a posted message."""
        button = next(
            e
            for b in message.payload["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e.get("action_id") == action_id
        )
        return self.action(message.payload["channel"], action_id, button["value"], user=user)

    def action(self, channel: str, action_id: str, value: str, user: str = "UCUSTOMER") -> dict[str, Any]:
        """A block_actions payload for one button (`value` as the button carries it)."""
        ts = self.next_ts()
        return {
            "type": "block_actions",
            "team": {"id": self.team_id, "domain": "test"},
            "user": {"id": user, "username": "customer"},
            "channel": {"id": channel, "name": "support"},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": f"trigger-{ts}",
            "actions": [
                {"action_id": action_id, "block_id": "assistant", "value": value, "type": "button", "action_ts": ts}
            ],
        }

    def submit(self, opened: ApiCall, values: dict[str, str], user: str = "UCUSTOMER") -> dict[str, Any]:
        """The view_submission payload for a modal opened with views.open, filled with `values`."""
        view = opened.payload["view"]
        state: dict[str, dict[str, Any]] = {}
        for block in view["blocks"]:
            if block["type"] != "input":
                continue
            element = block["element"]
            value = values.get(block["block_id"])
            if element["type"] == "static_select":
                chosen = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
                entry: dict[str, Any] = {"type": "static_select", "selected_option": chosen}
            else:
                entry = {"type": element["type"], "value": value}
            state[block["block_id"]] = {element["action_id"]: entry}
        return {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": "test"},
            "user": {"id": user, "username": "customer"},
            "view": {
                "id": f"V{self.next_ts().replace('.', '')}",
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "state": {"values": state},
            },
        }


@asynccontextmanager
async def running_slack(signing_secret: str, bot_token: str) -> AsyncIterator[FakeSlack]:
    slack = FakeSlack(signing_secret=signing_secret, bot_token=bot_token)
    app = web.Application()
    app.router.add_post("/api/{method}", slack._api)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", slack.port).start()
    try:
        yield slack
    finally:
        await runner.cleanup()
