"""notify-service as an API process (`NOTIFY_ROLE=api`), or a process that delivers too (`NOTIFY_ROLE=all`), beside a
dispatcher process that takes its notifications over a Unix socket (`DELIVERY_HANDOFF_SOCKET`), all real processes:
what the API stores for the dispatcher's partitions goes to it through the socket, not through claims; when the
dispatcher is killed (SIGKILL) the API goes on taking alerts, everything is sent, the API hands to a new dispatcher
again, and duplicates stay within what was in flight."""

from __future__ import annotations

import re
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from care_schemas.events.alert import Alert
from carekit_testing import ServiceProcess, eventually
from tests.fakes.webhook_server import running_webhook_receiver
from tests.receivers import Notify, Received, on_plan, sample_alert, start_notify

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
ALERTS = 240
INFLIGHT = 16  # DELIVERY_TARGET_INFLIGHT, the default
PATHS = ("/a", "/b")


async def _metric(url: str, name: str) -> float:
    async with httpx.AsyncClient(base_url=url) as client:
        text = (await client.get("/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _delivered(requests: list[Received]) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for r in requests:
        body = r.json()
        if r.status < 300 and not body.get("dryRun"):
            out.update((r.path, a["fingerprint"]) for a in body["alerts"])
    return out


async def test_the_api_hands_its_rows_to_a_dispatcher_process_and_a_killed_one_loses_nothing(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, unique: str
) -> None:
    api = await start_notify(
        kafka_bootstrap,
        database_url,
        tmp_path,
        NOTIFY_ROLE="api",
        DELIVERY_HANDOFF_SOCKET=str(tmp_path / "handoff.sock"),
        GROUPING_WINDOW_S="0",
        WEBHOOK_RATE_PER_S="80",  # a backlog builds up: the dispatcher holds rows when it is killed
        WEBHOOK_BURST="5",
        DELIVERY_LEASE_TTL_S="3",
        DELIVERY_LEASE_RENEW_S="0.5",
    )
    dispatchers = [ServiceProcess("notify_service.dispatcher", api.service.env)]
    handed = 'notify_handoff_rows_total{outcome="handed"}'
    org = f"handoff-{unique}"

    async def connected() -> bool:
        return await _metric(api.url, "notify_handoff_connected") == 1.0

    async def takes_every_partition() -> bool:
        return await connected() and await _metric(api.url, "notify_handoff_partitions") == 64.0

    try:
        dispatchers[0].start(tmp_path)
        await dispatchers[0].wait_ready()
        await eventually(takes_every_partition, timeout_s=30, interval_s=0.2)
        await on_plan(api.url, kafka_bootstrap, org, "enterprise")
        async with running_webhook_receiver() as receiver:
            for path in PATHS:
                await api.webhook_per_alert(org, path, receiver.url + path)
            alerts = [sample_alert(org, f"h-{unique}-{i:03d}") for i in range(ALERTS)]
            third = ALERTS // 3
            await api.alerts(*alerts[:third])
            await receiver.wait_for(40, timeout_s=20)
            assert await _metric(api.url, handed) == 2 * third, "every row went through the socket"

            dispatchers[0].stop(signal.SIGKILL)
            await api.alerts(*alerts[third : 2 * third])  # taken while no dispatcher runs: queued for claims

            dispatchers.append(ServiceProcess("notify_service.dispatcher", api.service.env))
            dispatchers[1].start(tmp_path)
            await dispatchers[1].wait_ready()
            before = await _metric(api.url, handed)
            # connected, and holding every partition once the killed one's leases lapsed (as the API sees it)
            await eventually(takes_every_partition, timeout_s=30, interval_s=0.2)
            await api.alerts(*alerts[2 * third :])

            wanted = {(p, a.fingerprint) for p in PATHS for a in alerts}

            async def everything_delivered() -> bool:
                return set(_delivered(receiver.requests)) == wanted

            await eventually(everything_delivered, timeout_s=90, interval_s=0.5)
            got = _delivered(receiver.requests)
            duplicates = sum(got.values()) - len(got)
            print(
                f"delivered {len(wanted)} notifications across a SIGKILL of the dispatcher process with {duplicates}"
                f" duplicate(s) (bound: {len(PATHS)} targets x {INFLIGHT} messages in flight)"
            )
            assert duplicates <= len(PATHS) * INFLIGHT
            assert await _metric(api.url, handed) == before + 2 * (ALERTS - 2 * third), "handed to the new one"
        rows = await api.fetch("SELECT state, count(*) AS n FROM notifications GROUP BY state")
        assert {r["state"]: r["n"] for r in rows} == {"delivered": 2 * ALERTS}
    finally:
        for d in dispatchers:
            d.stop()
        api.service.stop()


TARGETS = 24  # webhook subscribers, spread over the partitions (each process holds some of theirs)
PER_TARGET = 20  # alerts, each a notification for every target


async def _holders(api: Notify) -> dict[str, int]:
    """Partitions held, by instance."""
    rows = await api.fetch(
        "SELECT owner, count(*) AS n FROM delivery_partitions WHERE owner IS NOT NULL AND lease_until > now()"
        " GROUP BY owner"
    )
    return {r["owner"]: r["n"] for r in rows}


async def test_a_process_that_delivers_beside_a_dispatcher_process_hands_it_its_partitions_rows(
    kafka_bootstrap: str, database_url: str, tmp_path: Path, unique: str
) -> None:
    """NOTIFY_ROLE=all with DELIVERY_HANDOFF_SOCKET: the process keeps a smaller share of the partitions (here 0.5
    against the dispatcher's 1: with the default, 0.2, 11 partitions, all 24 targets would fall in the dispatcher's
    53 about once in a hundred runs) and sends their rows itself, and hands the rest over the socket; both deliver,
    nothing is sent twice. When the dispatcher process is killed the process takes every partition and sends
    everything; a new dispatcher process takes its share back."""
    api = await start_notify(
        kafka_bootstrap,
        database_url,
        tmp_path,
        DELIVERY_HANDOFF_SOCKET=str(tmp_path / "beside.sock"),
        GROUPING_WINDOW_S="0",
        DELIVERY_LEASE_TTL_S="3",
        DELIVERY_LEASE_RENEW_S="0.5",
        DELIVERY_SHARE="0.5",
    )
    dispatcher_env = {k: v for k, v in api.service.env.items() if k != "DELIVERY_SHARE"}  # the default, 1
    dispatchers = [ServiceProcess("notify_service.dispatcher", dispatcher_env)]
    handed = 'notify_handoff_rows_total{outcome="handed"}'
    delivered = 'notify_notifications_delivered_total{channel="webhook"}'
    org = f"beside-{unique}"

    async def shared() -> bool:  # 22 and 42 of the 64 (ceil(64 x 0.5 / 1.5) is the most the first may hold)
        held = await _holders(api)
        return (
            sorted(held.values()) == [22, 42]
            and await _metric(api.url, "notify_handoff_partitions") == 42.0
            and await _metric(api.url, "notify_handoff_connected") == 1.0
        )

    try:
        dispatchers[0].start(tmp_path)
        await dispatchers[0].wait_ready()
        await eventually(shared, timeout_s=30, interval_s=0.2)
        await on_plan(api.url, kafka_bootstrap, org, "enterprise")
        async with running_webhook_receiver() as receiver:
            paths = [f"/t{k:02d}" for k in range(TARGETS)]
            for path in paths:
                await api.webhook_per_alert(org, path, receiver.url + path)
            alerts = [sample_alert(org, f"b-{unique}-{i:03d}") for i in range(3 * PER_TARGET)]
            batches = [alerts[k * PER_TARGET : (k + 1) * PER_TARGET] for k in range(3)]
            wanted = {(p, a.fingerprint) for p in paths for a in alerts}

            def delivered_of(batch: list[Alert]) -> Callable[[], Awaitable[bool]]:
                async def done() -> bool:
                    got = set(_delivered(receiver.requests))
                    return {(p, a.fingerprint) for p in paths for a in batch} <= got

                return done

            await api.alerts(*batches[0])
            await eventually(delivered_of(batches[0]), timeout_s=30, interval_s=0.2)
            first = TARGETS * PER_TARGET

            async def recorded() -> bool:  # the process's own deliveries are counted once written
                return await _metric(api.url, handed) + await _metric(api.url, delivered) == first

            await eventually(recorded, timeout_s=10, interval_s=0.2)
            by_socket = await _metric(api.url, handed)
            assert 0 < by_socket < first, "the dispatcher process's partitions went over the socket, the rest not"

            dispatchers[0].stop(signal.SIGKILL)
            await api.alerts(*batches[1])  # the killed one's partitions: queued for claims, taken over
            await eventually(delivered_of(batches[1]), timeout_s=60, interval_s=0.5)

            dispatchers.append(ServiceProcess("notify_service.dispatcher", dispatcher_env))
            dispatchers[1].start(tmp_path)
            await dispatchers[1].wait_ready()
            await eventually(shared, timeout_s=30, interval_s=0.2)
            before = await _metric(api.url, handed)
            await api.alerts(*batches[2])

            async def everything_delivered() -> bool:
                return set(_delivered(receiver.requests)) == wanted

            await eventually(everything_delivered, timeout_s=60, interval_s=0.5)
            assert await _metric(api.url, handed) > before, "the new dispatcher process takes its share again"
            got = _delivered(receiver.requests)
            duplicates = sum(got.values()) - len(got)
            print(f"delivered {len(wanted)} notifications beside a dispatcher process killed once: {duplicates} twice")
            assert duplicates <= TARGETS * INFLIGHT
        rows = await api.fetch("SELECT state, count(*) AS n FROM notifications GROUP BY state")
        assert {r["state"]: r["n"] for r in rows} == {"delivered": len(wanted)}
    finally:
        for d in dispatchers:
            d.stop()
        api.service.stop()
