"""IM bindings: staff bind chat places with the features the plan allows; plan events suspend and resume them."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from ticket_harness import ENGINEER, Service

from care_schemas.catalogue import PlanCode
from care_schemas.topics import PLAN_EVENTS
from carekit_testing import TEST_JWT_SECRET, bearer, eventually, plan_changed

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def place(org: str, channel: str, platform: str = "slack", workspace: str = "T0TEST") -> dict[str, str]:
    return {"org_id": org, "platform": platform, "workspace": workspace, "channel": channel}


async def test_binding_features_follow_the_plan_and_only_staff_bind(service: Service, unique: str) -> None:
    post = service.client.post
    ent, prem, basic = f"org-e-{unique}", f"org-p-{unique}", f"org-b-{unique}"
    await service.set_plan(ent, PlanCode.ENTERPRISE, 1)
    await service.set_plan(prem, PlanCode.PREMIUM, 1)
    e = await post("/v1/im-bindings", json=place(ent, f"CE{unique}"), headers=ENGINEER)
    assert e.status_code == 201
    assert (e.json()["features"], e.json()["state"]) == ({"updates": True, "two_way": False}, "active")
    p = await post("/v1/im-bindings", json=place(prem, f"oc_{unique}", "lark", "tenant-x"), headers=ENGINEER)
    assert p.json()["features"] == {"updates": True, "two_way": True}
    b = await post("/v1/im-bindings", json=place(basic, f"CB{unique}"), headers=ENGINEER)
    assert b.status_code == 403
    assert b.json()["detail"] == "IM ticket bindings need the Enterprise plan or higher; this organisation is on Basic"
    again = await post("/v1/im-bindings", json=place(prem, f"CE{unique}"), headers=ENGINEER)
    assert again.status_code == 409
    customer = bearer(TEST_JWT_SECRET, ent, "org_owner")
    assert (await post("/v1/im-bindings", json=place(ent, f"CX{unique}"), headers=customer)).status_code == 403
    bad = await post("/v1/im-bindings", json=place(ent, f"CX{unique}", "teams"), headers=ENGINEER)
    assert bad.status_code == 422
    listed = await service.client.get("/v1/im-bindings", params={"org_id": ent}, headers=ENGINEER)
    assert [x["channel"] for x in listed.json()] == [f"CE{unique}"]
    gone = await service.client.delete(f"/v1/im-bindings/{e.json()['id']}", headers=ENGINEER)
    assert gone.status_code == 204
    assert (await service.client.delete(f"/v1/im-bindings/{e.json()['id']}", headers=ENGINEER)).status_code == 404


async def test_plan_events_suspend_bindings_on_downgrade_and_resume_them_on_upgrade(
    service: Service, kafka_producer: AIOKafkaProducer, unique: str
) -> None:
    org = f"org-{unique}"

    async def publish(plan: PlanCode, version: int) -> None:
        event = plan_changed(org, plan, version)
        await kafka_producer.send_and_wait(PLAN_EVENTS.name, event.to_json_bytes(), key=org.encode())

    async def binding() -> dict[str, Any]:
        answer = await service.client.get("/v1/im-bindings", params={"org_id": org}, headers=ENGINEER)
        [row] = answer.json()
        return dict(row)

    await publish(PlanCode.ENTERPRISE, 1)

    async def entitled() -> bool:
        answer = await service.client.post("/v1/im-bindings", json=place(org, f"C{unique}"), headers=ENGINEER)
        return bool(answer.status_code == 201)

    await eventually(entitled, timeout_s=30, interval_s=0.2)
    await publish(PlanCode.BASIC, 2)
    suspended = await eventually(
        lambda: _when(binding, lambda b: b["state"] == "suspended"), timeout_s=30, interval_s=0.2
    )
    assert suspended["reason"] == "IM ticket bindings need the Enterprise plan or higher; this organisation is on Basic"
    assert suspended["features"] == {"updates": False, "two_way": False}
    refused = await service.client.post(
        "/v1/tickets",
        json={"summary": "down", "severity": "S1", "kind": "technical"},
        headers=bearer(TEST_JWT_SECRET, org, "member"),
    )
    assert refused.status_code == 403
    assert "Developer plan or higher; this organisation is on Basic" in refused.json()["detail"]

    await publish(PlanCode.ENTERPRISE, 1)  # a late duplicate of an older version changes nothing
    await publish(PlanCode.PREMIUM, 3)
    resumed = await eventually(lambda: _when(binding, lambda b: b["state"] == "active"), timeout_s=30, interval_s=0.2)
    assert resumed["features"] == {"updates": True, "two_way": True}
    assert resumed["reason"] is None


async def _when(read: Any, ok: Any) -> dict[str, Any] | None:
    row: dict[str, Any] = await read()
    return row if ok(row) else None
