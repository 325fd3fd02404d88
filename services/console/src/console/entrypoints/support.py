"""/support: every plan side by side, CURRENT marked, plan changes, Premium through sales, the Developer trial."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from care_schemas.catalogue import Entitlements
from console.adapters.api import ApiError, segment
from console.domain.countdown import local
from console.domain.plans import comparison, days_left
from console.entrypoints.web import CurrentViewer, Flash, Services, csrf_protect, redirect, render

router = APIRouter(dependencies=[Depends(csrf_protect)])
PLAN_CODE = r"^[a-z_]{1,32}$"


@router.get("/support", response_class=HTMLResponse)
async def support(request: Request, who: CurrentViewer, api: Services) -> Response:
    org = segment(who.org)
    page = await api.plan.get(f"/v1/orgs/{org}/support-page", who.token)
    plan = await api.plan.get(f"/v1/orgs/{org}/plan", who.token)
    requests = await api.plan.get(f"/v1/orgs/{org}/sales-requests", who.token, {"limit": 5})
    panes = page["plans"]
    now = datetime.now(UTC)
    trial = plan.get("trial")
    trial_days = (
        days_left(datetime.fromisoformat(trial["ends_at"]), now) if trial and trial["status"] == "active" else None
    )
    legacy = page.get("legacy_plan")
    context = {
        "page": page,
        "plan": plan,
        "panes": panes,
        "rows": comparison([Entitlements.model_validate(p["entitlements"]) for p in panes]),
        "trial": trial,
        "trial_days": trial_days,
        "trial_ends": local(datetime.fromisoformat(trial["ends_at"]), plan["timezone"]) if trial else None,
        "legacy": legacy,
        "legacy_retires": local(datetime.fromisoformat(legacy["retires_at"]), "UTC")
        if legacy and legacy.get("retires_at")
        else None,
        "requests": requests["sales_requests"],
    }
    return render(request, "support.html", context, who=who)


@router.post("/support/plan")
async def change_plan(
    request: Request, who: CurrentViewer, api: Services, plan: Annotated[str, Form(pattern=PLAN_CODE)]
) -> Response:
    """Upgrade or downgrade at once; Premium files a sales request."""
    try:
        answer = await api.plan.post(f"/v1/orgs/{segment(who.org)}/plan/changes", who.token, {"plan": plan})
    except ApiError as exc:
        return redirect(request, "/support", Flash("error", exc.message))
    if answer["status"] == "sales_request_created":
        text = "Premium requested: sales will contact you and approve the change. The request is pending."
    else:
        text = f"Your organisation is now on the {answer['plan']['name']} plan."
    return redirect(request, "/support", Flash("ok", text))


@router.post("/support/sales-requests/{request_id}/withdraw")
async def withdraw(request: Request, request_id: str, who: CurrentViewer, api: Services) -> Response:
    """Withdraw the organisation's pending Premium request (sales no longer sees it; it cannot be approved)."""
    try:
        await api.plan.post(f"/v1/orgs/{segment(who.org)}/sales-requests/{segment(request_id)}/withdraw", who.token)
    except ApiError as exc:
        return redirect(request, "/support", Flash("error", exc.message))
    return redirect(request, "/support", Flash("ok", "Premium request withdrawn: your plan stays as it is."))


@router.post("/support/trial")
async def start_trial(request: Request, who: CurrentViewer, api: Services) -> Response:
    try:
        answer = await api.plan.post(f"/v1/orgs/{segment(who.org)}/trial", who.token)
    except ApiError as exc:
        return redirect(request, "/support", Flash("error", exc.message))
    return redirect(
        request, "/support", Flash("ok", f"Developer trial started: you are on {answer['plan']['name']} for 30 days.")
    )
