"""Slack incoming webhooks: POST JSON to /services/...; Block Kit limits checked; answers like Slack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.receivers import Answer, Received, Receiver, serve

MAX_BLOCKS = 50
SECTION_CHARS = 3000
HEADER_CHARS = 150


def check(r: Received) -> Answer | None:
    """Slack answers 400 `invalid_payload` / `invalid_blocks` for what it cannot post, 404 for unknown hooks."""
    if not r.path.startswith("/services/"):
        return Answer(404, body="no_service")
    try:
        body = json.loads(r.body)
    except ValueError:
        return Answer(400, body="invalid_payload")
    blocks = body.get("blocks") or []
    if not body.get("text") and not blocks:
        return Answer(400, body="no_text")
    if len(blocks) > MAX_BLOCKS:
        return Answer(400, body="invalid_blocks")
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        limit = HEADER_CHARS if block.get("type") == "header" else SECTION_CHARS
        if len(text) > limit:
            return Answer(400, body="invalid_blocks")
    return None


def slack_webhook() -> Receiver:
    return Receiver(check=check, ok=Answer(200, body="ok"))


@asynccontextmanager
async def running_slack_webhook() -> AsyncIterator[Receiver]:
    async with serve(slack_webhook()) as receiver:
        yield receiver
