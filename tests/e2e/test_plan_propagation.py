"""Plan changes made through plan-service's HTTP API reach ticket-service's and notify-service's projections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
import pytest_asyncio

from carekit.db import create_pool
from carekit_testing import TEST_JWT_SECRET, ServiceProcess, bearer, commit_group_at_end, create_database, eventually
from tests.service_env import service_env

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
CONSUMERS = ("ticket_service", "notify_service")


@dataclass
class Stack:
    plan: httpx.AsyncClient
    projections: dict[str, asyncpg.Pool]  # service -> its own database


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """plan-service, ticket-service and notify-service as processes, each with its own database."""
    logs = tmp_path_factory.mktemp("plan-e2e")
    suffix = logs.name.replace("-", "")[-10:]
    services: dict[str, ServiceProcess] = {}
    dbs: dict[str, str] = {}
    for module in ("plan_service", *CONSUMERS):
        dbs[module] = await create_database(database_url, module.split("_")[0])
        env = service_env(module, kafka=kafka_bootstrap, database_url=dbs[module], group_prefix=f"{module}-{suffix}")
        if module in CONSUMERS:
            await commit_group_at_end(kafka_bootstrap, f"{module}-{suffix}.plans")
        services[module] = ServiceProcess(module, env)
        services[module].start(logs)
    pools: dict[str, asyncpg.Pool] = {}
    try:
        await asyncio.gather(*(s.wait_ready() for s in services.values()))
        for module in CONSUMERS:
            pools[module] = await create_pool(dbs[module], max_size=2)
        async with httpx.AsyncClient(base_url=services["plan_service"].url, timeout=10) as client:
            yield Stack(client, pools)
    finally:
        for pool in pools.values():
            await pool.close()
        for service in services.values():
            service.stop()


async def projected_everywhere(stack: Stack, org: str, plan: str, version: int) -> None:
    """Poll both consumers' plan_projection tables until they show this version (deadline 30 s)."""

    async def seen(pool: asyncpg.Pool) -> bool:
        row = await pool.fetchrow("SELECT plan, version FROM plan_projection WHERE org_id = $1", org)
        return row is not None and (row["plan"], row["version"]) == (plan, version)

    for module, pool in stack.projections.items():
        try:
            await eventually(lambda pool=pool: seen(pool), timeout_s=30)
        except AssertionError:
            row = await pool.fetchrow("SELECT plan, version FROM plan_projection WHERE org_id = $1", org)
            raise AssertionError(f"{module} did not apply {plan} v{version} for {org}; it has {row}") from None


async def test_owner_journey_is_applied_by_ticket_and_notify_services(stack: Stack, unique: str) -> None:
    org = f"org-{unique}"
    owner = bearer(TEST_JWT_SECRET, org, "org_owner", "alice")
    sales = bearer(TEST_JWT_SECRET, "vendor", "sales", "sam")
    api = stack.plan

    assert (await api.post(f"/v1/orgs/{org}/trial", headers=owner)).status_code == 200
    await projected_everywhere(stack, org, "developer", 1)

    answer = await api.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "enterprise"}, headers=owner)
    assert answer.status_code == 200, answer.text
    await projected_everywhere(stack, org, "enterprise", 2)

    asked = await api.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "premium"}, headers=owner)
    assert asked.status_code == 202
    approved = await api.post(f"/v1/sales-requests/{asked.json()['sales_request']['id']}/approve", headers=sales)
    assert approved.status_code == 200, approved.text
    await projected_everywhere(stack, org, "premium", 3)

    tam = {"name": "Tia Tam", "email": "tia@vendor.example"}
    assert (await api.put(f"/v1/orgs/{org}/tam", json=tam, headers=sales)).status_code == 200
    await projected_everywhere(stack, org, "premium", 4)
    for pool in stack.projections.values():
        assert await pool.fetchval("SELECT tam FROM plan_projection WHERE org_id = $1", org) is not None

    answer = await api.put(f"/v1/orgs/{org}/settings", json={"timezone": "Europe/Berlin"}, headers=owner)
    assert answer.status_code == 200
    await projected_everywhere(stack, org, "premium", 5)

    answer = await api.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "basic"}, headers=owner)
    assert answer.status_code == 200
    await projected_everywhere(stack, org, "basic", 6)
    for pool in stack.projections.values():
        row = await pool.fetchrow("SELECT entitlements, timezone, tam FROM plan_projection WHERE org_id = $1", org)
        assert (row["timezone"], row["tam"], row["entitlements"]["technical_tickets"]) == (
            "Europe/Berlin",
            None,
            False,
        )
