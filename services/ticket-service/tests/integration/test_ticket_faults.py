"""Issue 8 in ticket-service: a ticket whose breach can never be recorded is parked with its reason, and the scan
goes on with every other ticket (before, the whole scan failed on it, every time, for everyone)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ticket_harness import MONDAY_10_UTC, Service

from care_schemas.catalogue import PlanCode
from carekit_testing import TEST_JWT_SECRET, bearer
from ticket_service import handlers

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
STAFF = bearer(TEST_JWT_SECRET, "vendor", "admin", sub="ops-1")


async def test_a_ticket_whose_breach_cannot_be_recorded_is_parked_and_the_others_breach(
    service: Service, unique: str
) -> None:
    org = f"org-{unique}"
    await service.set_plan(org, PlanCode.PREMIUM, 1)
    service.clock.now = MONDAY_10_UTC
    customer = bearer(TEST_JWT_SECRET, org, "member")
    body = {"summary": "cluster down", "severity": "S1", "kind": "technical"}
    good = (await service.client.post("/v1/tickets", json=body, headers=customer)).json()["id"]
    bad = (await service.client.post("/v1/tickets", json=body, headers=customer)).json()["id"]
    # a row the breach event can no longer carry (written by an older release, or edited by hand)
    pool = service.app.runtime.pool
    await pool.execute("UPDATE tickets SET summary = $2 WHERE id = $1", bad, "s" * 300)

    service.clock.now = MONDAY_10_UTC + timedelta(hours=3)
    await handlers.scan_breaches(service.app.deps)
    assert await service.count("SELECT count(*) FROM tickets WHERE id = $1 AND breached_at IS NOT NULL", good) == 1
    assert await service.count("SELECT count(*) FROM tickets WHERE id = $1 AND breached_at IS NULL", bad) == 1
    parked = (await service.client.get("/v1/ops/parked?loop=breach-scheduler", headers=STAFF)).json()["parked"]
    [entry] = [p for p in parked if p["key"] == bad]
    assert entry["reason"].startswith("does not validate: summary: String should have at most 255 characters")
    assert await handlers.scan_breaches(service.app.deps) == 0, "a parked ticket is not scanned again and again"
