"""A local Lark: tenant tokens and the message APIs the service calls, and the callbacks Lark sends."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from carekit_testing import free_port, within
from ticket_service.adapters.lark import encrypt, signature


@dataclass
class LarkCall:
    path: str
    payload: dict[str, Any]
    query: dict[str, str]


@dataclass
class FakeLark:
    """Checks the app credentials and tenant token like Lark; encrypts and signs callbacks when a key is set."""

    app_id: str
    app_secret: str
    verification_token: str
    encrypt_key: str | None = None
    tenant_key: str = "tenant-test"
    ephemeral_allowed: bool = True
    port: int = field(default_factory=free_port)
    calls: list[LarkCall] = field(default_factory=list)
    tokens_issued: int = 0
    update_tokens: dict[str, int] = field(default_factory=dict)  # card callback token -> updates it still allows
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _token: str = field(default_factory=lambda: f"t-{secrets.token_hex(8)}")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def message_id(self) -> str:
        return f"om_{next(self._ids):08d}"

    async def _token_endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("app_id") != self.app_id or body.get("app_secret") != self.app_secret:
            return web.json_response({"code": 10014, "msg": "app secret invalid"})
        self.tokens_issued += 1
        return web.json_response({"code": 0, "msg": "ok", "tenant_access_token": self._token, "expire": 7200})

    async def _api(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self._token}":
            return web.json_response({"code": 99991663, "msg": "Invalid access token for authorization."})
        payload = await request.json()
        self.calls.append(LarkCall(request.path, payload, dict(request.query)))
        self.arrived.set()
        if request.path == "/open-apis/interactive/v1/card/update":  # delayed update: a callback's token, twice
            token = str(payload.get("token"))
            if self.update_tokens.get(token, 0) <= 0 or not isinstance(payload.get("card"), dict):
                return web.json_response({"code": 200740, "msg": "card update token is invalid or used up"})
            self.update_tokens[token] -= 1
            return web.json_response({"code": 0, "msg": "success", "data": {}})
        if request.path == "/open-apis/ephemeral/v1/send":
            if not self.ephemeral_allowed:
                return web.json_response({"code": 230002, "msg": "bot is not allowed to send ephemeral cards"})
            return web.json_response({"code": 0, "msg": "success", "data": {"message_id": self.message_id()}})
        return web.json_response({"code": 0, "msg": "success", "data": {"message_id": self.message_id()}})

    async def wait_for(self, path_suffix: str, count: int = 1, timeout_s: float = 20) -> list[LarkCall]:
        deadline = time.monotonic() + timeout_s
        while True:
            found = [c for c in self.calls if c.path.endswith(path_suffix)]
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"Lark got {len(found)} calls to *{path_suffix}, expected {count}: {self.calls}")
            self.arrived.clear()
            try:
                await within(self.arrived.wait(), min(remaining, 0.5))
            except TimeoutError:
                continue

    # --- what Lark sends to the app ----------------------------------------------------------------------------

    def wrap(self, doc: dict[str, Any], timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers for a callback: encrypted and signed when an encrypt key is set."""
        if not self.encrypt_key:
            return json.dumps(doc).encode(), {"Content-Type": "application/json"}
        body = json.dumps({"encrypt": encrypt(self.encrypt_key, json.dumps(doc), os.urandom(16))}).encode()
        ts, nonce = str(int(time.time()) if timestamp is None else timestamp), secrets.token_hex(8)
        return body, {
            "Content-Type": "application/json",
            "X-Lark-Request-Timestamp": ts,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature(ts, nonce, self.encrypt_key, body),
        }

    def header(self, event_type: str, event_id: str | None = None) -> dict[str, Any]:
        return {
            "event_id": event_id or secrets.token_hex(16),
            "token": self.verification_token,
            "create_time": str(int(time.time() * 1000)),
            "event_type": event_type,
            "tenant_key": self.tenant_key,
            "app_id": self.app_id,
        }

    def message_event(
        self, chat_id: str, text: str, *, open_id: str = "ou_customer", root_id: str | None = None, mention: bool = True
    ) -> tuple[dict[str, Any], str]:
        message_id = self.message_id()
        message: dict[str, Any] = {
            "message_id": message_id,
            "create_time": str(int(time.time() * 1000)),
            "chat_id": chat_id,
            "chat_type": "group",
            "message_type": "text",
            "content": json.dumps({"text": f"@_user_1 {text}" if mention else text}),
        }
        if root_id:
            message |= {"root_id": root_id, "parent_id": root_id}
        if mention:
            message["mentions"] = [
                {"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "Support", "tenant_key": self.tenant_key}
            ]
        doc = {
            "schema": "2.0",
            "header": self.header("im.message.receive_v1"),
            "event": {
                "sender": {
                    "sender_id": {"open_id": open_id, "union_id": "on_x", "user_id": "u_x"},
                    "sender_type": "user",
                    "tenant_key": self.tenant_key,
                },
                "message": message,
            },
        }
        return doc, message_id

    def card_submit(self, card: dict[str, Any], form: dict[str, str], open_id: str = "ou_customer") -> dict[str, Any]:
        """The card.action.trigger callback when a member fills the card's form and presses Submit."""
        button = next(e for e in card["body"]["elements"][0]["elements"] if e.get("tag") == "button")
        value = button["behaviors"][0]["value"]
        return {
            "schema": "2.0",
            "header": self.header("card.action.trigger"),
            "event": {
                "operator": {"tenant_key": self.tenant_key, "open_id": open_id, "user_id": "u_x"},
                "token": f"c-{secrets.token_hex(8)}",
                "action": {"value": value, "tag": "button", "name": "submit", "form_value": form},
                "host": "im_message",
                "context": {"open_message_id": "om_card", "open_chat_id": value.get("chat_id")},
            },
        }

    def _update_token(self) -> str:
        token = f"c-{secrets.token_hex(8)}"
        self.update_tokens[token] = 2
        return token

    def card_action(
        self,
        value: dict[str, Any],
        open_id: str = "ou_customer",
        *,
        chat_id: str | None = None,
        message_id: str = "om_card",
    ) -> dict[str, Any]:
        """The card.action.trigger callback when a member presses a card button whose callback value is `value`, on
        the card `message_id` in `chat_id` (by default the value's chat_id); `event.token` updates that card."""
        return {
            "schema": "2.0",
            "header": self.header("card.action.trigger"),
            "event": {
                "operator": {"tenant_key": self.tenant_key, "open_id": open_id, "user_id": "u_x"},
                "token": self._update_token(),
                "action": {"value": value, "tag": "button"},
                "host": "im_message",
                "context": {"open_message_id": message_id, "open_chat_id": chat_id or value.get("chat_id")},
            },
        }

    def buttons(self, card: dict[str, Any]) -> list[dict[str, Any]]:
        """The callback values of every button on a card (Lark card JSON 2.0), in order."""
        found: list[dict[str, Any]] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("tag") == "button":
                    found.extend(b["value"] for b in node.get("behaviors", []) if b.get("type") == "callback")
                for child in node.values():
                    walk(child)
            elif isinstance(node, list):
                for child in node:
                    walk(child)

        walk(card)
        return found

    async def post(self, client: httpx.AsyncClient, url: str, doc: dict[str, Any]) -> httpx.Response:
        body, headers = self.wrap(doc)
        return await client.post(url, content=body, headers=headers)


@asynccontextmanager
async def running_lark(
    app_id: str, app_secret: str, verification_token: str, encrypt_key: str | None = None
) -> AsyncIterator[FakeLark]:
    lark = FakeLark(app_id, app_secret, verification_token, encrypt_key)
    app = web.Application()
    app.router.add_post("/open-apis/auth/v3/tenant_access_token/internal", lark._token_endpoint)
    app.router.add_post("/open-apis/{tail:.*}", lark._api)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", lark.port).start()
    try:
        yield lark
    finally:
        await runner.cleanup()
