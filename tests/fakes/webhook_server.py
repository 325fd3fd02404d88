"""An Alertmanager-compatible webhook receiver (also what Flashduty's Alertmanager integration accepts):
checks the version 4 payload (one group of alerts per request) and records it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.receivers import Answer, Received, Receiver, serve

REQUIRED = ("version", "groupKey", "status", "receiver", "groupLabels", "commonLabels", "externalURL", "alerts")


def check(r: Received) -> Answer | None:
    try:
        body = json.loads(r.body)
    except ValueError:
        return Answer(400, body="invalid JSON")
    missing = [k for k in REQUIRED if k not in body]
    if missing or body.get("version") != "4":
        return Answer(400, body=f"not an Alertmanager v4 payload: missing {missing}")
    for alert in body["alerts"]:
        if not {"status", "labels", "annotations", "startsAt", "endsAt", "fingerprint"} <= alert.keys():
            return Answer(400, body="alert without status/labels/annotations/startsAt/endsAt/fingerprint")
    return None


def webhook_receiver() -> Receiver:
    return Receiver(check=check)


def alerts_received(receiver: Receiver, path: str | None = None) -> list[dict[str, object]]:
    """Every alert delivered (dry runs excluded)."""
    out = []
    for r in receiver.at(path) if path else receiver.requests:
        body = r.json()
        if not body.get("dryRun"):
            out.extend(body["alerts"])
    return out


@asynccontextmanager
async def running_webhook_receiver() -> AsyncIterator[Receiver]:
    async with serve(webhook_receiver()) as server:
        yield server
