"""Routes operators and the command line use beside the core API: the organisation's active alerts, and a test
message to a saved subscriber (issue 13, `carectl alerts list|resolve`, `carectl subscribers test`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from care_schemas.bounded import Id, bounded
from carekit.identity import CurrentIdentity, Identity, Role, require
from carekit.problems import responses
from carekit.refusals import Invalid, NotFound
from notify_service.adapters import alerts, subscribers
from notify_service.adapters.channels.base import Target
from notify_service.entrypoints.deps import Deps, deps
from notify_service.handlers import send_test

router = APIRouter(prefix="/v1", tags=["operations"])
Injected = Annotated[Deps, Depends(deps)]
OPERATORS = (Role.ADMIN, Role.SUPPORT_ENGINEER)
OWNERS = (Role.ORG_OWNER, Role.PROJECT_OWNER)


class ActiveAlert(BaseModel):
    """The latest notify-service knows of one alert (as last sent to it)."""

    fingerprint: str
    org_id: str
    status: Literal["firing", "resolved"]
    starts_at: datetime
    updated_at: datetime
    alert: dict[str, Any]


class ActiveAlerts(BaseModel):
    alerts: list[ActiveAlert]


class TestResult(BaseModel):
    ok: bool
    endpoint_status: int | None
    endpoint_answer: str


def _org(identity: Identity, org_id: str | None) -> str:
    if identity.is_staff:
        require(identity, *OPERATORS)
        if org_id is None:
            raise Invalid("org_id is required for staff: name the organisation", field="query.org_id")
        return org_id
    return identity.org  # a customer sees their own organisation, whatever org_id says


@router.get("/alerts")
async def list_alerts(
    identity: CurrentIdentity,
    d: Injected,
    org_id: Annotated[Id | None, Query()] = None,
    status: Annotated[Literal["firing", "resolved"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ActiveAlerts:
    """The organisation's alerts, most recently changed first (staff name `org_id`)."""
    org = _org(identity, org_id)
    rows = await alerts.latest(d.runtime.pool, org, status, limit)
    return ActiveAlerts(alerts=[ActiveAlert.model_validate(dict(r)) for r in rows])


@router.get("/alerts/{fingerprint}", responses=responses(404))
async def get_alert(
    fingerprint: Annotated[str, bounded(128, min_length=1), Path()],
    identity: CurrentIdentity,
    d: Injected,
    org_id: Annotated[Id | None, Query()] = None,
) -> ActiveAlert:
    org = _org(identity, org_id)
    row = await alerts.one(d.runtime.pool, org, fingerprint)
    if row is None:
        raise NotFound(f"no alert {fingerprint} for organisation {org}")
    return ActiveAlert.model_validate(dict(row))


@router.post("/subscribers/{subscriber_id}/test", responses=responses(404))
async def test_subscriber(subscriber_id: Annotated[Id, Path()], identity: CurrentIdentity, d: Injected) -> TestResult:
    """Owners: send the channel's test message to a saved subscriber now and say what the endpoint answered."""
    require(identity, *OWNERS)
    found = await subscribers.get(d.runtime.pool, d.box, identity.org, subscriber_id)
    if found is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    target = Target(found.id, found.org_id, found.name, found.type, found.config, found.secrets)
    outcome = await send_test(d.ctx, target)
    return TestResult(ok=outcome.ok, endpoint_status=outcome.status, endpoint_answer=outcome.reason)
