"""Two notify-service instances on one database deliver side by side (the second a dispatcher-only process):
each takes its share of the delivery partitions, both deliver under load, and every notification arrives exactly
once (no crash, so no duplicate)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from carekit_testing import ServiceProcess, eventually
from tests.fakes.webhook_server import running_webhook_receiver
from tests.receivers import on_plan, sample_alert, start_notify

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
TARGETS = 12
ALERTS = 150


async def test_two_instances_both_deliver_and_nothing_is_lost_or_doubled(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, unique: str
) -> None:
    first = await start_notify(
        kafka_bootstrap,
        database_url,
        tmp_path,
        GROUPING_WINDOW_S="0",
        WEBHOOK_RATE_PER_S="1000",
        WEBHOOK_BURST="1000",
        DELIVERY_LEASE_RENEW_S="0.5",
    )
    # the second instance is delivery only, as its own process (`python -m notify_service.dispatcher`)
    second = ServiceProcess("notify_service.dispatcher", first.service.env)
    org = f"scale-{unique}"
    try:
        second.start(tmp_path)
        await second.wait_ready()

        async def shared() -> bool:
            rows = await first.fetch(
                "SELECT owner, count(*) AS n FROM delivery_partitions WHERE lease_until > now() GROUP BY owner"
            )
            return len(rows) == 2 and all(r["n"] == 32 for r in rows)

        await eventually(shared, timeout_s=30, interval_s=0.3)
        await on_plan(first.url, kafka_bootstrap, org, "enterprise")
        async with running_webhook_receiver() as receiver:
            for i in range(TARGETS):  # distinct endpoints: spread over the partitions
                await first.webhook_per_alert(org, f"t{i}", f"{receiver.url}/t{i}")
            alerts = [sample_alert(org, f"s-{unique}-{i:03d}") for i in range(ALERTS)]
            for start in range(0, ALERTS, 50):
                await first.alerts(*alerts[start : start + 50])

            def received() -> Counter[tuple[str, str]]:
                got: Counter[tuple[str, str]] = Counter()
                for r in receiver.requests:
                    body = r.json()
                    if not body.get("dryRun"):
                        got.update((r.path, a["fingerprint"]) for a in body["alerts"])
                return got

            async def all_arrived() -> bool:
                return len(received()) >= TARGETS * ALERTS

            await eventually(all_arrived, timeout_s=120, interval_s=0.5)
            got = received()
        wanted = {(f"/t{i}", a.fingerprint) for i in range(TARGETS) for a in alerts}
        assert set(got) == wanted, "every notification arrived"
        doubled = {k: n for k, n in got.items() if n > 1}
        assert doubled == {}, f"{len(doubled)} notifications arrived twice"
        rows = await first.fetch(
            "SELECT claimed_by, count(*) AS n FROM notifications WHERE state = 'delivered' GROUP BY claimed_by"
        )
        by_instance = {r["claimed_by"]: r["n"] for r in rows}
        print(f"{TARGETS * ALERTS} notifications delivered by two instances: {sorted(by_instance.values())}")
        assert len(by_instance) == 2, f"both instances delivered: {by_instance}"
        assert sum(by_instance.values()) == TARGETS * ALERTS
    finally:
        second.stop()
        first.service.stop()
