"""HTTP routes for notification contacts and withdrawing a Premium request (issue 13)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Path, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from care_schemas.bounded import Id, bounded
from care_schemas.events.plan import MANDATORY_NOTICES, Actor, ContactChat, NoticeKind
from carekit.identity import CurrentIdentity, Identity, Role, require
from carekit.problems import responses
from carekit.refusals import NotFound
from carekit.runtime import Runtime
from plan_service.entrypoints import views
from plan_service.handlers import notices

router = APIRouter(prefix="/v1", tags=["contacts"])
OWNERS = (Role.ORG_OWNER, Role.BILLING_MANAGER, Role.ADMIN)
OrgId = Annotated[Id, Path(description="organisation id")]
RequestId = Annotated[Id, Path(description="sales request id")]
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(value: str) -> str:
    if not EMAIL.fullmatch(value):
        raise ValueError("should be an email address such as ops@example.com")
    return value


Email = Annotated[str, bounded(254, min_length=3), AfterValidator(_email)]
UNSUBSCRIBABLE = ", ".join(k.value for k in NoticeKind if k not in MANDATORY_NOTICES)


class ContactsIn(BaseModel):
    """The whole set of contacts (PUT replaces it): a field left out is unset and falls back to the default."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    owner_email: Email | None = Field(default=None, description="plan, trial, sales and retirement notices")
    technical_email: Email | None = Field(default=None, description="ticket notices when a ticket names no reporter")
    chat: ContactChat | None = Field(default=None, description="one of the organisation's bound chat places")
    unsubscribed: list[NoticeKind] = Field(
        default_factory=list, max_length=16, description=f"notice kinds not wanted: {UNSUBSCRIBABLE}"
    )


async def _pool(request: Request) -> asyncpg.Pool:
    runtime: Runtime = request.app.state.runtime
    return runtime.pool


async def _now(request: Request) -> datetime:
    clock = request.app.state.clock
    now: datetime = clock()
    return now


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
Now = Annotated[datetime, Depends(_now)]


def _visible(identity: Identity, org: str) -> None:
    if not identity.is_staff and identity.org != org:
        raise NotFound(f"organisation {org} not found")


def _actor(identity: Identity) -> Actor:
    return Actor(sub=identity.sub, role=identity.role.value)


@router.get("/orgs/{org}/contacts", responses=responses(404))
async def get_contacts(org: OrgId, identity: CurrentIdentity, db: Pool) -> views.Contacts:
    """Who is told of plan, trial, sales, retirement and ticket notices, and which kinds are unsubscribed."""
    _visible(identity, org)
    return views.Contacts.model_validate(await notices.contacts_view(db, org))


@router.put("/orgs/{org}/contacts", responses=responses(404))
async def put_contacts(org: OrgId, body: ContactsIn, identity: CurrentIdentity, db: Pool, at: Now) -> views.Contacts:
    """Set the contacts (owners and billing managers); retirement notices cannot be unsubscribed (422)."""
    _visible(identity, org)
    require(identity, *OWNERS)
    saved = await notices.set_contacts(
        db,
        org,
        owner_email=body.owner_email,
        technical_email=body.technical_email,
        chat=body.chat,
        unsubscribed=body.unsubscribed,
        actor=_actor(identity),
        email=identity.email,
        now=at,
    )
    return views.Contacts.model_validate(saved)


@router.post("/orgs/{org}/sales-requests/{request_id}/withdraw", responses=responses(404, 409))
async def withdraw(
    org: OrgId, request_id: RequestId, identity: CurrentIdentity, db: Pool, at: Now
) -> views.SalesDecision:
    """Withdraw a pending Premium request: it leaves sales' pending list and can no longer be approved."""
    _visible(identity, org)
    require(identity, *OWNERS)
    withdrawn = await notices.withdraw(db, org, request_id, _actor(identity), at)
    return views.SalesDecision.model_validate({"sales_request": withdrawn})
