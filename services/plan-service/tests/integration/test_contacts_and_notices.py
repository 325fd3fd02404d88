"""Notification contacts, sales requests made/decided/withdrawn and the trial reminder, as plan-service publishes
them on plan.events.v1 for notify-service (issue 13)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import asyncpg
import httpx
import pytest

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import (
    OrgContactsChanged,
    SalesRequestChanged,
    SalesRequestStatus,
    SupportPlanChanged,
    TrialEnding,
)
from carekit.identity import mint
from carekit_testing import TEST_JWT_SECRET, FakeClock, InProcess, PlanTopicReader
from plan_service.handlers.jobs import run_due

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
Auth = Callable[..., dict[str, str]]


def who(org: str, role: str, email: str | None = None, sub: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(TEST_JWT_SECRET, sub=sub, org=org, role=role, email=email)}"}


@pytest.fixture
def api(service: InProcess) -> httpx.AsyncClient:
    return service.client


async def test_the_customer_who_makes_a_change_is_the_default_contact_and_is_published_first(
    api: httpx.AsyncClient, plan_topic: PlanTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    answer = await api.post(
        f"/v1/orgs/{org}/plan/changes", json={"plan": "developer"}, headers=who(org, "org_owner", "alice@c.example")
    )
    assert answer.status_code == 200
    contacts = (await api.get(f"/v1/orgs/{org}/contacts", headers=who(org, "member"))).json()
    assert contacts["owner_email"] is None
    assert contacts["default_email"] == "alice@c.example"
    assert contacts["effective"] == {"owner_email": "alice@c.example", "technical_email": "alice@c.example"}
    first, second = await plan_topic.events(org, 2)
    assert isinstance(first, OrgContactsChanged)  # before the change, so its notices know where to go
    assert (first.data.owner_email, first.data.version) == ("alice@c.example", 1)
    assert isinstance(second, SupportPlanChanged)
    # staff acting for the customer never become its contact
    await api.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "basic"}, headers=who("v", "admin", "ops@vendor.io"))
    after = (await api.get(f"/v1/orgs/{org}/contacts", headers=who("v", "support_engineer"))).json()
    assert after["default_email"] == "alice@c.example"


async def test_owner_sets_contacts_and_the_event_carries_what_applies(
    api: httpx.AsyncClient, plan_topic: PlanTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    body = {
        "technical_email": "dba@c.example",
        "chat": {"platform": "slack", "workspace": "T1", "channel": "C-ops"},
        "unsubscribed": ["trial"],
    }
    saved = await api.put(f"/v1/orgs/{org}/contacts", json=body, headers=who(org, "org_owner", "olga@c.example"))
    assert saved.status_code == 200, saved.text
    view = saved.json()
    assert view["effective"] == {"owner_email": "olga@c.example", "technical_email": "dba@c.example"}
    assert (view["unsubscribed"], view["chat"]["channel"]) == (["trial"], "C-ops")
    events = await plan_topic.events(org, 2)
    last = events[-1]
    assert isinstance(last, OrgContactsChanged)
    assert (last.data.owner_email, last.data.technical_email) == ("olga@c.example", "dba@c.example")
    assert [k.value for k in last.data.unsubscribed] == ["trial"]
    again = await api.put(f"/v1/orgs/{org}/contacts", json=body, headers=who(org, "org_owner", "olga@c.example"))
    assert again.json()["version"] == view["version"]  # nothing changed: no new version, no event


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"unsubscribed": ["retirement"]}, "body.unsubscribed", "retirement notices cannot be unsubscribed"),
        ({"owner_email": "not an address"}, "body.owner_email", "should be an email address"),
        ({"chat": {"platform": "teams", "workspace": "w", "channel": "c"}}, "body.chat.platform", "slack"),
        ({"unsubscribed": ["birthday"]}, "body.unsubscribed.0", "retirement"),
    ],
)
async def test_contacts_that_break_a_rule_are_refused_naming_the_field(
    api: httpx.AsyncClient, unique: str, body: dict[str, object], field: str, words: str
) -> None:
    org = f"org-{unique}"
    answer = await api.put(f"/v1/orgs/{org}/contacts", json=body, headers=who(org, "org_owner"))
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["detail"]
    assert field in answer.text


async def test_only_owners_manage_contacts_and_nobody_sees_another_organisations(
    api: httpx.AsyncClient, unique: str
) -> None:
    org = f"org-{unique}"
    body = {"owner_email": "x@c.example"}
    refused = await api.put(f"/v1/orgs/{org}/contacts", json=body, headers=who(org, "member"))
    assert refused.status_code == 403
    assert (await api.get(f"/v1/orgs/{org}/contacts", headers=who("other", "org_owner"))).status_code == 404
    assert (await api.put(f"/v1/orgs/{org}/contacts", json=body, headers=who("other", "org_owner"))).status_code == 404


async def test_sales_requests_are_published_made_declined_and_withdrawn_and_a_withdrawn_one_cannot_be_approved(
    api: httpx.AsyncClient, plan_topic: PlanTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    owner = who(org, "org_owner", "alice@c.example")
    sales = who("vendor", "sales", "sam@vendor.example", sub="sam")
    first = (await api.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "premium"}, headers=owner)).json()
    request_id = first["sales_request"]["id"]
    assert first["sales_request"]["requested_by_email"] == "alice@c.example"
    declined = await api.post(f"/v1/sales-requests/{request_id}/decline", json={"reason": "sign first"}, headers=sales)
    assert declined.status_code == 200
    second = (await api.post(f"/v1/orgs/{org}/plan/changes", json={"plan": "premium"}, headers=owner)).json()
    second_id = second["sales_request"]["id"]
    pending = (await api.get("/v1/sales-requests?status=pending&limit=500", headers=sales)).json()["sales_requests"]
    assert second_id in [r["id"] for r in pending]

    assert (await api.post(f"/v1/orgs/other/sales-requests/{second_id}/withdraw", headers=owner)).status_code == 404
    withdrawn = await api.post(f"/v1/orgs/{org}/sales-requests/{second_id}/withdraw", headers=owner)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["sales_request"]["status"] == "withdrawn"
    pending = (await api.get("/v1/sales-requests?status=pending&limit=500", headers=sales)).json()["sales_requests"]
    assert second_id not in [r["id"] for r in pending]
    late = await api.post(f"/v1/sales-requests/{second_id}/approve", headers=sales)
    assert late.status_code == 409
    assert "withdrawn" in late.json()["detail"]
    twice = await api.post(f"/v1/orgs/{org}/sales-requests/{second_id}/withdraw", headers=owner)
    assert twice.status_code == 409

    events = [e for e in await plan_topic.events(org, 5) if isinstance(e, SalesRequestChanged)]
    assert [(e.data.request_id, e.data.status) for e in events] == [
        (request_id, SalesRequestStatus.PENDING),
        (request_id, SalesRequestStatus.DECLINED),
        (second_id, SalesRequestStatus.PENDING),
        (second_id, SalesRequestStatus.WITHDRAWN),
    ]
    assert events[1].data.reason == "sign first"
    assert events[0].data.requested_by_email == "alice@c.example"


async def test_trial_owners_are_reminded_once_three_days_before_the_end(
    api: httpx.AsyncClient, pool: asyncpg.Pool, clock: FakeClock, plan_topic: PlanTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    started = (await api.post(f"/v1/orgs/{org}/trial", headers=who(org, "org_owner"))).json()
    ends_at = started["plan"]["trial"]["ends_at"]
    saved = clock.now
    try:
        clock.advance(timedelta(days=26, hours=23))  # more than three days left: nothing yet
        await run_due(pool, clock)
        clock.advance(timedelta(hours=2))
        first = await run_due(pool, clock)
        again = await run_due(pool, clock)
    finally:
        clock.set(saved)
    assert (first.reminded >= 1, again.reminded) == (True, 0)
    reminders = [e for e in await plan_topic.events(org, 2) if isinstance(e, TrialEnding)]
    assert len(reminders) == 1
    assert (reminders[0].data.days_before, reminders[0].data.returns_to) == (3, PlanCode.BASIC)
    assert reminders[0].data.ends_at.isoformat() == ends_at
