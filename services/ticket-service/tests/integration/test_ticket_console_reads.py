"""What the web console reads from ticket-service: text search, the engineers' queue by due time, an
organisation's own IM bindings, and the zone a ticket's due time counts in."""

from __future__ import annotations

import pytest
from ticket_harness import ENGINEER, MONDAY_10_UTC, Service

from care_schemas.catalogue import PlanCode
from carekit_testing import TEST_JWT_SECRET, bearer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


def owner(org: str) -> dict[str, str]:
    return bearer(TEST_JWT_SECRET, org, "org_owner", sub="alice")


async def _open(service: Service, org: str, summary: str, severity: str, description: str = "") -> dict[str, object]:
    body = {"summary": summary, "severity": severity, "kind": "technical", "description": description}
    answer = await service.client.post("/v1/tickets", json=body, headers=owner(org))
    assert answer.status_code == 201, answer.text
    ticket: dict[str, object] = answer.json()
    return ticket


async def test_text_search_finds_words_in_summary_or_description_literally(service: Service, unique: str) -> None:
    org = f"org-{unique}"
    await service.set_plan(org, PlanCode.ENTERPRISE, 1)
    latency = await _open(service, org, "P99 latency above 200 ms", "S3", "after the 100%_upgrade")
    await _open(service, org, "Changefeed FAILED", "S2")
    found = await service.client.get("/v1/tickets", params={"q": "latency 200"}, headers=owner(org))
    assert [t["id"] for t in found.json()] == [latency["id"]]
    literal = await service.client.get("/v1/tickets", params={"q": "100%_up"}, headers=owner(org))
    assert [t["id"] for t in literal.json()] == [latency["id"]]
    wildcard = await service.client.get("/v1/tickets", params={"q": "P%9"}, headers=owner(org))
    assert wildcard.json() == []  # % is a character here, not "anything" (as a wildcard it would match P99)
    other = await service.client.get("/v1/tickets", params={"q": "latency"}, headers=owner(f"other-{unique}"))
    assert other.json() == []


async def test_queue_puts_the_soonest_due_unanswered_ticket_first_across_organisations(
    service: Service, unique: str
) -> None:
    service.clock.now = MONDAY_10_UTC
    first, second = f"a-{unique}", f"b-{unique}"
    await service.set_plan(first, PlanCode.ENTERPRISE, 1)
    await service.set_plan(second, PlanCode.PREMIUM, 1)
    s3 = await _open(service, first, "slow query", "S3")  # 8 business hours
    s1 = await _open(service, second, "cluster down", "S1")  # 30 minutes
    s2 = await _open(service, first, "replica lag", "S2")  # 2 hours
    answered = await service.client.post(f"/v1/tickets/{s1['id']}/comments", json={"body": "looking"}, headers=ENGINEER)
    assert answered.status_code == 201
    queue = (await service.client.get("/v1/queue", params={"limit": 200}, headers=ENGINEER)).json()
    mine = [t["id"] for t in queue if t["org_id"] in (first, second)]
    assert mine == [s2["id"], s3["id"], s1["id"]]  # unanswered by due time, then the answered one
    due = {t["id"]: t["response_due_at"] for t in queue}
    assert due[s2["id"]] < due[s3["id"]]
    refused = await service.client.get("/v1/queue", headers=owner(first))
    assert refused.status_code == 403


async def test_members_read_their_own_bindings_and_never_another_organisations(service: Service, unique: str) -> None:
    org = f"org-{unique}"
    await service.set_plan(org, PlanCode.ENTERPRISE, 1)
    bound = await service.client.post(
        "/v1/im-bindings",
        json={"org_id": org, "platform": "slack", "workspace": f"T{unique}", "channel": "C1", "name": "#ops"},
        headers=ENGINEER,
    )
    assert bound.status_code == 201, bound.text
    mine = await service.client.get(f"/v1/orgs/{org}/im-bindings", headers=bearer(TEST_JWT_SECRET, org, "member"))
    assert [(b["name"], b["state"], b["features"]["updates"]) for b in mine.json()] == [("#ops", "active", True)]
    theirs = await service.client.get(f"/v1/orgs/{org}/im-bindings", headers=owner(f"other-{unique}"))
    assert theirs.status_code == 404


async def test_a_ticket_says_the_zone_its_due_time_counts_in(service: Service, unique: str) -> None:
    org = f"org-{unique}"
    await service.set_plan(org, PlanCode.DEVELOPER, 1, timezone="Asia/Tokyo")
    ticket = await _open(service, org, "question", "S4")
    assert ticket["timezone"] == "Asia/Tokyo"
