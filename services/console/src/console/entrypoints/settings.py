"""/settings: the organisation's time zone (owners and billing managers change it), holidays and IM bindings."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.adapters.api import ApiError, segment
from console.entrypoints.web import CurrentViewer, Flash, Services, csrf_protect, redirect, render

router = APIRouter(dependencies=[Depends(csrf_protect)])
ZONES = [*sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))), "UTC"]


@router.get("/settings", response_class=HTMLResponse)
async def settings(request: Request, who: CurrentViewer, api: Services) -> Response:
    org = segment(who.org)
    plan = await api.plan.get(f"/v1/orgs/{org}/plan", who.token)
    holidays = await api.ticket.get(f"/v1/orgs/{org}/holidays", who.token)
    bindings = await api.ticket.get(f"/v1/orgs/{org}/im-bindings", who.token)
    context = {"plan": plan, "holidays": holidays["holidays"], "bindings": bindings, "zones": ZONES}
    return render(request, "settings.html", context, who=who)


@router.post("/settings/timezone")
async def set_timezone(
    request: Request, who: CurrentViewer, api: Services, timezone: Annotated[str, Form(max_length=64)]
) -> Response:
    try:
        await api.plan.call("PUT", f"/v1/orgs/{segment(who.org)}/settings", who.token, body={"timezone": timezone})
    except ApiError as exc:
        return redirect(request, "/settings", Flash("error", exc.message))
    text = f"Time zone set to {timezone}: business hours of tickets opened from now on count in it."
    return redirect(request, "/settings", Flash("ok", text))
