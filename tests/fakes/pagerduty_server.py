"""PagerDuty Events API v2: POST /v2/enqueue; validates the event like PagerDuty, answers 202 or 400."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.receivers import Answer, Received, Receiver, serve

SEVERITIES = {"critical", "error", "warning", "info"}
MAX_BYTES = 512 * 1024


def _invalid(*errors: str) -> Answer:
    return Answer(
        400, body=json.dumps({"status": "invalid event", "message": "Event object is invalid", "errors": errors})
    )


def check(r: Received) -> Answer | None:
    if r.path != "/v2/enqueue":
        return Answer(404, body="not found")
    if len(r.body) > MAX_BYTES:
        return Answer(413, body="Request Entity Too Large")
    try:
        event = json.loads(r.body)
    except ValueError:
        return _invalid("Invalid JSON")
    if len(str(event.get("routing_key", ""))) != 32:
        return _invalid("'routing_key' must be 32 characters")
    action = event.get("event_action")
    if action not in {"trigger", "acknowledge", "resolve"}:
        return _invalid("'event_action' is invalid")
    if action != "trigger" and not event.get("dedup_key"):
        return _invalid("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload") or {}
        missing = [k for k in ("summary", "source", "severity") if not payload.get(k)]
        if missing:
            return _invalid(*(f"'payload.{k}' is missing or blank" for k in missing))
        if payload["severity"] not in SEVERITIES:
            return _invalid("'payload.severity' is invalid")
    return Answer(
        202,
        {"Content-Type": "application/json"},
        json.dumps({"status": "success", "message": "Event processed", "dedup_key": event.get("dedup_key")}),
    )


def pagerduty() -> Receiver:
    return Receiver(check=check)


@asynccontextmanager
async def running_pagerduty() -> AsyncIterator[Receiver]:
    async with serve(pagerduty()) as server:
        yield server
