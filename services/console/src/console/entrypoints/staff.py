"""Staff pages by role: the ticket queue (engineers), sales requests (sales), dead letters (engineers), and an
organisation's page with its plan, TAM assignment, holidays and IM bindings (any staff)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from carekit.identity import Role
from console.adapters.api import ApiError, Apis, segment
from console.domain.countdown import local
from console.entrypoints.tickets import annotate
from console.entrypoints.web import Flash, Services, Viewer, csrf_protect, needs, redirect, render

router = APIRouter(prefix="/staff", dependencies=[Depends(csrf_protect)])
Engineer = Annotated[Viewer, Depends(needs(Role.SUPPORT_ENGINEER, Role.ADMIN))]
Decider = Annotated[Viewer, Depends(needs(Role.SALES, Role.ADMIN))]
Staff = Annotated[Viewer, Depends(needs(Role.SUPPORT_ENGINEER, Role.SALES, Role.ADMIN))]
ORG = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


@router.get("/tickets", response_class=HTMLResponse)
async def queue(request: Request, who: Engineer, api: Services) -> Response:
    """Open tickets of every organisation, the one due soonest first."""
    found = await api.ticket.get("/v1/queue", who.token, {"limit": 200})
    now = datetime.now(UTC)
    return render(request, "staff_tickets.html", {"tickets": [annotate(t, now) for t in found]}, who=who)


@router.get("/sales-requests", response_class=HTMLResponse)
async def sales_requests(request: Request, who: Decider, api: Services) -> Response:
    pending = await api.plan.get("/v1/sales-requests", who.token, {"status": "pending", "limit": 200})
    recent = await api.plan.get("/v1/sales-requests", who.token, {"limit": 30})
    decided = [r for r in recent["sales_requests"] if r["status"] != "pending"]
    context = {"pending": pending["sales_requests"], "decided": decided}
    return render(request, "staff_sales.html", context, who=who)


@router.post("/sales-requests/{request_id}/approve")
async def approve(request: Request, request_id: str, who: Decider, api: Services) -> Response:
    try:
        answer = await api.plan.post(f"/v1/sales-requests/{segment(request_id)}/approve", who.token)
    except ApiError as exc:
        return redirect(request, "/staff/sales-requests", Flash("error", exc.message))
    org = answer["sales_request"]["org_id"]
    return redirect(request, "/staff/sales-requests", Flash("ok", f"Approved: {org} is now on Premium."))


@router.post("/sales-requests/{request_id}/decline")
async def decline(
    request: Request, request_id: str, who: Decider, api: Services, reason: Annotated[str, Form(max_length=500)] = ""
) -> Response:
    if not reason.strip():
        return redirect(
            request, "/staff/sales-requests", Flash("error", "Give the reason for declining: the customer reads it.")
        )
    try:
        answer = await api.plan.post(f"/v1/sales-requests/{segment(request_id)}/decline", who.token, {"reason": reason})
    except ApiError as exc:
        return redirect(request, "/staff/sales-requests", Flash("error", exc.message))
    org = answer["sales_request"]["org_id"]
    return redirect(request, "/staff/sales-requests", Flash("ok", f"Declined the request of {org}."))


@router.get("/dead-letters", response_class=HTMLResponse)
async def dead_letters(
    request: Request,
    who: Engineer,
    api: Services,
    org_id: Annotated[str, Query(max_length=128)] = "",
    all: bool = False,
) -> Response:
    params: dict[str, str | int] = {"limit": 200, "include_redriven": "true" if all else "false"}
    if org_id.strip():
        params["org_id"] = org_id.strip()
    found = await api.notify.get("/v1/dead-letters", who.token, params)
    rows = [{**d, "at_local": local(datetime.fromisoformat(d["created_at"]), "UTC")} for d in found["dead_letters"]]
    failed_params = {k: v for k, v in params.items() if k in ("org_id", "limit")}
    messages = await api.notify.get("/v1/failed-messages", who.token, failed_params)
    failed = [
        {**m, "at_local": local(datetime.fromisoformat(m["created_at"]), "UTC")} for m in messages["failed_messages"]
    ]
    context = {"dead": rows, "failed": failed, "org_id": org_id, "all": all}
    return render(request, "staff_dead_letters.html", context, who=who)


async def _redrive(request: Request, who: Viewer, api: Apis, path: str, done: str) -> Response:
    """Ask notify-service to re-drive a record; back to the dead-letters page saying what happened."""
    try:
        await api.notify.post(path, who.token)
    except ApiError as exc:
        return redirect(request, "/staff/dead-letters", Flash("error", exc.message))
    return redirect(request, "/staff/dead-letters", Flash("ok", done))


@router.post("/dead-letters/{dead_letter_id}/redrive")
async def redrive(request: Request, dead_letter_id: int, who: Engineer, api: Services) -> Response:
    """Send a dead-lettered alert notification again, with a fresh retry window."""
    done = f"Dead letter {dead_letter_id} queued again with a fresh retry window."
    return await _redrive(request, who, api, f"/v1/dead-letters/{dead_letter_id}/redrive", done)


@router.post("/failed-messages/{message_id}/redrive")
async def redrive_message(request: Request, message_id: int, who: Engineer, api: Services) -> Response:
    """Send a failed ticket update, TAM e-mail or notice again now, with a fresh retry window."""
    done = f"Message {message_id} is being sent again with a fresh retry window."
    return await _redrive(request, who, api, f"/v1/failed-messages/{message_id}/redrive", done)


@router.get("/orgs", response_class=HTMLResponse)
async def find_org(request: Request, who: Staff, org: Annotated[str, Query(max_length=128)] = "") -> Response:
    if org.strip():
        return redirect(request, f"/staff/orgs/{segment(org.strip())}")
    return render(request, "staff_org_find.html", {}, who=who)


@router.get("/orgs/{org}", response_class=HTMLResponse)
async def org_page(request: Request, org: str, who: Staff, api: Services) -> Response:
    plan = await api.plan.get(f"/v1/orgs/{segment(org)}/plan", who.token)
    holidays = await api.ticket.get(f"/v1/orgs/{segment(org)}/holidays", who.token)
    bindings = await api.ticket.get(f"/v1/orgs/{segment(org)}/im-bindings", who.token) if who.is_engineer else None
    history = [
        {**h, "at_local": local(datetime.fromisoformat(h["effective_at"]), plan["timezone"])} for h in plan["history"]
    ]
    context = {"org": org, "plan": plan, "holidays": holidays["holidays"], "bindings": bindings, "history": history}
    return render(request, "staff_org.html", context, who=who)


@router.post("/orgs/{org}/tam")
async def assign_tam(
    request: Request,
    org: str,
    who: Staff,
    api: Services,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    url = f"/staff/orgs/{segment(org)}"
    try:
        await api.plan.call("PUT", f"/v1/orgs/{segment(org)}/tam", who.token, body={"name": name, "email": email})
    except ApiError as exc:
        return redirect(request, url, Flash("error", exc.message))
    return redirect(request, url, Flash("ok", f"{name} is now the named TAM of {org}."))


@router.post("/orgs/{org}/holidays")
async def set_holidays(
    request: Request, org: str, who: Engineer, api: Services, holidays: Annotated[str, Form(max_length=8000)] = ""
) -> Response:
    url = f"/staff/orgs/{segment(org)}"
    days: list[str] = []
    for item in holidays.replace(",", "\n").splitlines():
        if item.strip():
            try:
                days.append(date.fromisoformat(item.strip()).isoformat())
            except ValueError:
                return redirect(request, url, Flash("error", f"{item.strip()!r} is not a date like 2026-12-25."))
    try:
        await api.ticket.call("PUT", f"/v1/orgs/{segment(org)}/holidays", who.token, body={"holidays": days})
    except ApiError as exc:
        return redirect(request, url, Flash("error", exc.message))
    return redirect(request, url, Flash("ok", f"{len(days)} holidays saved for {org}."))
