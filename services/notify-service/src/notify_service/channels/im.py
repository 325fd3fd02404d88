"""Ticket updates to IM: Slack Web API chat.postMessage and Lark's reply/send message APIs (bot credentials)."""

from __future__ import annotations

import json
import time
from typing import Any

from notify_service.channels.base import SendContext, post_json
from notify_service.domain.classify import Outcome, Verdict

LARK_RATE_LIMITED = {99991400, 11232}
LARK_TOKEN_INVALID = {99991663, 99991661, 99991668}


def _slack_check(status: int, text: str) -> Outcome | None:
    """Slack's Web API answers 200 with `ok: false` and an error code on failure."""
    try:
        doc = json.loads(text)
    except ValueError:
        return Outcome(Verdict.RETRY, f"HTTP {status}: not JSON", status)
    if doc.get("ok"):
        return None
    error = str(doc.get("error", "unknown"))
    verdict = Verdict.RETRY if error in {"ratelimited", "internal_error", "fatal_error"} else Verdict.PERMANENT
    return Outcome(verdict, f"Slack error {error}", status)


async def slack_post(ctx: SendContext, target: dict[str, Any], body: dict[str, Any]) -> Outcome:
    settings = ctx.settings
    if not settings.slack_bot_token:
        return Outcome(Verdict.PERMANENT, "SLACK_BOT_TOKEN is not set")
    payload: dict[str, Any] = {"channel": target["channel"], "text": body["text"], "unfurl_links": False}
    if target.get("thread_ts"):
        payload["thread_ts"] = target["thread_ts"]
    url = settings.slack_api_url.rstrip("/") + "/chat.postMessage"
    headers = {"Authorization": f"Bearer {settings.slack_bot_token}"}
    return await post_json(ctx, url, payload, secrets=[settings.slack_bot_token], headers=headers, check=_slack_check)


class LarkBot:
    """Lark's tenant access token, fetched with the app's credentials and reused until shortly before expiry."""

    def __init__(self) -> None:
        self._token: str | None = None
        self._expires = 0.0

    async def token(self, ctx: SendContext) -> str | Outcome:
        s = ctx.settings
        if self._token and time.monotonic() < self._expires:
            return self._token
        if not (s.lark_app_id and s.lark_app_secret):
            return Outcome(Verdict.PERMANENT, "LARK_APP_ID / LARK_APP_SECRET are not set")
        url = s.lark_api_url.rstrip("/") + "/open-apis/auth/v3/tenant_access_token/internal"
        got: dict[str, Any] = {}

        def keep(status: int, text: str) -> Outcome | None:
            got.update(json.loads(text))
            return None if got.get("code") == 0 else Outcome(Verdict.PERMANENT, f"Lark token refused: {got.get('msg')}")

        outcome = await post_json(
            ctx,
            url,
            {"app_id": s.lark_app_id, "app_secret": s.lark_app_secret},
            secrets=[s.lark_app_secret],
            check=keep,
        )
        if not outcome.ok:
            return outcome
        self._token = str(got["tenant_access_token"])
        self._expires = time.monotonic() + float(got.get("expire", 7200)) - 60
        return self._token

    def _check(self, status: int, text: str) -> Outcome | None:
        try:
            code = int(json.loads(text).get("code", 0))
        except (ValueError, AttributeError):
            return Outcome(Verdict.RETRY, f"HTTP {status}: not JSON", status)
        if code == 0:
            return None
        if code in LARK_TOKEN_INVALID:
            self._token = None
            return Outcome(Verdict.RETRY, f"Lark code {code}: token expired", status)
        verdict = Verdict.RETRY if code in LARK_RATE_LIMITED else Verdict.PERMANENT
        return Outcome(verdict, f"Lark code {code}: {text[:200]}", status)

    async def post(self, ctx: SendContext, target: dict[str, Any], body: dict[str, Any]) -> Outcome:
        """Reply in the ticket's thread (root message id) or send to the group."""
        token = await self.token(ctx)
        if isinstance(token, Outcome):
            return token
        base = ctx.settings.lark_api_url.rstrip("/") + "/open-apis/im/v1/messages"
        content = json.dumps({"text": body["text"]})
        if target.get("thread_ts"):
            url, payload = f"{base}/{target['thread_ts']}/reply", {"msg_type": "text", "content": content}
        else:
            url = f"{base}?receive_id_type=chat_id"
            payload = {"receive_id": target["channel"], "msg_type": "text", "content": content}
        headers = {"Authorization": f"Bearer {token}"}
        return await post_json(ctx, url, payload, secrets=[token], headers=headers, check=self._check)
