"""Lark custom bot webhooks: POST /open-apis/bot/v2/hook/<id>, signed with the bot's secret; answers HTTP 200
with a Lark `code` (0 success, 19021 bad signature, 9499 bad request) as Lark does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tests.receivers import Answer, Received, Receiver, serve

MAX_BODY = 30 * 1024


def expected_sign(timestamp: str, secret: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def lark_answer(code: int, msg: str) -> Answer:
    return Answer(200, {"Content-Type": "application/json"}, json.dumps({"code": code, "msg": msg, "data": {}}))


@dataclass
class LarkWebhookServer(Receiver):
    secrets: dict[str, str] = field(default_factory=dict)  # path -> signing secret

    def hook(self, name: str, secret: str) -> str:
        path = f"/open-apis/bot/v2/hook/{name}"
        self.secrets[path] = secret
        return f"{self.url}{path}"

    def signed_ok(self) -> list[Received]:
        return [r for r in self.requests if _verify(self, r) is None]


def _verify(server: LarkWebhookServer, r: Received) -> Answer | None:
    secret = server.secrets.get(r.path)
    if secret is None:
        return lark_answer(19001, "param invalid: incoming webhook access token invalid")
    if len(r.body) > MAX_BODY:
        return lark_answer(9499, "request body too large")
    try:
        body = json.loads(r.body)
        timestamp = str(body["timestamp"])
        fresh = abs(time.time() - int(timestamp)) < 3600
    except (ValueError, KeyError):
        return lark_answer(9499, "Bad Request")
    if not fresh or not hmac.compare_digest(str(body.get("sign", "")), expected_sign(timestamp, secret)):
        return lark_answer(19021, "sign match fail or timestamp is not within one hour from current time")
    if body.get("msg_type") not in {"text", "post", "interactive", "image", "share_chat"}:
        return lark_answer(9499, "Bad Request: msg_type")
    return None


def lark_webhook() -> LarkWebhookServer:
    server = LarkWebhookServer(ok=lark_answer(0, "success"))
    server.check = lambda r: _verify(server, r)
    return server


@asynccontextmanager
async def running_lark_webhook() -> AsyncIterator[LarkWebhookServer]:
    async with serve(lark_webhook()) as server:
        yield server
