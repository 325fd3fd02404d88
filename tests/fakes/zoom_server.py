"""Zoom incoming webhook (Incoming Webhook app): POST /inbound/webhook/<id>?format=full, the endpoint's
verification token in `Authorization`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tests.receivers import Answer, Received, Receiver, serve


@dataclass
class ZoomServer(Receiver):
    tokens: dict[str, str] = field(default_factory=dict)  # path -> verification token

    def endpoint(self, name: str, token: str) -> str:
        path = f"/inbound/webhook/{name}"
        self.tokens[path] = token
        return f"{self.url}{path}"


def _check(server: ZoomServer, r: Received) -> Answer | None:
    expected = server.tokens.get(r.path)
    if expected is None:
        return Answer(404, body=json.dumps({"code": 404, "message": "Endpoint not found."}))
    if r.headers.get("Authorization") != expected:
        return Answer(401, body=json.dumps({"code": 401, "message": "Invalid authorization token."}))
    try:
        body = json.loads(r.body)
    except ValueError:
        return Answer(400, body=json.dumps({"code": 400, "message": "Invalid message."}))
    if r.query.get("format") == "full" and not (body.get("head", {}).get("text") and body.get("body")):
        return Answer(400, body=json.dumps({"code": 400, "message": "head.text and body are required."}))
    if len(json.dumps(body.get("body", ""))) > 4200:
        return Answer(413, body=json.dumps({"code": 413, "message": "Message too long."}))
    return None


def zoom() -> ZoomServer:
    server = ZoomServer(ok=Answer(200, body=""))
    server.check = lambda r: _check(server, r)
    return server


@asynccontextmanager
async def running_zoom() -> AsyncIterator[ZoomServer]:
    async with serve(zoom()) as server:
        yield server
