"""Slack inbound: Events API and interactivity, every request verified by its signing secret."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from care_schemas.events.chat import ChatThread
from care_schemas.events.ticket import AuthorKind, ImPlatform, ImThread, TicketChannel
from carekit.chat.slack import SlackWebApi, verified
from carekit.problems import responses
from carekit.refusals import Unauthorized
from ticket_service import handlers
from ticket_service.adapters import slack
from ticket_service.config import Settings
from ticket_service.domain.errors import Conflict, NotConfigured, Refused
from ticket_service.domain.model import Author, NewTicket
from ticket_service.entrypoints import scheduler, slack_alerts, slack_assistant
from ticket_service.entrypoints.common import alert_of, as_object, as_text, get_deps

log = logging.getLogger(__name__)
router = APIRouter(prefix="/slack", tags=["slack"], responses=responses(400, 401, 502, 503))
OK = {"ok": True}
# A reply also sent to the channel, or with files attached, is still a customer's reply.
USER_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
SUSPENDED = slack_assistant.SUSPENDED


async def _verified_body(request: Request) -> tuple[bytes, SlackWebApi, Settings]:
    settings: Settings = request.app.state.settings
    client: SlackWebApi | None = request.app.state.slack
    if client is None or not settings.slack_signing_secret:
        raise NotConfigured("Slack integration is not configured")
    body = await request.body()
    if not verified(settings.slack_signing_secret, request.headers, body):
        raise Unauthorized("invalid or stale Slack signature")
    return body, client, settings


def _json_object(raw: str | bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, TypeError):
        raise HTTPException(400, detail="body is not JSON") from None
    if not isinstance(doc, dict):
        raise HTTPException(400, detail="body is not a JSON object")
    return doc


@router.post("/events")
async def events(request: Request) -> dict[str, Any]:
    """url_verification, app mentions (answer with a button) and thread replies (two-way comments)."""
    body, client, settings = await _verified_body(request)
    deps = await get_deps(request)
    doc = _json_object(body)
    if doc.get("type") == "url_verification":
        return {"challenge": doc.get("challenge")}
    event = as_object(doc.get("event"))
    team, event_id, channel = as_text(doc.get("team_id")), as_text(doc.get("event_id")), as_text(event.get("channel"))
    user, thread_ts, ts = as_text(event.get("user")), as_text(event.get("thread_ts")), as_text(event.get("ts"))
    if doc.get("type") != "event_callback" or not (team and event_id and channel and ts):
        return OK
    if event.get("bot_id") or event.get("subtype") not in USER_SUBTYPES or user in (None, settings.slack_bot_user_id):
        return OK  # the bot's own messages, edits, deletions and joins never become comments
    assert user is not None
    if event.get("type") == "app_mention":
        text = as_text(event.get("text")) or ""
        await _mention(deps, client, event_id, team, channel, thread_ts or ts, ts, user, text)
    elif (
        event.get("type") == "message"
        and event.get("channel_type") == "im"
        and not await _in_ticket_thread(deps, team, channel, thread_ts)
    ):
        await slack_assistant.direct_message(deps, client, event_id, team, event)
    elif event.get("type") == "message" and thread_ts and thread_ts != ts:
        place = ImThread(platform=ImPlatform.SLACK, workspace=team, channel=channel, thread_ts=thread_ts, message_id=ts)
        await handlers.chat_reply(deps, event_id, place, user, _reply_text(event))
    return OK


def _reply_text(event: dict[str, Any]) -> str:
    """The reply's text, plus the names of files the customer attached (the files stay in Slack)."""
    text = as_text(event.get("text")) or ""
    attached = event.get("files")
    files: list[Any] = attached if isinstance(attached, list) else []
    names = [name for f in files if (name := as_text(as_object(f).get("name")))]
    return f"{text}\n[attached in Slack: {', '.join(names)}]".strip() if names else text


async def _in_ticket_thread(deps: handlers.Deps, team: str, channel: str, thread: str | None) -> bool:
    place = ImThread(platform=ImPlatform.SLACK, workspace=team, channel=channel, thread_ts=thread)
    return thread is not None and await handlers.ticket_for_thread(deps, place) is not None


