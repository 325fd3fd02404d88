"""/settings: the organisation's time zone and notification contacts (owners and billing managers change them),
holidays and IM bindings."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.adapters.api import ApiError, Json, segment
from console.domain.contacts import NOTICE_KINDS, chat_places, contacts_body, place_value
from console.domain.forms import field_errors
from console.entrypoints.web import CurrentViewer, Flash, Services, csrf_protect, redirect, render

router = APIRouter(dependencies=[Depends(csrf_protect)])
ZONES = [*sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))), "UTC"]


@router.get("/settings", response_class=HTMLResponse)
async def settings(request: Request, who: CurrentViewer, api: Services) -> Response:
    org = segment(who.org)
    plan = await api.plan.get(f"/v1/orgs/{org}/plan", who.token)
    holidays = await api.ticket.get(f"/v1/orgs/{org}/holidays", who.token)
    bindings = await api.ticket.get(f"/v1/orgs/{org}/im-bindings", who.token)
    contacts = await api.plan.get(f"/v1/orgs/{org}/contacts", who.token)
    return render(request, "settings.html", _context(plan, holidays, bindings, contacts), who=who)


def _context(plan: Json, holidays: Json, bindings: list[Json], contacts: Json, error: ApiError | None = None) -> Json:
    chat = contacts.get("chat")
    return {
        "plan": plan,
        "holidays": holidays["holidays"],
        "bindings": bindings,
        "zones": ZONES,
        "contacts": contacts,
        "chat_places": chat_places(bindings),
        "chat_value": place_value(chat["platform"], chat["workspace"], chat["channel"]) if chat else "",
        "notice_kinds": NOTICE_KINDS,
        "error": error,
        "errors": field_errors(error),
    }


@router.post("/settings/contacts")
async def set_contacts(
    request: Request,
    who: CurrentViewer,
    api: Services,
    owner_email: Annotated[str, Form(max_length=254)] = "",
    technical_email: Annotated[str, Form(max_length=254)] = "",
    chat: Annotated[str, Form(max_length=600)] = "",
    subscribed: Annotated[list[str] | None, Form(max_length=16)] = None,
) -> Response:
    """Replace the contacts: an address left empty falls back to the default; unticked kinds are unsubscribed."""
    org = segment(who.org)
    body = contacts_body(owner_email, technical_email, chat, subscribed or [])
    try:
        await api.plan.call("PUT", f"/v1/orgs/{org}/contacts", who.token, body=body)
    except ApiError as exc:
        plan = await api.plan.get(f"/v1/orgs/{org}/plan", who.token)
        holidays = await api.ticket.get(f"/v1/orgs/{org}/holidays", who.token)
        bindings = await api.ticket.get(f"/v1/orgs/{org}/im-bindings", who.token)
        typed = {**body, "effective": {}}
        context = _context(plan, holidays, bindings, typed, exc)
        context["chat_value"] = chat
        return render(request, "settings.html", context, who=who, status=exc.status if exc.status < 500 else 200)
    return redirect(request, "/settings", Flash("ok", "Notification contacts saved."))


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
