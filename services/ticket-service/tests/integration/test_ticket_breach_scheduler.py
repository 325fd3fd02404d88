"""The breach scheduler as it runs: two instances on one database, started after the tickets fell due."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from ticket_harness import MONDAY_10_UTC, Service, in_process, settings_for

from care_schemas.catalogue import PlanCode
from care_schemas.events.ticket import TicketResponseBreached
from carekit_testing import TEST_JWT_SECRET, FakeClock, TicketTopicReader, bearer, commit_group_at_end, eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_two_running_instances_emit_exactly_one_breach_per_ticket_after_downtime(
    service: Service, ticket_topic: TicketTopicReader, kafka_bootstrap: str, unique: str
) -> None:
    org = f"org-{unique}"
    await service.set_plan(org, PlanCode.PREMIUM, 1)
    service.clock.now = MONDAY_10_UTC
    customer = bearer(TEST_JWT_SECRET, org, "member")
    body = {"summary": "cluster down", "severity": "S1", "kind": "technical"}
    ids = [(await service.client.post("/v1/tickets", json=body, headers=customer)).json()["id"] for _ in range(12)]
    on_time = await service.client.post("/v1/tickets", json=body | {"severity": "S3"}, headers=customer)
    assert on_time.json()["response_due_at"] == "2026-03-02T14:00:00Z"  # 4 business hours: not due yet

    later = FakeClock(MONDAY_10_UTC + timedelta(hours=2))  # both instances start after the due times passed
    prefix = f"ticket-sched-{uuid.uuid4().hex[:8]}"
    await commit_group_at_end(kafka_bootstrap, f"{prefix}.plans")
    settings = settings_for(service.db, kafka_bootstrap, prefix, breach_scan_interval_s=0.05)
    async with in_process(settings, later), in_process(settings, later):

        async def all_breached() -> bool:
            breached = await service.count(
                "SELECT count(*) FROM tickets WHERE org_id = $1 AND breached_at IS NOT NULL", org
            )
            unsent = await service.count("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            return breached == len(ids) and unsent == 0

        await eventually(all_breached, timeout_s=30)
        await asyncio.sleep(0.5)  # many more scans by both instances
    for tid in ids:
        await ticket_topic.for_key(tid, 2, timeout_s=10)  # opened + breached
    await ticket_topic.for_key("drain-any-duplicates", 1, timeout_s=1)
    for tid in ids:
        events = await ticket_topic.events(tid, 0, timeout_s=0)
        assert sum(isinstance(e, TicketResponseBreached) for e in events) == 1, tid
    assert (
        await service.count("SELECT count(*) FROM tickets WHERE id = $1 AND breached_at IS NULL", on_time.json()["id"])
        == 1
    )
