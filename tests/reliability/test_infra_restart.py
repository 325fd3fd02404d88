"""Postgres and Kafka restarted under running services: the services heal and nothing is lost.

These tests run their own private Kafka and Postgres (infra/ scripts on free ports in a temporary folder),
so restarting them disturbs no other test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio

from carekit_testing import ServiceProcess, bearer, eventually, free_port
from tests.service_env import service_env

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PrivateInfra:
    env: dict[str, str]
    kafka: str
    database_url: str

    def run(self, script: str, *args: str) -> None:
        done = subprocess.run(
            ["bash", str(ROOT / "infra" / script), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, f"infra/{script} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"

    def database(self, name: str) -> str:
        return self.database_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def infra() -> Iterator[PrivateInfra]:
    # Under the repo's ignored .cache/, not /tmp/pytest-of-root (0700), so the postgres user can reach it.
    folder = Path(tempfile.mkdtemp(prefix="reliability-", dir=ROOT / ".cache"))
    folder.chmod(0o755)
    ports = {"KAFKA_PORT": free_port(), "KAFKA_CONTROLLER_PORT": free_port(), "PG_PORT": free_port()}
    env = {**os.environ, "CARE_INFRA_DIR": str(folder), **{k: str(v) for k, v in ports.items()}}
    private = PrivateInfra(
        env, f"127.0.0.1:{ports['KAFKA_PORT']}", f"postgresql://care:care@127.0.0.1:{ports['PG_PORT']}/care"
    )
    try:
        private.run("up.sh")
        yield private
    finally:
        private.run("down.sh")
        shutil.rmtree(folder, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="session")
async def services(infra: PrivateInfra, tmp_path: Path, unique: str) -> AsyncIterator[dict[str, ServiceProcess]]:
    running: dict[str, ServiceProcess] = {}
    try:
        for module, db in (("plan_service", "plan"), ("notify_service", "notify")):
            env = service_env(module, kafka=infra.kafka, database_url=infra.database(db), group_prefix=f"r-{unique}")
            running[module] = ServiceProcess(module, env)
            running[module].start(tmp_path)
        for service in running.values():
            await service.wait_ready()
        yield running
    finally:
        for service in running.values():
            service.stop()


async def change_plan(plan_url: str, org: str, plan: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=plan_url, timeout=10) as client:
        return await client.post(
            f"/v1/orgs/{org}/plan/changes", json={"plan": plan}, headers=bearer(TEST_SECRET, org, "org_owner")
        )


async def projected(database_url: str, org: str) -> str | None:
    conn = await asyncpg.connect(database_url)
    try:
        plan: str | None = await conn.fetchval("SELECT plan FROM plan_projection WHERE org_id = $1", org)
        return plan
    finally:
        await conn.close()


async def healthy(service: ServiceProcess) -> bool:
    async with httpx.AsyncClient(base_url=service.url, timeout=5) as client:
        try:
            return (await client.get("/readyz")).status_code == 200 and (
                await client.get("/healthz")
            ).status_code == 200
        except httpx.HTTPError:
            return False


async def test_services_heal_after_postgres_restarts_and_later_changes_still_propagate(
    infra: PrivateInfra, services: dict[str, ServiceProcess], unique: str
) -> None:
    plan, notify = services["plan_service"], services["notify_service"]
    org = f"org-pg-{unique}"
    infra.run("postgres.sh", "stop")
    down = await change_plan(plan.url, org, "developer")
    assert down.status_code == 503, down.text
    assert down.headers["Retry-After"] == "5"
    assert "temporarily unavailable (database or broker); retry shortly" in down.json()["detail"]
    infra.run("postgres.sh", "start")

    async def accepted() -> bool:
        return (await change_plan(plan.url, org, "enterprise")).status_code == 200

    await eventually(accepted, timeout_s=30, interval_s=0.5)
    assert await eventually(lambda: _is(projected(infra.database("notify"), org), "enterprise"), timeout_s=30)
    assert await eventually(lambda: healthy(plan), timeout_s=10)
    assert await eventually(lambda: healthy(notify), timeout_s=10)


async def test_a_change_made_while_kafka_is_down_reaches_consumers_after_it_returns(
    infra: PrivateInfra, services: dict[str, ServiceProcess], unique: str
) -> None:
    plan, notify = services["plan_service"], services["notify_service"]
    org = f"org-kafka-{unique}"
    assert (await change_plan(plan.url, org, "developer")).status_code == 200
    assert await eventually(lambda: _is(projected(infra.database("notify"), org), "developer"), timeout_s=30)

    infra.run("kafka.sh", "stop")
    answer = await change_plan(plan.url, org, "enterprise")
    assert answer.status_code == 200, "the change is durable in the outbox even with the broker away"
    await asyncio.sleep(5)  # the relay keeps trying meanwhile; the row stays unsent in the outbox
    infra.run("kafka.sh", "start")

    assert await eventually(lambda: _is(projected(infra.database("notify"), org), "enterprise"), timeout_s=60)
    assert await eventually(lambda: healthy(plan), timeout_s=10)
    assert await eventually(lambda: healthy(notify), timeout_s=10)


async def _is(value: object, expected: str) -> bool:
    return await value == expected  # type: ignore[misc]


TEST_SECRET = service_env("plan_service", kafka="", database_url="", group_prefix="")["JWT_SECRET"]