async def _mention(
    deps: handlers.Deps,
    client: SlackWebApi,
    event_id: str,
    team: str,
    channel: str,
    thread: str,
    ts: str,
    user: str,
    text: str,
) -> None:
    binding = await handlers.binding_at(deps, ImPlatform.SLACK, team, channel)
    if binding is None:
        return
    if await _in_ticket_thread(deps, team, channel, thread):
        return  # a mention inside a ticket's thread is a reply, not a new request
    place = ChatThread(platform=ImPlatform.SLACK, workspace=team, channel=channel, thread_ts=thread)
    if await slack_assistant.question(deps, client, event_id, binding, place, ts, user, text):
        return  # a question: the assistant's answer follows in the thread
    if binding.active and binding.features.updates:

        async def answer() -> None:
            await client.post(channel, thread, "Raise a support request", slack.raise_button(thread))

    else:

        async def answer() -> None:
            await client.post(channel, thread, SUSPENDED)

    await handlers.once(deps, "slack-mentions", event_id, answer)


@router.post("/interactivity", response_model=None)
async def interactivity(request: Request, background: BackgroundTasks) -> Response | dict[str, Any]:
    """The 'Raise request' button opens the form; submitting the form opens the ticket."""
    body, client, _settings = await _verified_body(request)
    deps = await get_deps(request)
    payload = _json_object((parse_qs(body.decode("utf-8", "replace")).get("payload") or ["{}"])[0])
    team = as_text(as_object(payload.get("team")).get("id"))
    if payload.get("type") == "block_actions":
        listed = payload.get("actions")
        actions: list[Any] = listed if isinstance(listed, list) else []
        for pressed in actions:
            if await slack_assistant.button(deps, client, payload, as_object(pressed)):
                return Response(status_code=200)
            if await slack_alerts.button(deps, client, payload, as_object(pressed)):
                return Response(status_code=200)
        action = next((as_object(a) for a in actions if as_object(a).get("action_id") == slack.RAISE_ACTION), None)
        channel, trigger = as_text(as_object(payload.get("channel")).get("id")), as_text(payload.get("trigger_id"))
        thread = as_text(action.get("value")) if action else None
        if thread and team and channel and trigger:
            binding = await slack_assistant.place_binding(deps, team, channel)
            if binding is not None and binding.active:
                values = await slack_assistant.prefill(deps, team, channel, thread)
                await client.open_view(trigger, slack.form_view(team, channel, thread, **values))
            elif binding is not None:  # suspended since the button was posted: say so rather than do nothing
                await client.open_view(trigger, slack.notice_view(SUSPENDED))
        return Response(status_code=200)
    view = as_object(payload.get("view"))
    if payload.get("type") == "view_submission" and view.get("callback_id") == slack.FORM_CALLBACK:
        return await _submitted(deps, client, background, payload, view)
    return Response(status_code=200)


def _errors(errors: dict[str, str]) -> JSONResponse:
    return JSONResponse({"response_action": "errors", "errors": errors})


async def _submitted(
    deps: handlers.Deps,
    client: SlackWebApi,
    background: BackgroundTasks,
    payload: dict[str, Any],
    view: dict[str, Any],
) -> Response:
    meta = _json_object(as_text(view.get("private_metadata")) or "{}")
    team, channel, thread = as_text(meta.get("team")), as_text(meta.get("channel")), as_text(meta.get("thread_ts"))
    binding = await slack_assistant.place_binding(deps, team, channel) if team and channel else None
    if binding is None or not binding.active or not thread:
        return _errors({"summary": "support requests from this channel are not active; ask your account team"})
    try:
        new = NewTicket.model_validate(slack.form_values(view))
    except ValidationError as exc:
        return _errors({str(e["loc"][0]) if e["loc"] else "summary": e["msg"] for e in exc.errors()})
    user = as_text(as_object(payload.get("user")).get("id")) or "unknown"
    assert team is not None
    assert channel is not None
    place = ImThread(platform=ImPlatform.SLACK, workspace=team, channel=channel, thread_ts=thread, message_id=thread)
    author = Author(sub=f"slack:{user}", kind=AuthorKind.CUSTOMER, org_id=binding.org_id)
    try:
        _ticket, created = await handlers.open_ticket(
            deps,
            binding.org_id,
            author,
            new,
            channel=TicketChannel.SLACK,
            im_thread=place,
            source_key=f"slack:view:{view.get('id')}",
            alert=alert_of(meta),
        )
    except Conflict as exc:
        return _errors({"summary": exc.message})
    except Refused as exc:
        return _errors({"kind": exc.message})
    if created:  # the confirmation was queued with the ticket; send it now (the delivery loop retries)
        background.add_task(scheduler.deliver_chat_replies, deps)
    return Response(status_code=200)
