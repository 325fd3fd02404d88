"""plan-service's HTTP API against real Postgres and Kafka: identity, changes, trial, sales, TAM, legacy import."""

from __future__ import annotations

import asyncio
import json
import sys
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import ChangeReason, SupportPlanChanged
from carekit_testing import FakeClock, InProcess, PlanTopicReader, eventually, within

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
Auth = Callable[..., dict[str, str]]


@pytest.fixture
def api(service: InProcess) -> httpx.AsyncClient:
    return service.client


async def change(api: httpx.AsyncClient, auth: Auth, org: str, plan: str, role: str = "org_owner") -> httpx.Response:
    return await api.post(f"/v1/orgs/{org}/plan/changes", json={"plan": plan}, headers=auth(org, role))


# --- identity ------------------------------------------------------------------------------------------------


async def test_requests_without_a_valid_token_get_401(api: httpx.AsyncClient, unique: str) -> None:
    assert (await api.get(f"/v1/orgs/org-{unique}/plan")).status_code == 401
    bad = {"Authorization": "Bearer not-a-jwt"}
    answer = await api.post(f"/v1/orgs/org-{unique}/plan/changes", json={"plan": "developer"}, headers=bad)
    assert answer.status_code == 401
    assert "invalid token" in answer.json()["detail"]


async def test_another_organisations_plan_is_404_not_403(api: httpx.AsyncClient, auth: Auth, unique: str) -> None:
    mine, theirs = f"org-{unique}", f"other-{unique}"
    for path in ("/plan", "/support-page", "/sales-requests"):
        answer = await api.get(f"/v1/orgs/{theirs}{path}", headers=auth(mine, "org_owner"))
        assert answer.status_code == 404, path
        assert answer.json()["detail"] == f"organisation {theirs} not found"
    answer = await api.post(
        f"/v1/orgs/{theirs}/plan/changes", json={"plan": "enterprise"}, headers=auth(mine, "org_owner")
    )
    assert answer.status_code == 404
    assert (await api.post(f"/v1/orgs/{theirs}/trial", headers=auth(mine, "org_owner"))).status_code == 404
    tam = {"name": "Tia Tam", "email": "tia@vendor.example"}
    for method, path, body in (("PUT", "/tam", tam), ("PUT", "/settings", {"timezone": "Asia/Tokyo"})):
        answer = await api.request(method, f"/v1/orgs/{theirs}{path}", json=body, headers=auth(mine, "org_owner"))
        assert (answer.status_code, answer.json()["detail"]) == (404, f"organisation {theirs} not found"), path


@pytest.mark.parametrize("role", ["member", "project_owner", "support_engineer", "sales"])
async def test_roles_that_may_not_change_the_plan_get_403_and_nothing_changes(
    api: httpx.AsyncClient, auth: Auth, unique: str, role: str
) -> None:
    org = f"org-{unique}"
    answer = await change(api, auth, org, "enterprise", role=role)
    assert answer.status_code == 403
    assert "allowed: admin, billing_manager, org_owner" in answer.json()["detail"]
    view = (await api.get(f"/v1/orgs/{org}/plan", headers=auth(org, "member"))).json()
    assert (view["plan"], view["version"]) == ("basic", 0)


async def test_staff_read_any_organisation_and_billing_manager_may_change(
    api: httpx.AsyncClient, auth: Auth, unique: str
) -> None:
    org = f"org-{unique}"
    assert (await change(api, auth, org, "developer", role="billing_manager")).status_code == 200
    for role in ("support_engineer", "sales", "admin"):
        view = await api.get(f"/v1/orgs/{org}/plan", headers=auth("vendor", role))
        assert view.status_code == 200
        assert view.json()["plan"] == "developer"


# --- catalogue and current plan ------------------------------------------------------------------------------


