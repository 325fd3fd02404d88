"""Client of any OpenAI-compatible chat-completions endpoint (aiohttp)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from assistant_service.domain.masking import mask
from assistant_service.domain.prompt import Message

MAX_REPLY_BYTES = 1_000_000


class LlmError(Exception):
    """The model gave no usable reply (status, error body, timeout, network); the message says which."""


def _error_detail(status: int, raw: bytes) -> str:
    """OpenAI-style `{"error": {"message": ...}}` when present, else the start of the body."""
    text = raw[:2000].decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(error, str):
            text = error
    return mask(f"HTTP {status}: {text.strip()[:300]}")


def _content(body: Any) -> str:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LlmError("reply has no choices[0].message.content") from exc
    if not isinstance(content, str):
        raise LlmError("reply content is not text")
    return content


class ChatCompletionsClient:
    """One `POST {base_url}/chat/completions` per question: no retries (the asker is waiting), no redirects."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, api_key: str, model: str, timeout_s: float
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._model = model
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.timeout_s = timeout_s

    async def complete(self, messages: list[Message]) -> str:
        """The model's reply text; LlmError for anything else."""
        payload = {"model": self._model, "messages": messages, "temperature": 0}
        try:
            async with self._session.post(
                self._url, json=payload, headers=self._headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                raw = await response.content.read(MAX_REPLY_BYTES + 1)
                if not 200 <= response.status < 300:
                    raise LlmError(_error_detail(response.status, raw))
        except TimeoutError as exc:
            raise LlmError(f"timeout after {self.timeout_s:g}s") from exc
        except aiohttp.ClientError as exc:
            raise LlmError(mask(f"network error: {exc}")) from exc
        if len(raw) > MAX_REPLY_BYTES:
            raise LlmError("reply larger than 1 MB")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise LlmError("reply is not JSON") from exc
        return _content(body)
