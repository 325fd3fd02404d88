"""HTTP routes under /v1: parse, check who may act, call a handler, map refusals to 4xx."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from care_schemas.bounded import Id, Timestamp, TimeZoneName, bounded
from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.events.plan import Actor, Tam
from carekit.identity import CurrentIdentity, Identity, Role, require
from carekit.problems import responses
from carekit.refusals import NotFound
from carekit.runtime import Runtime
from plan_service import handlers
from plan_service.entrypoints import views

router = APIRouter(prefix="/v1", tags=["plans"])
CHANGERS = (Role.ORG_OWNER, Role.BILLING_MANAGER, Role.ADMIN)
STAFF = (Role.SUPPORT_ENGINEER, Role.SALES, Role.ADMIN)
DECIDERS = (Role.SALES, Role.ADMIN)
OrgId = Annotated[Id, Path(description="organisation id")]
RequestId = Annotated[Id, Path(description="sales request id")]


class Body_(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PlanChangeIn(Body_):
    plan: Annotated[str, bounded(64, min_length=1)] = Field(description="basic, developer, enterprise or premium")
    reason: Annotated[str, bounded(500)] | None = None


class DeclineIn(Body_):
    reason: Annotated[str, bounded(500, min_length=1)] = Field(description="shown to the customer")


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(value: str) -> str:
    if not EMAIL.fullmatch(value):
        raise ValueError("should be an email address such as tam@example.com")
    return value


class TamIn(Body_):
    name: Annotated[str, bounded(200, min_length=1)]
    email: Annotated[str, bounded(254), AfterValidator(_email)] = Field(description="name@example.com")


class SettingsIn(Body_):
    timezone: TimeZoneName = Field(description="IANA name, e.g. Europe/Berlin")


class LegacyImportItem(Body_):
    org_id: Annotated[str, bounded(200, min_length=1)]
    legacy_plan: PlanCode
    since: Timestamp | None = None


async def pool(request: Request) -> asyncpg.Pool:
    runtime: Runtime = request.app.state.runtime
    return runtime.pool


async def now(request: Request) -> datetime:
    clock: handlers.Clock = request.app.state.clock
    return clock()


class PageIn(BaseModel):
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


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
async def list_plans(identity: CurrentIdentity) -> views.Catalogue:
    """The catalogue: Connected Care and legacy plans with entitlements and response targets."""
    cat = catalogue()
    return views.Catalogue(
        connected_care=list(cat.connected_care()),
        legacy=list(cat.legacy()),
        retirement_target=cat.retirement_target.value,
        retirement_warning_days=list(cat.retirement_warning_days),
        legacy_not_purchasable_from=cat.legacy_not_purchasable_from.isoformat(),
    )


@router.get("/orgs/{org}/plan", responses=responses(404))
async def get_plan(org: OrgId, identity: CurrentIdentity, db: Pool, at: Now) -> views.PlanView:
    visible(identity, org)
    return views.PlanView.model_validate(await handlers.plan_view(db, org, at))


@router.post(
    "/orgs/{org}/plan/changes",
    response_model=views.PlanChange,
    responses={**responses(404, 409), 202: {"model": views.PlanChange, "description": "Premium: a sales request"}},
)
async def change_plan(
    org: OrgId, body: PlanChangeIn, identity: CurrentIdentity, db: Pool, at: Now, response: Response
) -> views.PlanChange:
    """Basic/Developer/Enterprise at once; Premium creates a sales request (202)."""
    may_change(identity, org)
    outcome, data = await handlers.change_plan(db, org, body.plan, actor(identity), body.reason, at, identity.email)
    if outcome == "sales_request_created":
        response.status_code = 202
        return views.PlanChange(
            status="sales_request_created",
            sales_request=views.SalesRequest.model_validate(data),
            message="sales will contact you and approve the change",
        )
    return views.PlanChange(status="changed", plan=views.PlanView.model_validate(data))


@router.post("/orgs/{org}/trial", responses=responses(404, 409))
async def start_trial(org: OrgId, identity: CurrentIdentity, db: Pool, at: Now) -> views.PlanChange:
    """Start the one Developer trial (30 days); answered like a plan change."""
    may_change(identity, org)
    view = await handlers.start_trial(db, org, actor(identity), at, identity.email)
    return views.PlanChange(status="changed", plan=views.PlanView.model_validate(view))


@router.get("/orgs/{org}/support-page", responses=responses(404))
async def support_page(org: OrgId, identity: CurrentIdentity, db: Pool, at: Now) -> views.SupportPage:
    visible(identity, org)
    return views.SupportPage.model_validate(await handlers.support_page_view(db, org, at))


@router.get("/orgs/{org}/sales-requests", responses=responses(404))
async def org_sales_requests(org: OrgId, identity: CurrentIdentity, db: Pool, page: Page) -> views.SalesRequests:
    visible(identity, org)
    found = await handlers.sales_requests(db, org_id=org, limit=page.limit, offset=page.offset)
    return views.SalesRequests.model_validate(found)


@router.get("/sales-requests")
async def all_sales_requests(
    identity: CurrentIdentity,
    db: Pool,
    page: Page,
    status: Annotated[Literal["pending", "approved", "declined", "withdrawn"] | None, Query()] = None,
) -> views.SalesRequests:
    require(identity, *DECIDERS)
    found = await handlers.sales_requests(db, status=status, limit=page.limit, offset=page.offset)
    return views.SalesRequests.model_validate(found)


@router.post("/sales-requests/{request_id}/approve", responses=responses(404, 409))
async def approve(request_id: RequestId, identity: CurrentIdentity, db: Pool, at: Now) -> views.SalesDecision:
    require(identity, *DECIDERS)
    decided = await handlers.approve(db, request_id, actor(identity), at)
    plan = await handlers.plan_view(db, decided["org_id"], at)
    return views.SalesDecision.model_validate({"sales_request": decided, "plan": plan})


@router.post("/sales-requests/{request_id}/decline", responses=responses(404, 409))
async def decline(
    request_id: RequestId, body: DeclineIn, identity: CurrentIdentity, db: Pool, at: Now
) -> views.SalesDecision:
    require(identity, *DECIDERS)
    decided = await handlers.decline(db, request_id, actor(identity), body.reason, at)
    return views.SalesDecision.model_validate({"sales_request": decided})


@router.put("/orgs/{org}/tam", responses=responses(404, 409))
async def assign_tam(org: OrgId, body: TamIn, identity: CurrentIdentity, db: Pool, at: Now) -> views.PlanView:
    visible(identity, org)  # a customer asking about another organisation learns nothing: 404, as everywhere
    require(identity, *STAFF)
    view = await handlers.assign_tam(db, org, Tam(name=body.name, email=body.email), actor(identity), at)
    return views.PlanView.model_validate(view)


@router.put("/orgs/{org}/settings", responses=responses(404))
async def put_settings(org: OrgId, body: SettingsIn, identity: CurrentIdentity, db: Pool, at: Now) -> views.PlanView:
    may_change(identity, org)
    changed = await handlers.set_timezone(db, org, body.timezone, actor(identity), at, identity.email)
    return views.PlanView.model_validate(changed)


@router.post("/admin/legacy-import", responses=responses(409))
async def legacy_import(
    items: Annotated[list[LegacyImportItem], Body(min_length=1, max_length=10_000)],
    identity: CurrentIdentity,
    db: Pool,
    at: Now,
) -> views.Imported:
    """Seed organisations on legacy plans (all or nothing)."""
    require(identity, Role.ADMIN)
    items_ = [(i.org_id, i.legacy_plan, i.since) for i in items]
    return views.Imported.model_validate(await handlers.legacy_import(db, items_, actor(identity), at))