async def test_catalogue_lists_connected_care_and_legacy_plans_from_the_shared_catalogue(
    api: httpx.AsyncClient, auth: Auth
) -> None:
    body = (await api.get("/v1/plans", headers=auth("any", "member"))).json()
    assert [p["code"] for p in body["connected_care"]] == ["basic", "developer", "enterprise", "premium"]
    assert [p["code"] for p in body["legacy"]] == [
        "legacy_basic",
        "legacy_standard",
        "legacy_enterprise",
        "legacy_premium",
    ]
    premium = body["connected_care"][3]
    assert premium["entitlements"] == catalogue().get(PlanCode.PREMIUM).entitlements.model_dump(mode="json")
    assert premium["entitlements"]["response_targets"]["S1"] == {"hours": 0.5, "clock": "wall_clock"}
    assert body["legacy"][2]["retires_at"] == "2026-01-15T00:00:00Z"


async def test_a_new_organisation_is_on_basic(api: httpx.AsyncClient, auth: Auth, unique: str) -> None:
    org = f"org-{unique}"
    view = (await api.get(f"/v1/orgs/{org}/plan", headers=auth(org, "member"))).json()
    assert (view["plan"], view["version"], view["history"], view["trial_available"]) == ("basic", 0, [], True)
    assert view["entitlements"]["technical_tickets"] is False


# --- changes land in the database and on the topic ------------------------------------------------------------


async def test_change_lands_in_the_database_and_on_the_topic_as_the_schema_says(
    api: httpx.AsyncClient, auth: Auth, pool: asyncpg.Pool, plan_topic: PlanTopicReader, clock: FakeClock, unique: str
) -> None:
    org = f"org-{unique}"
    answer = await api.post(
        f"/v1/orgs/{org}/plan/changes",
        json={"plan": "enterprise", "reason": "going live"},
        headers=auth(org, "org_owner", sub="alice"),
    )
    assert answer.status_code == 200, answer.text
    view = answer.json()["plan"]
    assert (view["plan"], view["version"], view["since"]) == ("enterprise", 1, clock.now.isoformat())
    [entry] = view["history"]
    assert entry | {"event_id": None} == {
        "version": 1,
        "plan": "enterprise",
        "previous_plan": "basic",
        "reason": "self_service",
        "note": "going live",
        "actor": {"sub": "alice", "role": "org_owner"},
        "effective_at": clock.now.isoformat(),
        "event_id": None,
    }
    row = await pool.fetchrow("SELECT plan, version FROM orgs WHERE org_id = $1", org)
    assert dict(row) == {"plan": "enterprise", "version": 1}

    [record] = await plan_topic.for_key(org, 1)
    assert record.topic == "plan.events.v1"
    document = json.loads(record.value)
    assert document == {
        "specversion": "1.0",
        "id": entry["event_id"],
        "source": "/plan-service",
        "type": "care.plan.changed.v1",
        "time": clock.now.isoformat().replace("+00:00", "Z"),
        "subject": org,
        "datacontenttype": "application/json",
        "data": {
            "org_id": org,
            "plan": "enterprise",
            "previous_plan": "basic",
            "reason": "self_service",
            "actor": {"sub": "alice", "role": "org_owner"},
            "version": 1,
            "effective_at": clock.now.isoformat().replace("+00:00", "Z"),
            "entitlements": catalogue().get(PlanCode.ENTERPRISE).entitlements.model_dump(mode="json"),
            "trial_ends_at": None,
            "tam": None,
            "timezone": "UTC",
        },
    }
    await eventually(
        lambda: pool.fetchval("SELECT sent_at IS NOT NULL FROM outbox WHERE event_id = $1", entry["event_id"]),
        timeout_s=10,
    )


# --- bad input -------------------------------------------------------------------------------------------------


