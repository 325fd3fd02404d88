"""Lark Open API: a cached tenant access token, messages in Lark's own formats, replies in the thread."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import aiohttp

from carekit.chat import ChatFailure, retry_after, retryable_status

RATE_LIMITED = frozenset({99991400, 11232, 11233})
TOKEN_INVALID = frozenset({99991663, 99991661, 99991668})


def post_content(title: str, paragraphs: list[list[dict[str, str]]]) -> str:
    """Lark's rich text (`msg_type: post`): a title and paragraphs of `text(...)` and `link(...)` elements."""
    return json.dumps({"en_us": {"title": title, "content": paragraphs}}, ensure_ascii=False)


def text(value: str) -> dict[str, str]:
    return {"tag": "text", "text": value}


def link(label: str, href: str) -> dict[str, str]:
    return {"tag": "a", "text": label, "href": href}


def _masked(text: str, secrets: list[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "****")
    return text


class LarkBot:
    """A Lark app (app id + secret) calling the Open API at a configurable base URL, over one aiohttp session."""

    def __init__(self, base_url: str, app_id: str, app_secret: str, *, timeout_s: float = 10) -> None:
        self._base, self._app_id, self._secret = base_url.rstrip("/"), app_id, app_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, payload: dict[str, Any], headers: dict[str, str], params: Any = None) -> Any:
        try:
            async with self._http().post(
                f"{self._base}{path}", json=payload, headers=headers, params=params, allow_redirects=False
            ) as answer:
                raw = await answer.text()
                status = answer.status
                wait = retry_after(answer.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ChatFailure(f"Lark {path}: {type(exc).__name__}", retryable=True) from exc
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = {"code": -1, "msg": _masked(raw, [self._secret, self._token or ""])[:200]}  # mask, then cut
        code = doc.get("code") if isinstance(doc, dict) else -1
        if status == 200 and code == 0:
            return doc
        if code in TOKEN_INVALID:
            self._token = None  # fetch a new one next time
        retry = retryable_status(status) or code in RATE_LIMITED or code in TOKEN_INVALID
        msg = doc.get("msg") if isinstance(doc, dict) else None
        raise ChatFailure(
            f"Lark {path}: HTTP {status} code {code} {msg}", retryable=retry, status=status, retry_after_s=wait
        )

    async def _tenant_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        doc = await self._post(
            "/open-apis/auth/v3/tenant_access_token/internal", {"app_id": self._app_id, "app_secret": self._secret}, {}
        )
        self._token = str(doc["tenant_access_token"])
        self._token_expires = time.monotonic() + max(int(doc.get("expire", 7200)) - 300, 60)
        return self._token

    async def call(self, path: str, payload: dict[str, Any], params: dict[str, str] | None = None) -> Any:
        """POST to the Open API with the tenant token; `ChatFailure` unless Lark answers code 0."""
        token = await self._tenant_token()
        return await self._post(path, payload, {"Authorization": f"Bearer {token}"}, params)

    async def reply(self, message_id: str, msg_type: str, content: str) -> None:
        """Reply in the thread of `message_id` (`reply_in_thread`), as `text`, `post` or `interactive`."""
        await self.call(
            f"/open-apis/im/v1/messages/{message_id}/reply",
            {"msg_type": msg_type, "content": content, "reply_in_thread": True},
        )

    async def send(self, chat_id: str, msg_type: str, content: str) -> None:
        """Send a message to a group chat."""
        await self.call(
            "/open-apis/im/v1/messages",
            {"receive_id": chat_id, "msg_type": msg_type, "content": content},
            params={"receive_id_type": "chat_id"},
        )

    async def send_card_to_member(self, chat_id: str, open_id: str, card: dict[str, Any]) -> None:
        """Show a card only to one member; falls back to the whole chat when ephemeral cards are refused."""
        try:
            await self.call(
                "/open-apis/ephemeral/v1/send",
                {"chat_id": chat_id, "open_id": open_id, "msg_type": "interactive", "card": card},
            )
        except ChatFailure:
            await self.send(chat_id, "interactive", json.dumps(card))


URL = re.compile(r"https?://\S+")


def post_from_text(title: str, body: str) -> str:
    """Plain text as Lark rich text: one paragraph per line, every URL a link."""
    paragraphs: list[list[dict[str, str]]] = []
    for line in body.splitlines():
        elements: list[dict[str, str]] = []
        at = 0
        for found in URL.finditer(line):
            if found.start() > at:
                elements.append(text(line[at : found.start()]))
            elements.append(link(found.group(), found.group()))
            at = found.end()
        if at < len(line):
            elements.append(text(line[at:]))
        paragraphs.append(elements or [text("")])
    return post_content(title, paragraphs)
