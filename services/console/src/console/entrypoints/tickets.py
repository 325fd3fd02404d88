"""/tickets, /tickets/new, /tickets/{id}: the organisation's tickets (engineers: any organisation's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from console.adapters.api import ApiError, segment
from console.domain.countdown import due_status, local
from console.domain.forms import field_errors
from console.entrypoints.web import CurrentViewer, Flash, Services, csrf_protect, redirect, render

router = APIRouter(dependencies=[Depends(csrf_protect)])
STATUSES = ("open", "in_progress", "waiting_on_customer", "resolved", "closed")
SEVERITIES = ("S1", "S2", "S3", "S4")
KINDS = ("technical", "billing")
COMPONENTS = ("TiDB", "TiKV", "PD", "TiFlash", "TiCDC", "TiProxy", "Backup & Restore", "DM")
Filter = Annotated[str, Query(max_length=64)]
Field = Annotated[str, Form(max_length=20_000)]


def annotate(ticket: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The ticket with its first-response clock, as the pages show it."""

    def at(name: str) -> datetime | None:
        value = ticket.get(name)
        return datetime.fromisoformat(value) if value else None

    zone = ticket.get("timezone")
    due = due_status(at("response_due_at"), at("first_response_at"), bool(ticket.get("breached")), zone, now)
    opened = at("opened_at")
    return {**ticket, "due": due, "opened_local": local(opened, zone) if opened else ""}


@router.get("/tickets", response_class=HTMLResponse)
async def tickets(
    request: Request,
    who: CurrentViewer,
    api: Services,
    status: Filter = "",
    severity: Filter = "",
    kind: Filter = "",
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    filters = {
        "status": status if status in STATUSES else "",
        "severity": severity if severity in SEVERITIES else "",
        "kind": kind if kind in KINDS else "",
        "q": q.strip(),
    }
    found = await api.ticket.get("/v1/tickets", who.token, {**filters, "limit": 100})
    now = datetime.now(UTC)
    context = {
        "tickets": [annotate(t, now) for t in found],
        "filters": filters,
        "statuses": STATUSES,
        "severities": SEVERITIES,
        "kinds": KINDS,
    }
    return render(request, "tickets.html", context, who=who)


def _new_form(request: Request, who: Any, values: dict[str, Any], error: ApiError | None = None) -> Response:
    context = {
        "values": values,
        "severities": SEVERITIES,
        "kinds": KINDS,
        "components": COMPONENTS,
        "error": error,
        "errors": field_errors(error),
    }
    return render(request, "ticket_new.html", context, who=who, status=error.status if error else 200)


@router.get("/tickets/new", response_class=HTMLResponse)
async def new_ticket_form(request: Request, who: CurrentViewer) -> Response:
    return _new_form(request, who, {"severity": "S3", "kind": "technical", "components": []})


@router.post("/tickets/new", response_class=HTMLResponse)
async def open_ticket(
    request: Request,
    who: CurrentViewer,
    api: Services,
    summary: Field = "",
    description: Field = "",
    severity: Field = "",
    kind: Field = "",
    cluster_id: Field = "",
    environment: Field = "",
    affected_version: Field = "",
    reporter_email: Field = "",
    components: Annotated[list[str] | None, Form(max_length=20)] = None,
) -> Response:
    values: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "severity": severity,
        "kind": kind,
        "cluster_id": cluster_id,
        "environment": environment,
        "affected_version": affected_version,
        "reporter_email": reporter_email,
        "components": components or [],
    }
    body = {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()}
    body = {k: v for k, v in body.items() if v not in ("", [])} | {"channel": "console"}
    try:
        ticket = await api.ticket.post("/v1/tickets", who.token, body)
    except ApiError as exc:
        return _new_form(request, who, values, exc)
    return redirect(request, f"/tickets/{segment(ticket['id'])}", Flash("ok", f"Ticket {ticket['id']} opened."))


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def ticket_page(request: Request, ticket_id: str, who: CurrentViewer, api: Services) -> Response:
    ticket = await api.ticket.get(f"/v1/tickets/{segment(ticket_id)}", who.token)
    context = {
        "t": annotate(ticket, datetime.now(UTC)),
        "comments": [
            {**c, "at_local": local(datetime.fromisoformat(c["created_at"]), ticket.get("timezone"))}
            for c in ticket.get("comments") or []
        ],
        "statuses": STATUSES,
        "severities": SEVERITIES,
    }
    return render(request, "ticket.html", context, who=who)


async def _act(
    request: Request, who: Any, api: Services, ticket_id: str, path: str, body: dict[str, str], done: str
) -> Response:
    url = f"/tickets/{segment(ticket_id)}"
    try:
        await api.ticket.post(f"/v1/tickets/{segment(ticket_id)}/{path}", who.token, body)
    except ApiError as exc:
        return redirect(request, url, Flash("error", exc.message))
    return redirect(request, url, Flash("ok", done))


@router.post("/tickets/{ticket_id}/comments")
async def comment(
    request: Request,
    ticket_id: str,
    who: CurrentViewer,
    api: Services,
    body: Annotated[str, Form(max_length=20_000)] = "",
    visibility: Annotated[str, Form(pattern="^(public|internal)$")] = "public",
) -> Response:
    if not body.strip():
        return redirect(request, f"/tickets/{segment(ticket_id)}", Flash("error", "Write a reply before sending it."))
    done = "Internal note added." if visibility == "internal" else "Reply sent."
    return await _act(request, who, api, ticket_id, "comments", {"body": body, "visibility": visibility}, done)


@router.post("/tickets/{ticket_id}/status")
async def change_status(
    request: Request, ticket_id: str, who: CurrentViewer, api: Services, status: Annotated[str, Form(max_length=32)]
) -> Response:
    label = status.replace("_", " ")
    return await _act(request, who, api, ticket_id, "status", {"status": status}, f"Status changed to {label}.")


@router.post("/tickets/{ticket_id}/severity")
async def change_severity(
    request: Request, ticket_id: str, who: CurrentViewer, api: Services, severity: Annotated[str, Form(max_length=8)]
) -> Response:
    done = f"Severity changed to {severity}; the due time is recomputed from the creation time."
    return await _act(request, who, api, ticket_id, "severity", {"severity": severity}, done)
