"""HTTP alert intake: native alert JSON (one or a list) and Alertmanager webhook v4; both publish to
alert.events.v1 (acks=all) and answer 202. Callers: a bearer token of the organisation (any role) or staff."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import TypeAdapter, ValidationError

from care_schemas.bounded import message
from care_schemas.events.alert import Alert, alert_event
from care_schemas.topics import ALERT_EVENTS
from carekit.faults import TooLarge
from carekit.identity import CurrentIdentity, Identity
from carekit.kafka import encode, publish
from notify_service import metrics
from notify_service.domain.alertmanager_in import FieldError, parse_alertmanager
from notify_service.entrypoints.deps import Deps, deps

router = APIRouter(prefix="/v1/alerts", tags=["alert intake"])
Injected = Annotated[Deps, Depends(deps)]
ALERTS = TypeAdapter(Alert | list[Alert])
MAX_ALERTS = 1000


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part in ("Alert", "list[Alert]"):
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _own(identity: Identity, alerts: list[Alert]) -> None:
    if identity.is_staff:
        return
    for i, alert in enumerate(alerts):
        if alert.org_id != identity.org:
            raise HTTPException(403, f"alerts[{i}].org_id: {alert.org_id!r} is not your organisation")


async def _publish(d: Deps, alerts: list[Alert], source: str) -> dict[str, Any]:
    if len(alerts) > MAX_ALERTS:
        raise HTTPException(413, f"at most {MAX_ALERTS} alerts per request")
    events = [alert_event(a, source="/notify-service/http") for a in alerts]
    for i, event in enumerate(events):
        try:
            encode(event, ALERT_EVENTS)
        except TooLarge as exc:
            raise HTTPException(413, f"alerts[{i}]: {exc.reason}; shorten its labels, annotations or texts") from None
    sends = [await publish(d.runtime.producer, ALERT_EVENTS, e.data.org_id, e) for e in events]
    await asyncio.gather(*sends)
    metrics.RECEIVED.labels(source).inc(len(alerts))
    return {"accepted": len(events), "event_ids": [e.id for e in events]}


@router.post("", status_code=202)
async def native(identity: CurrentIdentity, d: Injected, body: Annotated[Any, Body()]) -> dict[str, Any]:
    """One native alert or a list of them."""
    try:
        parsed = ALERTS.validate_python(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise HTTPException(422, f"{_where(tuple(err['loc']))}: {message(err)}") from None
    alerts = parsed if isinstance(parsed, list) else [parsed]
    if not alerts:
        raise HTTPException(422, "(body): no alerts")
    _own(identity, alerts)
    return await _publish(d, alerts, "http")


@router.post("/alertmanager", status_code=202)
async def alertmanager(identity: CurrentIdentity, d: Injected, body: Annotated[Any, Body()]) -> dict[str, Any]:
    """The Prometheus Alertmanager webhook payload (version 4); labels org_id (default: the caller's
    organisation), project_id and alertname are required, severity defaults to warning."""
    try:
        alerts = parse_alertmanager(body, default_org=None if identity.is_staff else identity.org)
    except FieldError as exc:
        raise HTTPException(422, str(exc)) from None
    _own(identity, alerts)
    return await _publish(d, alerts, "alertmanager")
