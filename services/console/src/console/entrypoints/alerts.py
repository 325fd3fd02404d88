"""/alerts/subscribers: channel-specific forms gated by plan, the test result on save, test again, delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from care_schemas.catalogue import ChannelType
from console.adapters.api import ApiError, segment
from console.domain.channels import FIELDS, choices, config_from_form, split_list
from console.domain.chart import OUTCOMES, chart
from console.domain.countdown import local, zone
from console.domain.forms import field_errors
from console.domain.plans import CHANNEL_NAMES
from console.entrypoints.web import CurrentViewer, Flash, Services, Viewer, csrf_protect, redirect, render

router = APIRouter(dependencies=[Depends(csrf_protect)])
SEVERITIES = ("critical", "warning", "info")
HISTORY_HOURS, HISTORY_BUCKETS = 24, 48
Field = Annotated[str, Form(max_length=2048)]


def _tested(answer: dict[str, Any] | None) -> str:
    status = (answer or {}).get("endpoint_status")
    return f" (the endpoint answered HTTP {status})" if status else ""


async def _plan(api: Services, who: Viewer) -> dict[str, Any]:
    plan: dict[str, Any] = await api.plan.get(f"/v1/orgs/{segment(who.org)}/plan", who.token)
    return plan


@router.get("/alerts/subscribers", response_class=HTMLResponse)
async def subscribers(request: Request, who: CurrentViewer, api: Services) -> Response:
    found = await api.notify.get("/v1/subscribers", who.token)
    rows = [{**s, "channel": CHANNEL_NAMES[ChannelType(s["type"])]} for s in found["subscribers"]]
    return render(request, "subscribers.html", {"subscribers": rows}, who=who)


def _form(
    request: Request,
    who: Viewer,
    plan: dict[str, Any],
    channel: ChannelType | None,
    values: dict[str, Any],
    *,
    editing: dict[str, Any] | None = None,
    error: ApiError | None = None,
) -> Response:
    context = {
        "plan": plan,
        "choices": choices(plan["entitlements"]["alert_channels"], plan["name"]),
        "channel": channel.value if channel else None,
        "channel_name": CHANNEL_NAMES[channel] if channel else None,
        "fields": FIELDS[channel] if channel else (),
        "values": values,
        "severities": SEVERITIES,
        "editing": editing,
        "error": error,
        "errors": field_errors(error),
    }
    return render(request, "subscriber_form.html", context, who=who, status=error.status if error else 200)


def _channel(value: str) -> ChannelType | None:
    try:
        return ChannelType(value)
    except ValueError:
        return None


@router.get("/alerts/subscribers/new", response_class=HTMLResponse)
async def new_form(
    request: Request, who: CurrentViewer, api: Services, type: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    plan = await _plan(api, who)
    return _form(request, who, plan, _channel(type), {"project_id": "", "severities": [], "config": {}})


def _values(form: dict[str, Any], severities: list[str] | None) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "project_id": form.get("project_id", ""),
        "cluster_id": form.get("cluster_id", ""),
        "rules": form.get("rules", ""),
        "severities": severities or [],
        "config": {k.removeprefix("config_"): v for k, v in form.items() if k.startswith("config_")},
    }


def _body(channel: ChannelType, form: dict[str, str], severities: list[str] | None, editing: bool) -> dict[str, Any]:
    return {
        "name": form.get("name", "").strip(),
        "project_id": form.get("project_id", "").strip(),
        "cluster_id": form.get("cluster_id", "").strip() or None,
        "severities": [s for s in severities or [] if s in SEVERITIES] or None,
        "rules": split_list(form.get("rules", "")),
        "config": config_from_form(channel, form, editing),
    }


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "severities"}


@router.post("/alerts/subscribers/new", response_class=HTMLResponse)
async def create(
    request: Request,
    who: CurrentViewer,
    api: Services,
    type: Annotated[str, Form(max_length=32)],
    name: Field = "",
    project_id: Field = "",
    severities: Annotated[list[str] | None, Form(max_length=3)] = None,
) -> Response:
    form = await _form_fields(request)
    channel = _channel(type)
    if channel is None:
        return redirect(request, "/alerts/subscribers/new", Flash("error", "Choose a channel first."))
    body = {"type": channel.value, **_body(channel, form, severities, editing=False)}
    try:
        saved = await api.notify.post("/v1/subscribers", who.token, body)
    except ApiError as exc:
        return _form(request, who, await _plan(api, who), channel, _values(form, severities), error=exc)
    text = f"Subscriber {saved['name']} saved: its test message was accepted{_tested(saved)}."
    return redirect(request, "/alerts/subscribers", Flash("ok", text))


@router.get("/alerts/subscribers/{subscriber_id}/edit", response_class=HTMLResponse)
async def edit_form(request: Request, subscriber_id: str, who: CurrentViewer, api: Services) -> Response:
    current = await api.notify.get(f"/v1/subscribers/{segment(subscriber_id)}", who.token)
    values = {**current, "rules": ", ".join(current.get("rules") or []), "severities": current.get("severities") or []}
    return _form(request, who, await _plan(api, who), ChannelType(current["type"]), values, editing=current)


@router.post("/alerts/subscribers/{subscriber_id}/edit", response_class=HTMLResponse)
async def edit(
    request: Request,
    subscriber_id: str,
    who: CurrentViewer,
    api: Services,
    name: Field = "",
    project_id: Field = "",
    severities: Annotated[list[str] | None, Form(max_length=3)] = None,
) -> Response:
    form = await _form_fields(request)
    current = await api.notify.get(f"/v1/subscribers/{segment(subscriber_id)}", who.token)
    channel = ChannelType(current["type"])
    body = _body(channel, form, severities, editing=True)
    if not body["config"]:
        del body["config"]  # nothing typed in: the stored configuration stays, no new test
    try:
        await api.notify.call("PATCH", f"/v1/subscribers/{segment(subscriber_id)}", who.token, body=body)
    except ApiError as exc:
        values = {**_values(form, severities), "config": current["config"]}
        return _form(request, who, await _plan(api, who), channel, values, editing=current, error=exc)
    return redirect(
        request, "/alerts/subscribers", Flash("ok", f"Subscriber {body['name'] or current['name']} updated.")
    )


@router.post("/alerts/subscribers/{subscriber_id}/test")
async def test_again(request: Request, subscriber_id: str, who: CurrentViewer, api: Services) -> Response:
    try:
        answer = await api.notify.post(f"/v1/subscribers/{segment(subscriber_id)}/test", who.token)
    except ApiError as exc:
        text = exc.message
        if exc.endpoint_status is not None:
            text += f" (HTTP {exc.endpoint_status})"
        return redirect(request, "/alerts/subscribers", Flash("error", text))
    if not answer.get("ok"):  # notify answers 200 with what the endpoint said (the route carectl uses too)
        status = answer.get("endpoint_status")
        said = str(answer.get("endpoint_answer") or "no answer").removeprefix(f"HTTP {status}: ")
        text = f"The test message was not accepted: {said}"
        return redirect(
            request, "/alerts/subscribers", Flash("error", text + (f" (HTTP {status})." if status else "."))
        )
    return redirect(request, "/alerts/subscribers", Flash("ok", f"Test message accepted{_tested(answer)}."))


@router.post("/alerts/subscribers/{subscriber_id}/delete")
async def delete(request: Request, subscriber_id: str, who: CurrentViewer, api: Services) -> Response:
    try:
        await api.notify.call("DELETE", f"/v1/subscribers/{segment(subscriber_id)}", who.token)
    except ApiError as exc:
        return redirect(request, "/alerts/subscribers", Flash("error", exc.message))
    return redirect(
        request, "/alerts/subscribers", Flash("ok", "Subscriber deleted; its queued notifications went with it.")
    )


@router.get("/alerts/subscribers/{subscriber_id}/deliveries", response_class=HTMLResponse)
async def deliveries(
    request: Request, subscriber_id: str, who: CurrentViewer, api: Services, partial: bool = False
) -> Response:
    """The delivery log and the chart; `partial` (htmx, every few seconds) answers only the log section."""
    sid = segment(subscriber_id)
    subscriber = await api.notify.get(f"/v1/subscribers/{sid}", who.token)
    log = await api.notify.get("/v1/deliveries", who.token, {"subscriber_id": subscriber_id, "limit": 100})
    history = await api.notify.get(
        "/v1/deliveries/histogram",
        who.token,
        {"subscriber_id": subscriber_id, "hours": HISTORY_HOURS, "buckets": HISTORY_BUCKETS},
    )
    plan = await _plan(api, who)
    tz = zone(plan.get("timezone"))
    buckets = [(datetime.fromisoformat(b["start"]).astimezone(tz), b["counts"]) for b in history["buckets"]]
    attempts = [{**d, "at_local": local(datetime.fromisoformat(d["attempted_at"]), tz.key)} for d in log["deliveries"]]
    context = {
        "s": subscriber,
        "attempts": attempts,
        "chart": chart(buckets, "%a %H:%M"),
        "outcomes": OUTCOMES,
        "hours": HISTORY_HOURS,
        "zone": tz.key,
    }
    return render(request, "deliveries_log.html" if partial else "deliveries.html", context, who=who)
