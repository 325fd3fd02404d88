"""notify-service killed with SIGKILL while notifications are queued and being retried: after a restart
every notification is delivered, and duplicates are counted and bounded by what was in flight (each target keeps
at most DELIVERY_TARGET_INFLIGHT messages sent whose answer is not yet written)."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import pytest

from carekit_testing import ServiceProcess, eventually
from tests.fakes.webhook_server import running_webhook_receiver
from tests.receivers import Answer, Received, on_plan, sample_alert, start_notify

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
ALERTS = 300
INFLIGHT = 16  # DELIVERY_TARGET_INFLIGHT, the default


async def test_sigkill_while_queued_and_retrying_loses_nothing_and_duplicates_are_bounded(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, unique: str
) -> None:
    notify = await start_notify(
        kafka_bootstrap,
        database_url,
        tmp_path,
        WEBHOOK_RATE_PER_S="60",
        WEBHOOK_BURST="5",
        RETRY_BASE_S="0.5",
        GROUPING_WINDOW_S="0",
        DELIVERY_TARGET_INFLIGHT=str(INFLIGHT),
    )
    org = f"kill-{unique}"
    restarted: ServiceProcess | None = None
    try:
        await on_plan(notify.url, kafka_bootstrap, org, "enterprise")
        async with running_webhook_receiver() as receiver:
            for path in ("/a", "/b"):
                await notify.webhook_per_alert(org, path, receiver.url + path)
            receiver.script("/a", *[Answer(503, body="overloaded")] * 40)  # /a retries while /b is rate-limited
            alerts = [sample_alert(org, f"k-{unique}-{i:03d}") for i in range(ALERTS)]
            await notify.alerts(*alerts[: ALERTS // 2])
            await receiver.wait_for(60, timeout_s=20)

            notify.service.stop(signal.SIGKILL)
            assert notify.service.proc is not None
            assert notify.service.proc.returncode == -signal.SIGKILL
            # stop() waited for the process without yielding: let the receiver take in what reached it before the
            # kill, so that only what arrives after it counts (under load one request was counted late)
            await asyncio.sleep(0.3)
            sent_before = len(receiver.requests)
            await notify.alerts(*alerts[ALERTS // 2 :])  # arrive while the service is down
            await asyncio.sleep(0.5)
            assert len(receiver.requests) == sent_before

            restarted = ServiceProcess("notify_service", notify.service.env)
            restarted.start(tmp_path)
            await restarted.wait_ready()

            wanted = {a.fingerprint for a in alerts}

            async def everything_delivered() -> bool:
                per_path = {p: _delivered(receiver.requests, p) for p in ("/a", "/b")}
                return all(set(c) == wanted for c in per_path.values())

            await eventually(everything_delivered, timeout_s=60, interval_s=0.5)
            duplicates = sum(sum(c.values()) - len(c) for c in (_delivered(receiver.requests, p) for p in ("/a", "/b")))
            print(
                f"delivered {2 * ALERTS} notifications across a SIGKILL with {duplicates} duplicate(s)"
                f" ({100 * duplicates / (2 * ALERTS):.2f} %; bound: 2 targets x {INFLIGHT} messages in flight)"
            )
            assert duplicates <= 2 * INFLIGHT, "more re-sent than two targets can have in flight"
        rows = await notify.fetch("SELECT state, count(*) AS n FROM notifications GROUP BY state")
        assert {r["state"]: r["n"] for r in rows} == {"delivered": 2 * ALERTS}
    finally:
        if restarted is not None:
            restarted.stop()
        notify.service.stop()


def _delivered(requests: list[Received], path: str) -> Counter[str]:
    """Fingerprints the receiver accepted (2xx) at `path`; requests answered 503 do not count."""
    out: Counter[str] = Counter()
    accepted = [r for r in requests if r.path == path and r.status < 300 and not r.json().get("dryRun")]
    for r in accepted:
        for alert in r.json()["alerts"]:
            out[alert["fingerprint"]] += 1
    return out
