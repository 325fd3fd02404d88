"""Plan-change propagation: from plan-service's HTTP answer to the event applied in a consumer's projection.

Starts plan-service as a process on a fresh database, runs a consumer in this process with carekit's
plan projection (its own fresh database, real Kafka), makes N plan changes over HTTP and measures, for
each, the time from the HTTP call returning (and from it being sent) to the projection's on_change hook
running for that organisation and version. Prints p50/p95/p99/max; asserts nothing about times.

    uv run python bench/bench_plan_propagation.py [--changes 200] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import uvloop

from care_schemas.events.plan import SupportPlanChanged
from care_schemas.topics import NOTIFY_DEADLETTER
from carekit.consumer import Rejects
from carekit.db import create_pool, migrate
from carekit.kafka import Publishers, ensure_topics, make_broker
from carekit.projection import ProjectedPlan, subscribe_plan_projection
from carekit_testing import TEST_JWT_SECRET, ServiceProcess, bearer, commit_group_at_end, create_database

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("developer", "enterprise", "basic")


def setting(name: str) -> str:
    if os.environ.get(name):
        return os.environ[name]
    env_file = ROOT / ".cache" / "infra" / "infra.env"
    for line in env_file.read_text().splitlines() if env_file.exists() else []:
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip()
    raise SystemExit(f"{name} is not set; start the infrastructure with `make infra-up`")


class Applied:
    """Records when the consumer's projection applied each (org, version)."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], float] = {}
        self._waiters: dict[tuple[str, int], asyncio.Event] = {}

    async def on_change(self, conn: asyncpg.Connection, event: SupportPlanChanged, _: ProjectedPlan | None) -> None:
        key = (event.data.org_id, event.data.version)
        self.at[key] = time.monotonic()
        self._event(key).set()

    def _event(self, key: tuple[str, int]) -> asyncio.Event:
        return self._waiters.setdefault(key, asyncio.Event())

    async def wait(self, key: tuple[str, int], timeout_s: float = 30) -> float:
        async with asyncio.timeout(timeout_s):
            await self._event(key).wait()
        return self.at[key]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def report(title: str, from_return: list[float], from_send: list[float], http: list[float], wall: float) -> None:
    n = len(from_return)
    print(f"\n{title}: {n} changes in {wall:.2f} s ({n / wall:.0f} changes/s)")
    for name, values in (
        ("HTTP answer -> applied", from_return),
        ("HTTP sent   -> applied", from_send),
        ("HTTP call itself     ", http),
    ):
        ms = [v * 1000 for v in values]
        print(
            f"  {name}: p50 {pct(ms, 50):7.1f} ms   p95 {pct(ms, 95):7.1f} ms   p99 {pct(ms, 99):7.1f} ms"
            f"   max {max(ms):7.1f} ms   mean {statistics.fmean(ms):7.1f} ms"
        )


async def run_changes(
    api: httpx.AsyncClient, applied: Applied, orgs: list[str], changes: int, concurrency: int
) -> tuple[list[float], list[float], list[float], float]:
    versions = dict.fromkeys(orgs, 0)
    from_return: list[float] = []
    from_send: list[float] = []
    http_times: list[float] = []
    lock = asyncio.Lock()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(changes):
        queue.put_nowait(i)

    async def worker(org: str) -> None:
        # one worker per org at a time keeps each org's versions predictable
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            async with lock:
                versions[org] += 1
                version = versions[org]
            target = TARGETS[(version - 1) % len(TARGETS)]
            sent = time.monotonic()
            answer = await api.post(
                f"/v1/orgs/{org}/plan/changes", json={"plan": target}, headers=bearer(TEST_JWT_SECRET, org, "org_owner")
            )
            returned = time.monotonic()
            assert answer.status_code == 200, answer.text
            assert answer.json()["plan"]["version"] == version
            done = await applied.wait((org, version))
            from_return.append(done - returned)
            from_send.append(done - sent)
            http_times.append(returned - sent)

    start = time.monotonic()
    await asyncio.gather(*(worker(org) for org in orgs[:concurrency]))
    return from_return, from_send, http_times, time.monotonic() - start


async def main(changes: int, concurrency: int) -> None:
    kafka, admin_url = setting("KAFKA_BOOTSTRAP_SERVERS"), setting("DATABASE_URL")
    await ensure_topics(kafka)
    run = os.urandom(4).hex()
    plan_db = await create_database(admin_url, "benchplan")
    service = ServiceProcess(
        "plan_service",
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "DATABASE_URL": plan_db,
            "JWT_SECRET": TEST_JWT_SECRET,
            "LOG_LEVEL": "WARNING",
            "CONSUMER_GROUP_PREFIX": f"bench-{run}",
        },
    )
    consumer_pool = await create_pool(await create_database(admin_url, "benchconsumer"))
    await migrate(consumer_pool, None)
    applied = Applied()
    broker = make_broker(kafka, client_id="bench")
    group = f"bench-{run}.plans"
    await commit_group_at_end(kafka, group)
    subscribe_plan_projection(
        broker,
        consumer_pool,
        group_id=group,
        rejects=Rejects(Publishers(broker, [NOTIFY_DEADLETTER]), group, "/bench"),
        on_change=applied.on_change,
    )
    service.start(Path(tempfile.mkdtemp(prefix="bench-plan-")))
    try:
        await service.wait_ready()
        await broker.start()
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as api:
            warm = f"bench-{run}-warmup"
            await api.post(
                f"/v1/orgs/{warm}/plan/changes",
                json={"plan": "developer"},
                headers=bearer(TEST_JWT_SECRET, warm, "org_owner"),
            )
            await applied.wait((warm, 1), timeout_s=60)  # the consumer has its partitions and caught up

            orgs = [f"bench-{run}-seq-{i}" for i in range(1)]
            print(f"plan-service process {service.url}; consumer: carekit plan projection on Postgres; Kafka {kafka}")
            report("sequential (one client, one change at a time)", *await run_changes(api, applied, orgs, changes, 1))
            orgs = [f"bench-{run}-par-{i}" for i in range(concurrency)]
            report(
                f"concurrent ({concurrency} clients, one org each)",
                *await run_changes(api, applied, orgs, changes, concurrency),
            )
    finally:
        await broker.stop()
        await consumer_pool.close()
        service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    uvloop.run(main(args.changes, args.concurrency))
