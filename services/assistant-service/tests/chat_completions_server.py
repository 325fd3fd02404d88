"""A local server that speaks OpenAI's chat-completions protocol, for the language-model composer's tests.

It checks what a real endpoint checks (path, bearer key, JSON body with model and messages) and answers the
same shapes: a `chat.completion` object, or an `{"error": {...}}` body with the status. Tests script answers
(status, body, delay) and read every request it received.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "sk-test-local-0123456789abcdef"
MODEL = "care-test-model"


@dataclass(frozen=True)
class Scripted:
    status: int = 200
    body: str | None = None  # raw body; None = a completion with the reply
    delay_s: float = 0.0


@dataclass
class ChatCompletionsServer:
    reply: Callable[[dict[str, Any]], str] = lambda _body: "From the passages [1]."
    scripted: list[Scripted] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    base_url: str = ""

    def sent_text(self) -> str:
        """Everything the model was sent, as one string (all messages of all requests)."""
        return "\n".join(m["content"] for r in self.requests for m in r["messages"])

    async def handle(self, request: web.Request) -> web.Response:
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return _error(404, f"Unknown request URL: {request.method} {request.path}", "invalid_request_error")
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(_is_message(m) for m in messages):
            return _error(400, "'messages' must be a list of {role, content}", "invalid_request_error")
        if body.get("model") != MODEL:
            return _error(404, f"The model `{body.get('model')}` does not exist.", "model_not_found")
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        answer = self.scripted.pop(0) if self.scripted else Scripted()
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        if answer.body is not None:
            return web.Response(status=answer.status, text=answer.body, content_type="application/json")
        completion = {
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": self.reply(body)}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return web.json_response(completion, status=answer.status)


def _is_message(m: Any) -> bool:
    roles = {"system", "user", "assistant"}
    return isinstance(m, dict) and m.get("role") in roles and isinstance(m.get("content"), str)


def _error(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": code, "param": None, "code": code}}, status=status)


@asynccontextmanager
async def chat_completions_server() -> AsyncIterator[ChatCompletionsServer]:
    server = ChatCompletionsServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.base_url = f"http://{host}:{port}/v1"
    try:
        yield server
    finally:
        await runner.cleanup()