async def test_unknown_plan_is_refused_listing_valid_plans_and_nothing_is_written(
    api: httpx.AsyncClient, auth: Auth, pool: asyncpg.Pool, unique: str
) -> None:
    org = f"org-{unique}"
    answer = await change(api, auth, org, "gold")
    assert answer.status_code == 422
    assert answer.json()["detail"] == "unknown plan 'gold'; choose one of: basic, developer, enterprise, premium"
    answer = await change(api, auth, org, "legacy_enterprise")
    assert answer.status_code == 422
    assert "cannot be bought since 2025-02-17" in answer.json()["detail"]
    assert await pool.fetchval("SELECT count(*) FROM orgs WHERE org_id = $1", org) == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "plan: Field required"),
        ({"plan": "developer", "colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"plan": 42}, "plan: Input should be a valid string"),
        ("developer", "Input should be a valid dictionary"),
        (b"", "body: missing; send a JSON body with Content-Type: application/json"),
        (b'{"plan": ', "body: not valid JSON (Expecting value at character 9); send a JSON body"),
    ],
)
async def test_malformed_bodies_get_422_saying_what_to_fix(
    api: httpx.AsyncClient, auth: Auth, unique: str, body: object, says: str
) -> None:
    org = f"org-{unique}"
    headers = auth(org, "org_owner") | {"content-type": "application/json"}
    sent = {"content": body} if isinstance(body, bytes) else {"json": body}
    answer = await api.post(f"/v1/orgs/{org}/plan/changes", headers=headers, **sent)
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("malformed request; fix and retry: ")
    assert says in answer.json()["detail"]


async def test_a_body_that_is_not_utf8_json_gets_400_saying_what_to_send(
    api: httpx.AsyncClient, auth: Auth, pool: asyncpg.Pool, unique: str
) -> None:
    org = f"org-{unique}"
    headers = auth(org, "org_owner") | {"content-type": "application/json"}
    for body in (b'{"plan": "\xff"}', b"[" * 100_000 + b"]" * 100_000):
        answer = await api.post(f"/v1/orgs/{org}/plan/changes", content=body, headers=headers)
        assert answer.status_code == 400
        assert answer.json()["detail"] == (
            "malformed request; fix and retry: body: not UTF-8 JSON that can be parsed;"
            " send a JSON body with Content-Type: application/json"
        )
    assert await pool.fetchval("SELECT count(*) FROM orgs WHERE org_id = $1", org) == 0


async def test_a_body_over_2_mib_gets_413_before_it_is_read_whole(
    api: httpx.AsyncClient, auth: Auth, pool: asyncpg.Pool, unique: str
) -> None:
    org = f"org-{unique}"
    headers = auth(org, "org_owner") | {"content-type": "application/json"}
    huge = b'{"plan": "developer", "reason": "' + b"x" * (3 * 1024 * 1024) + b'"}'

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: refused while it streams in
        for start in range(0, len(huge), 64 * 1024):
            yield huge[start : start + 64 * 1024]

    for sent in ({"content": huge}, {"content": chunks()}):
        answer = await api.post(f"/v1/orgs/{org}/plan/changes", headers=headers, **sent)
        assert answer.status_code == 413
        assert answer.json()["detail"] == (
            "request body is larger than 2048 KiB; send less (split a large legacy import into several calls)"
        )
    assert await pool.fetchval("SELECT count(*) FROM orgs WHERE org_id = $1", org) == 0


async def test_changing_to_the_current_plan_is_a_409(api: httpx.AsyncClient, auth: Auth, unique: str) -> None:
    answer = await change(api, auth, f"org-{unique}", "basic")
    assert answer.status_code == 409
    assert answer.json()["detail"] == "this organisation is already on Basic; choose another plan to change to"


# --- trial ------------------------------------------------------------------------------------------------------


async def test_trial_starts_once_and_a_second_one_is_refused_with_the_date(
    api: httpx.AsyncClient, auth: Auth, clock: FakeClock, unique: str
) -> None:
    org = f"org-{unique}"
    started = await api.post(f"/v1/orgs/{org}/trial", headers=auth(org, "org_owner"))
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "changed", "answered like a plan change"
    view = started.json()["plan"]
    assert (view["plan"], view["history"][-1]["reason"], view["trial_available"]) == ("developer", "trial_start", False)
    assert view["trial"] == {
        "status": "active",
        "started_at": clock.now.isoformat(),
        "ends_at": (clock.now + timedelta(days=30)).isoformat(),
        "returns_to": "basic",
    }
    assert (await change(api, auth, org, "basic")).status_code == 200
    again = await api.post(f"/v1/orgs/{org}/trial", headers=auth(org, "org_owner"))
    assert again.status_code == 409
    assert again.json()["detail"].startswith(
        f"this organisation already used its Developer trial on {clock.now.date().isoformat()}"
    )


