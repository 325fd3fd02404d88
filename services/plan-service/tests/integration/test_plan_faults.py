"""Issue 8 in plan-service: input that can never succeed is a 4xx naming the field (never a 503), the time zone
is an IANA name, and an organisation the scheduler cannot process is parked while the others go on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import asyncpg
import httpx
import pytest

from carekit_testing import FakeClock, InProcess
from plan_service.handlers import jobs

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
Auth = Callable[..., dict[str, str]]
NUL = "a%00b"


@pytest.fixture
def api(service: InProcess) -> httpx.AsyncClient:
    return service.client


@pytest.mark.parametrize(
    ("method", "path", "body", "role", "names"),
    [
        ("GET", f"/v1/orgs/{NUL}/plan", None, "admin", "org"),
        ("GET", f"/v1/orgs/{NUL}/support-page", None, "admin", "org"),
        ("POST", f"/v1/orgs/{NUL}/plan/changes", {"plan": "developer"}, "admin", "org"),
        ("POST", f"/v1/orgs/{NUL}/trial", None, "admin", "org"),
        ("PUT", f"/v1/orgs/{NUL}/settings", {"timezone": "UTC"}, "admin", "org"),
        ("PUT", f"/v1/orgs/{NUL}/tam", {"name": "T", "email": "t@example.com"}, "admin", "org"),
        ("GET", f"/v1/orgs/{NUL}/sales-requests", None, "admin", "org"),
        ("GET", f"/v1/orgs/x/sales-requests?offset={2**63}", None, "admin", "offset"),
        ("GET", f"/v1/sales-requests?offset={2**63}", None, "admin", "offset"),
        ("GET", f"/v1/sales-requests?limit={2**63}", None, "admin", "limit"),
        ("POST", f"/v1/sales-requests/{NUL}/approve", None, "admin", "request_id"),
        ("POST", f"/v1/sales-requests/{NUL}/decline", {"reason": "no"}, "admin", "request_id"),
        ("POST", "/v1/orgs/o-1/plan/changes", {"plan": "developer", "reason": "why\u0000"}, "admin", "reason"),
        ("POST", "/v1/sales-requests/sr-1/decline", {"reason": "no\u0000"}, "admin", "reason"),
        ("PUT", "/v1/orgs/o-1/tam", {"name": "T\u0000", "email": "t@example.com"}, "admin", "name"),
        ("POST", "/v1/admin/legacy-import", [{"org_id": "o\u0000", "legacy_plan": "legacy_basic"}], "admin", "org_id"),
        (
            "POST",
            "/v1/admin/legacy-import",
            [{"org_id": "o-2", "legacy_plan": "legacy_basic", "since": "0001-01-01T00:00:00+05:00"}],
            "admin",
            "since",
        ),
    ],
)
async def test_a_value_that_can_never_be_stored_is_a_422_naming_it(
    api: httpx.AsyncClient, auth: Auth, method: str, path: str, body: object, role: str, names: str
) -> None:
    answer = await api.request(method, path, json=body, headers=auth("vendor", role))
    assert answer.status_code == 422, answer.text
    assert names in answer.text


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "", "../../etc/passwd", "/etc/localtime"])
async def test_the_time_zone_must_be_an_iana_name(api: httpx.AsyncClient, auth: Auth, unique: str, zone: str) -> None:
    org = f"org-{unique}"
    answer = await api.put(f"/v1/orgs/{org}/settings", json={"timezone": zone}, headers=auth(org, "org_owner"))
    assert answer.status_code == 422, answer.text
    assert "timezone" in answer.text
    ok = await api.put(f"/v1/orgs/{org}/settings", json={"timezone": "Asia/Tokyo"}, headers=auth(org, "org_owner"))
    assert ok.status_code == 200


async def test_an_organisation_whose_trial_cannot_be_ended_is_parked_and_the_others_trials_end(
    api: httpx.AsyncClient, auth: Auth, pool: asyncpg.Pool, clock: FakeClock, unique: str
) -> None:
    good, bad = f"good-{unique}", f"bad-{unique}"
    for org in (good, bad):
        assert (await api.post(f"/v1/orgs/{org}/trial", headers=auth(org, "org_owner"))).status_code == 200
    # the bad organisation's trial returns to a plan the catalogue no longer has (a row from an older release)
    await pool.execute("UPDATE orgs SET trial_return_plan = 'gold' WHERE org_id = $1", bad)
    start = clock.now
    clock.advance(timedelta(days=31))
    try:
        for _ in range(3):  # an unknown error is retried POISON_ATTEMPTS times, then the organisation is parked
            await jobs.run_due(pool, clock)
    finally:
        clock.set(start)
    assert await pool.fetchval("SELECT plan FROM orgs WHERE org_id = $1", good) == "basic"
    assert await pool.fetchval("SELECT plan FROM orgs WHERE org_id = $1", bad) == "developer"
    parked = await api.get("/v1/ops/parked?loop=trial-expiry", headers=auth("vendor", "admin"))
    [entry] = [p for p in parked.json()["parked"] if p["key"] == bad]
    assert "'gold' is not a valid PlanCode" in entry["reason"]
    customer = await api.get("/v1/ops/parked", headers=auth(good, "org_owner"))
    assert customer.status_code == 403
