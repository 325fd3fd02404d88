"""HTTP alert intake: native alert JSON (one or a list) and Alertmanager webhook v4; both store the alerts (or, when
Postgres cannot take them, publish them to alert.events.v1 with acks=all) and answer 202. Callers: a bearer token of
the organisation (any role) or staff."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from care_schemas.bounded import Id, message
from care_schemas.events.alert import Alert
from carekit.identity import CurrentIdentity
from carekit.problems import documented_body, responses
from carekit.refusals import Invalid
from notify_service import handlers
from notify_service.adapters import rejections
from notify_service.domain.alertmanager_in import AmPayload, FieldError, parse_alertmanager
from notify_service.entrypoints.deps import Deps, deps

router = APIRouter(prefix="/v1/alerts", tags=["alert intake"])
Injected = Annotated[Deps, Depends(deps)]
Batch = Annotated[list[Alert], Field(max_length=1000)]
ALERTS = TypeAdapter(Alert | list[Alert])


class Rejection(BaseModel):
    """One alert of an Alertmanager group that was not taken, and why."""

    index: int
    fingerprint: str | None
    alertname: str | None
    reason: str


class Accepted(BaseModel):
    """The alerts are stored and their notifications queued (or, when Postgres could not take them at once, published
    to alert.events.v1, acknowledged by every in-sync replica, for the Kafka intake to store)."""

    accepted: int
    event_ids: list[str]
    rejected: list[Rejection] = Field(default_factory=list, description="Alertmanager: the group's refused alerts")


class StoredRejection(Rejection):
    id: int
    source: str
    received_at: str


class Rejections(BaseModel):
    rejections: list[StoredRejection]


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part in ("Alert", "list[Alert]"):
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


@router.post("", status_code=202, response_model=Accepted, openapi_extra=documented_body(Alert | Batch))
async def native(identity: CurrentIdentity, d: Injected, body: Annotated[Any, Body()]) -> Accepted:
    """One native alert or a list of them (at most 1000)."""
    try:
        parsed = ALERTS.validate_python(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise Invalid(f"{_where(tuple(err['loc']))}: {message(err)}") from None
    alerts = parsed if isinstance(parsed, list) else [parsed]
    ids = await handlers.accept_alerts(d.intake, identity, alerts, "http")
    return Accepted(accepted=len(ids), event_ids=ids)


@router.post("/alertmanager", status_code=202, response_model=Accepted, openapi_extra=documented_body(AmPayload))
async def alertmanager(identity: CurrentIdentity, d: Injected, body: Annotated[Any, Body()]) -> Accepted:
    """The Prometheus Alertmanager webhook payload (version 4), alert by alert: labels org_id (default: the caller's
    organisation), project_id and alertname are required; severity spellings (page, error, high, warn, low...) map
    to critical, warning or info with the sender's label kept; every annotation is kept. Refused alerts are listed
    in the answer (`rejected`) and in GET /v1/intake-rejections; 422 only when none of the group was taken."""
    try:
        intake = parse_alertmanager(body, default_org=None if identity.is_staff else identity.org)
    except FieldError as exc:
        raise Invalid(str(exc)) from None
    ids, refused = await handlers.accept_alertmanager(d.intake, identity, intake)
    rejected = [Rejection.model_validate(r.view()) for r in refused]
    return Accepted(accepted=len(ids), event_ids=ids, rejected=rejected)


rejections_router = APIRouter(tags=["alert intake"])


@rejections_router.get("/v1/intake-rejections")
async def intake_rejections(
    identity: CurrentIdentity,
    d: Injected,
    org_id: Annotated[Id | None, Query(description="staff: whose rejections")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Rejections:
    """Alerts the intake refused one by one, newest first, with the reason: any member of the organisation."""
    org = org_id if identity.is_staff and org_id else identity.org
    return Rejections.model_validate({"rejections": await rejections.recent(d.runtime.pool, org, limit)})


router.responses.update(responses(403, 413))