async def test_trial_while_on_enterprise_is_refused(api: httpx.AsyncClient, auth: Auth, unique: str) -> None:
    org = f"org-{unique}"
    await change(api, auth, org, "enterprise")
    answer = await api.post(f"/v1/orgs/{org}/trial", headers=auth(org, "org_owner"))
    assert answer.status_code == 409
    assert (
        "this organisation is on Enterprise, which already includes everything Developer offers"
        in (answer.json()["detail"])
    )


async def test_choosing_developer_during_the_trial_converts_it(api: httpx.AsyncClient, auth: Auth, unique: str) -> None:
    org = f"org-{unique}"
    await api.post(f"/v1/orgs/{org}/trial", headers=auth(org, "org_owner"))
    view = (await change(api, auth, org, "developer")).json()["plan"]
    assert (view["plan"], view["trial"]["status"], view["history"][-1]["reason"]) == (
        "developer",
        "converted",
        "trial_conversion",
    )


# --- Premium through sales ---------------------------------------------------------------------------------------


async def test_premium_request_is_approved_by_sales_and_cannot_be_decided_twice(
    api: httpx.AsyncClient, auth: Auth, unique: str
) -> None:
    org = f"org-{unique}"
    asked = await api.post(
        f"/v1/orgs/{org}/plan/changes", json={"plan": "premium", "reason": "SLA"}, headers=auth(org, "org_owner")
    )
    assert asked.status_code == 202
    request = asked.json()["sales_request"]
    assert (request["status"], request["plan"], request["note"]) == ("pending", "premium", "SLA")
    view = (await api.get(f"/v1/orgs/{org}/plan", headers=auth(org, "member"))).json()
    assert (view["plan"], view["pending_sales_request"]["id"]) == ("basic", request["id"])
    assert (view["version"], view["since"]) == (0, None), "asking changed nothing: Basic since always"
    dup = await change(api, auth, org, "premium")
    assert dup.status_code == 409
    assert f"already pending ({request['id']}" in dup.json()["detail"]

    listed = (await api.get("/v1/sales-requests?status=pending", headers=auth("vendor", "sales"))).json()
    assert request["id"] in [r["id"] for r in listed["sales_requests"]]
    assert (await api.get("/v1/sales-requests", headers=auth(org, "org_owner"))).status_code == 403
    forbidden = await api.post(f"/v1/sales-requests/{request['id']}/approve", headers=auth(org, "org_owner"))
    assert forbidden.status_code == 403

    approved = await api.post(f"/v1/sales-requests/{request['id']}/approve", headers=auth("vendor", "sales", "sam"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["sales_request"]["status"] == "approved"
    assert approved.json()["plan"]["plan"] == "premium"
    assert approved.json()["plan"]["history"][-1] | {"event_id": None, "effective_at": None} == {
        "version": 1,
        "plan": "premium",
        "previous_plan": "basic",
        "reason": "sales_approval",
        "note": f"sales request {request['id']}",
        "actor": {"sub": "sam", "role": "sales"},
        "effective_at": None,
        "event_id": None,
    }
    again = await api.post(f"/v1/sales-requests/{request['id']}/approve", headers=auth("vendor", "admin"))
    assert again.status_code == 409
    assert again.json()["detail"].startswith(f"sales request {request['id']} was already approved at ")
    declined = await api.post(
        f"/v1/sales-requests/{request['id']}/decline", json={"reason": "x"}, headers=auth("vendor", "sales")
    )
    assert declined.status_code == 409
    missing = await api.post("/v1/sales-requests/sr-nope/approve", headers=auth("vendor", "sales"))
    assert missing.status_code == 404


async def test_declined_request_shows_the_reason_to_the_customer(
    api: httpx.AsyncClient, auth: Auth, unique: str
) -> None:
    org = f"org-{unique}"
    request = (await change(api, auth, org, "premium")).json()["sales_request"]
    no_reason = await api.post(f"/v1/sales-requests/{request['id']}/decline", json={}, headers=auth("v", "sales"))
    assert no_reason.status_code == 422
    declined = await api.post(
        f"/v1/sales-requests/{request['id']}/decline",
        json={"reason": "Premium needs a signed order form; please contact your account manager"},
        headers=auth("vendor", "sales"),
    )
    assert declined.status_code == 200
    mine = (await api.get(f"/v1/orgs/{org}/sales-requests", headers=auth(org, "member"))).json()["sales_requests"]
    assert [(r["status"], r["decision_reason"]) for r in mine] == [
        ("declined", "Premium needs a signed order form; please contact your account manager")
    ]
    assert (await api.get(f"/v1/orgs/{org}/plan", headers=auth(org, "member"))).json()["plan"] == "basic"


# --- TAM, time zone, support page ---------------------------------------------------------------------------------


async def test_tam_is_assigned_by_staff_on_premium_and_travels_in_the_event(
    api: httpx.AsyncClient, auth: Auth, plan_topic: PlanTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    tam = {"name": "Tia Tam", "email": "tia@vendor.example"}
    refused = await api.put(f"/v1/orgs/{org}/tam", json=tam, headers=auth("vendor", "sales"))
    assert refused.status_code == 409
    assert "a named TAM comes with Premium" in refused.json()["detail"]
    request = (await change(api, auth, org, "premium")).json()["sales_request"]
    await api.post(f"/v1/sales-requests/{request['id']}/approve", headers=auth("vendor", "sales"))
    assert (await api.put(f"/v1/orgs/{org}/tam", json=tam, headers=auth(org, "org_owner"))).status_code == 403
    bad = await api.put(f"/v1/orgs/{org}/tam", json={"name": "x", "email": "nope"}, headers=auth("v", "admin"))
    assert bad.status_code == 422
    view = (await api.put(f"/v1/orgs/{org}/tam", json=tam, headers=auth("vendor", "support_engineer"))).json()
    assert (view["tam"], view["version"]) == (tam, 2)
    events = await plan_topic.events(org, 4)  # the request made, approved (with the change), the TAM
    last = events[-1]
    assert isinstance(last, SupportPlanChanged)
    assert (last.data.reason, last.data.version, last.data.plan) == (ChangeReason.TAM_ASSIGNED, 2, PlanCode.PREMIUM)
    assert last.data.tam is not None
    assert last.data.tam.model_dump() == tam


async def test_org_time_zone_travels_in_the_plan_event(
    api: httpx.AsyncClient, auth: Auth, plan_topic: PlanTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    bad = await api.put(f"/v1/orgs/{org}/settings", json={"timezone": "Mars/Olympus"}, headers=auth(org, "org_owner"))
    assert bad.status_code == 422
    assert "use an IANA name" in bad.json()["detail"]
    view = await api.put(f"/v1/orgs/{org}/settings", json={"timezone": "Asia/Tokyo"}, headers=auth(org, "org_owner"))
    assert (view.json()["timezone"], view.json()["plan"]) == ("Asia/Tokyo", "basic")
    [event] = await plan_topic.events(org, 1)
    assert isinstance(event, SupportPlanChanged)
    assert (event.data.timezone, event.data.reason, event.data.plan) == (
        "Asia/Tokyo",
        ChangeReason.SETTINGS_CHANGED,
        PlanCode.BASIC,
    )


async def test_support_page_marks_current_and_premium_says_contact_sales(
    api: httpx.AsyncClient, auth: Auth, unique: str
) -> None:
    org = f"org-{unique}"
    await change(api, auth, org, "developer")
    page = (await api.get(f"/v1/orgs/{org}/support-page", headers=auth(org, "member"))).json()
    assert [(p["code"], p["current"], p["action"]) for p in page["plans"]] == [
        ("basic", False, "Downgrade"),
        ("developer", True, "CURRENT"),
        ("enterprise", False, "Upgrade"),
        ("premium", False, "Contact sales"),
    ]
    assert page["plans"][2]["entitlements"]["im_alert_subscription"] is True


# --- legacy import --------------------------------------------------------------------------------------------------


async def test_admin_imports_legacy_orgs_all_or_nothing(
    api: httpx.AsyncClient, auth: Auth, pool: asyncpg.Pool, unique: str
) -> None:
    a, b, c = f"leg-a-{unique}", f"leg-b-{unique}", f"leg-c-{unique}"
    items = [
        {"org_id": a, "legacy_plan": "legacy_enterprise", "since": "2022-04-01T00:00:00Z"},
        {"org_id": b, "legacy_plan": "legacy_premium"},
    ]
    assert (await api.post("/v1/admin/legacy-import", json=items, headers=auth("v", "sales"))).status_code == 403
    done = await api.post("/v1/admin/legacy-import", json=items, headers=auth("vendor", "admin"))
    assert done.status_code == 200, done.text
    assert done.json() == {"imported": [a, b], "unchanged": []}
    again = await api.post("/v1/admin/legacy-import", json=items, headers=auth("vendor", "admin"))
    assert again.json() == {"imported": [], "unchanged": [a, b]}
    view = (await api.get(f"/v1/orgs/{a}/plan", headers=auth(a, "member"))).json()
    assert (view["plan"], view["since"], view["retires_at"]) == (
        "legacy_enterprise",
        "2022-04-01T00:00:00+00:00",
        "2026-01-15T00:00:00+00:00",
    )
    await change(api, auth, c, "enterprise")
    mixed = [
        {"org_id": f"leg-d-{unique}", "legacy_plan": "legacy_standard"},
        {"org_id": c, "legacy_plan": "legacy_basic"},
    ]
    refused = await api.post("/v1/admin/legacy-import", json=mixed, headers=auth("vendor", "admin"))
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(f"nothing was imported: {c} already has a plan history")
    assert await pool.fetchval("SELECT count(*) FROM orgs WHERE org_id = $1", f"leg-d-{unique}") == 0
    not_legacy = await api.post(
        "/v1/admin/legacy-import", json=[{"org_id": "x", "legacy_plan": "premium"}], headers=auth("v", "admin")
    )
    assert not_legacy.status_code == 422
    assert "is not a legacy plan; import one of: legacy_basic" in not_legacy.json()["detail"]


# --- the whole journey ---------------------------------------------------------------------------------------------


async def test_owner_journey_basic_trial_enterprise_premium_via_sales_then_downgrade(
    api: httpx.AsyncClient, auth: Auth, plan_topic: PlanTopicReader, unique: str
) -> None:
    org = f"org-{unique}"
    owner = auth(org, "org_owner")
    assert (await api.post(f"/v1/orgs/{org}/trial", headers=owner)).status_code == 200
    assert (await change(api, auth, org, "enterprise")).status_code == 200
    request = (await change(api, auth, org, "premium")).json()["sales_request"]
    assert (
        await api.post(f"/v1/sales-requests/{request['id']}/approve", headers=auth("v", "sales"))
    ).status_code == 200
    assert (await change(api, auth, org, "developer")).status_code == 200
    events = await plan_topic.events(org, 6)  # four changes, the Premium request made and approved
    assert [(e.data.version, e.data.plan, e.data.reason) for e in events if isinstance(e, SupportPlanChanged)] == [
        (1, PlanCode.DEVELOPER, ChangeReason.TRIAL_START),
        (2, PlanCode.ENTERPRISE, ChangeReason.SELF_SERVICE),
        (3, PlanCode.PREMIUM, ChangeReason.SALES_APPROVAL),
        (4, PlanCode.DEVELOPER, ChangeReason.SELF_SERVICE),
    ]
    view = (await api.get(f"/v1/orgs/{org}/plan", headers=auth(org, "member"))).json()
    assert view["trial"]["status"] == "superseded"
    assert [h["plan"] for h in view["history"]] == ["developer", "enterprise", "premium", "developer"]


async def test_legacy_import_refuses_a_future_since_and_a_repeated_org_and_writes_nothing(
    api: httpx.AsyncClient, auth: Auth, pool: asyncpg.Pool, unique: str
) -> None:
    a, b = f"leg-f-{unique}", f"leg-g-{unique}"
    future = [
        {"org_id": b, "legacy_plan": "legacy_premium"},
        {"org_id": a, "legacy_plan": "legacy_premium", "since": "2999-01-01T00:00:00Z"},
    ]
    answer = await api.post("/v1/admin/legacy-import", json=future, headers=auth("vendor", "admin"))
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        f"{a}: since 2999-01-01T00:00:00+00:00 is in the future;"
        " give the date the organisation joined its legacy plan, or leave it out"
    )
    repeated = [{"org_id": a, "legacy_plan": "legacy_premium"}, {"org_id": a, "legacy_plan": "legacy_enterprise"}]
    answer = await api.post("/v1/admin/legacy-import", json=repeated, headers=auth("vendor", "admin"))
    assert (answer.status_code, answer.json()["detail"]) == (
        422,
        f"each org_id may appear once in an import; repeated: {a}",
    )
    assert await pool.fetchval("SELECT count(*) FROM orgs WHERE org_id = ANY($1::text[])", [a, b]) == 0


async def test_the_legacy_import_command_seeds_orgs_like_the_endpoint_and_the_events_are_published(
    service: InProcess, auth: Auth, plan_topic: PlanTopicReader, tmp_path: Path, unique: str
) -> None:
    org = f"leg-cli-{unique}"
    file = tmp_path / "import.json"
    file.write_text(json.dumps([{"org_id": org, "legacy_plan": "legacy_enterprise", "since": "2023-04-01T00:00:00Z"}]))
    command = [sys.executable, "-m", "plan_service.entrypoints.cli", str(file), "--actor", "ops-bob"]
    command += ["--database-url", service.runtime.settings.database_url]

    async def run() -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(*command, stdout=PIPE, stderr=PIPE)
        out, err = await within(proc.communicate(), 60)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    assert await run() == (0, json.dumps({"imported": [org], "unchanged": []}) + "\n", "")
    assert await run() == (0, json.dumps({"imported": [], "unchanged": [org]}) + "\n", "")
    view = (await service.client.get(f"/v1/orgs/{org}/plan", headers=auth(org, "member"))).json()
    assert (view["plan"], view["since"], view["history"][0]["actor"]) == (
        "legacy_enterprise",
        "2023-04-01T00:00:00+00:00",
        {"sub": "ops-bob", "role": "admin"},
    )
    [event] = await plan_topic.events(org, 1)
    assert isinstance(event, SupportPlanChanged)
    assert (event.data.plan, event.data.reason, event.data.version) == (
        PlanCode.LEGACY_ENTERPRISE,
        ChangeReason.ADMIN,
        1,
    )

    file.write_text(json.dumps([{"org_id": org, "legacy_plan": "legacy_premium"}, {"org": "x"}]))
    code, out, err = await run()
    assert (code, out) == (2, "")
    assert "is not a valid import; fix and retry" in err
    assert "1.org_id: Field required" in err


async def test_sales_requests_come_in_pages_that_say_where_the_next_one_starts(
    api: httpx.AsyncClient, auth: Auth, clock: FakeClock, unique: str
) -> None:
    org = f"org-{unique}"
    ids = []
    for n in range(3):
        clock.advance(timedelta(minutes=1))
        request = (await change(api, auth, org, "premium")).json()["sales_request"]
        ids.append(request["id"])
        if n < 2:
            answer = await api.post(
                f"/v1/sales-requests/{request['id']}/decline", json={"reason": "not yet"}, headers=auth("v", "sales")
            )
            assert answer.status_code == 200
    first = (await api.get(f"/v1/orgs/{org}/sales-requests?limit=2", headers=auth(org, "member"))).json()
    assert ([r["id"] for r in first["sales_requests"]], first["next_offset"]) == ([ids[2], ids[1]], 2)
    last = (await api.get(f"/v1/orgs/{org}/sales-requests?limit=2&offset=2", headers=auth(org, "member"))).json()
    assert ([r["id"] for r in last["sales_requests"]], last["next_offset"]) == ([ids[0]], None)
    bad = await api.get("/v1/sales-requests?limit=0", headers=auth("v", "sales"))
    assert bad.status_code == 422
    assert "limit: Input should be greater than or equal to 1" in bad.json()["detail"]
