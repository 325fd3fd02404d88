"""HTTP routes under /v1: parse, check who may act, call a handler, map refusals to 4xx."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import Actor, Tam
from carekit.identity import CurrentIdentity, Identity, Role, require
from carekit.refusals import NotFound
from carekit.runtime import Runtime
from plan_service import handlers

router = APIRouter(prefix="/v1", tags=["plans"])
CHANGERS = (Role.ORG_OWNER, Role.BILLING_MANAGER, Role.ADMIN)
STAFF = (Role.SUPPORT_ENGINEER, Role.SALES, Role.ADMIN)
DECIDERS = (Role.SALES, Role.ADMIN)


class Body_(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PlanChangeIn(Body_):
    plan: str = Field(min_length=1, max_length=64, description="basic, developer, enterprise or premium")
    reason: str | None = Field(default=None, max_length=500)


class DeclineIn(Body_):
    reason: str = Field(min_length=1, max_length=500, description="shown to the customer")


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(value: str) -> str:
    if not EMAIL.fullmatch(value):
        raise ValueError("should be an email address such as tam@example.com")
    return value


class TamIn(Body_):
    name: str = Field(min_length=1, max_length=200)
    email: Annotated[str, AfterValidator(_email)] = Field(max_length=254, description="name@example.com")


class SettingsIn(Body_):
    timezone: str = Field(min_length=1, max_length=64, description="IANA name, e.g. Europe/Berlin")


class LegacyImportItem(Body_):
    org_id: str = Field(min_length=1, max_length=200)
    legacy_plan: PlanCode
    since: AwareDatetime | None = None


def pool(request: Request) -> asyncpg.Pool:
    runtime: Runtime = request.app.state.runtime
    return runtime.pool


def now(request: Request) -> datetime:
    clock: handlers.Clock = request.app.state.clock
    return clock()


class PageIn(BaseModel):
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


Pool = Annotated[asyncpg.Pool, Depends(pool)]
Page = Annotated[PageIn, Query()]
Now = Annotated[datetime, Depends(now)]


def actor(identity: Identity) -> Actor:
    return Actor(sub=identity.sub, role=identity.role.value)


def visible(identity: Identity, org: str) -> None:
    """Customers see only their own organisation (404 otherwise, never 403); staff see any."""
    if not identity.is_staff and identity.org != org:
        raise NotFound(f"organisation {org} not found")


def may_change(identity: Identity, org: str) -> None:
    visible(identity, org)
    require(identity, *CHANGERS)


@router.get("/plans")
async def list_plans(identity: CurrentIdentity) -> dict[str, Any]:
    """The catalogue: Connected Care and legacy plans with entitlements and response targets."""
    cat = catalogue()
    return {
        "connected_care": [p.model_dump(mode="json") for p in cat.connected_care()],
        "legacy": [p.model_dump(mode="json") for p in cat.legacy()],
        "retirement_target": cat.retirement_target.value,
        "retirement_warning_days": list(cat.retirement_warning_days),
        "legacy_not_purchasable_from": cat.legacy_not_purchasable_from.isoformat(),
    }


@router.get("/orgs/{org}/plan")
async def get_plan(org: str, identity: CurrentIdentity, db: Pool, at: Now) -> dict[str, Any]:
    visible(identity, org)
    return await handlers.plan_view(db, org, at)


@router.post("/orgs/{org}/plan/changes", response_model=None)
async def change_plan(
    org: str, body: PlanChangeIn, identity: CurrentIdentity, db: Pool, at: Now
) -> dict[str, Any] | JSONResponse:
    """Basic/Developer/Enterprise at once; Premium creates a sales request (202)."""
    may_change(identity, org)
    outcome, data = await handlers.change_plan(db, org, body.plan, actor(identity), body.reason, at)
    if outcome == "sales_request_created":
        return JSONResponse(
            {"status": outcome, "sales_request": data, "message": "sales will contact you and approve the change"},
            status_code=202,
        )
    return {"status": outcome, "plan": data}


@router.post("/orgs/{org}/trial")
async def start_trial(org: str, identity: CurrentIdentity, db: Pool, at: Now) -> dict[str, Any]:
    may_change(identity, org)
    return await handlers.start_trial(db, org, actor(identity), at)


@router.get("/orgs/{org}/support-page")
async def support_page(org: str, identity: CurrentIdentity, db: Pool, at: Now) -> dict[str, Any]:
    visible(identity, org)
    return await handlers.support_page_view(db, org, at)


@router.get("/orgs/{org}/sales-requests")
async def org_sales_requests(org: str, identity: CurrentIdentity, db: Pool, page: Page) -> dict[str, Any]:
    visible(identity, org)
    return await handlers.sales_requests(db, org_id=org, limit=page.limit, offset=page.offset)


@router.get("/sales-requests")
async def all_sales_requests(
    identity: CurrentIdentity,
    db: Pool,
    page: Page,
    status: Annotated[Literal["pending", "approved", "declined"] | None, Query()] = None,
) -> dict[str, Any]:
    require(identity, *DECIDERS)
    return await handlers.sales_requests(db, status=status, limit=page.limit, offset=page.offset)


@router.post("/sales-requests/{request_id}/approve")
async def approve(request_id: str, identity: CurrentIdentity, db: Pool, at: Now) -> dict[str, Any]:
    require(identity, *DECIDERS)
    decided = await handlers.approve(db, request_id, actor(identity), at)
    return {"sales_request": decided, "plan": await handlers.plan_view(db, decided["org_id"], at)}


@router.post("/sales-requests/{request_id}/decline")
async def decline(request_id: str, body: DeclineIn, identity: CurrentIdentity, db: Pool, at: Now) -> dict[str, Any]:
    require(identity, *DECIDERS)
    return {"sales_request": await handlers.decline(db, request_id, actor(identity), body.reason, at)}


@router.put("/orgs/{org}/tam")
async def assign_tam(org: str, body: TamIn, identity: CurrentIdentity, db: Pool, at: Now) -> dict[str, Any]:
    visible(identity, org)  # a customer asking about another organisation learns nothing: 404, as everywhere
    require(identity, *STAFF)
    return await handlers.assign_tam(db, org, Tam(name=body.name, email=body.email), actor(identity), at)


@router.put("/orgs/{org}/settings")
async def put_settings(org: str, body: SettingsIn, identity: CurrentIdentity, db: Pool, at: Now) -> dict[str, Any]:
    may_change(identity, org)
    return await handlers.set_timezone(db, org, body.timezone, actor(identity), at)


@router.post("/admin/legacy-import")
async def legacy_import(
    items: Annotated[list[LegacyImportItem], Body(min_length=1, max_length=10_000)],
    identity: CurrentIdentity,
    db: Pool,
    at: Now,
) -> dict[str, Any]:
    """Seed organisations on legacy plans (all or nothing)."""
    require(identity, Role.ADMIN)
    return await handlers.legacy_import(db, [(i.org_id, i.legacy_plan, i.since) for i in items], actor(identity), at)
