"""Lark inbound: event callback (challenge, mentions, thread replies) and card callback, all verified."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import ValidationError

from care_schemas.events.action import ACK_ACTION, TICKET_ACTION
from care_schemas.events.chat import ASSISTANT_ACTION, ChatThread
from care_schemas.events.ticket import AuthorKind, ImPlatform, ImThread, TicketChannel
from carekit.chat.lark import LarkBot, post_from_text
from carekit.problems import responses
from carekit.refusals import Unauthorized
from ticket_service import handlers
from ticket_service.adapters import lark
from ticket_service.config import Settings
from ticket_service.domain.assistant import SLACK_TEXT_INPUT
from ticket_service.domain.errors import NotConfigured, Refused
from ticket_service.domain.model import Author, NewTicket
from ticket_service.entrypoints import lark_alerts, lark_assistant, scheduler
from ticket_service.entrypoints.common import alert_of, as_object, as_text, get_deps

log = logging.getLogger(__name__)
router = APIRouter(prefix="/lark", tags=["lark"], responses=responses(400, 401, 502, 503))
MENTION_KEY = re.compile(r"@_user_\d+")
SUSPENDED = lark_assistant.SUSPENDED


async def _verified(request: Request) -> tuple[dict[str, Any], LarkBot]:
    settings: Settings = request.app.state.settings
    client: LarkBot | None = request.app.state.lark
    if client is None or not settings.lark_verification_token:
        raise NotConfigured("Lark integration is not configured")
    body = await request.body()
    try:
        doc = lark.verify(
            body,
            request.headers,
            verification_token=settings.lark_verification_token,
            encrypt_key=settings.lark_encrypt_key,
        )
    except lark.Unverified as exc:
        raise Unauthorized(f"Lark request not verified: {exc}") from None
    return doc, client


def _text(message: dict[str, Any]) -> str:
    """The words of a text or rich-text ("post") message, or the name of an attached file; mentions removed."""
    try:
        content = as_object(json.loads(as_text(message.get("content")) or "{}"))
    except ValueError:
        return ""
    text = as_text(content.get("text")) or ""
    if message.get("message_type") == "post":  # {"title": ..., "content": [[{"tag": "text", "text": ...}, ...], ...]}
        paragraphs = [line for line in _list(content.get("content")) if isinstance(line, list)]
        words = [" ".join(filter(None, (as_text(as_object(e).get("text")) for e in line))) for line in paragraphs]
        text = "\n".join(filter(None, [as_text(content.get("title")), *words]))
    elif name := as_text(content.get("file_name")):
        text = f"[attached in Lark: {name}]"
    return MENTION_KEY.sub("", text).strip()


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


@router.post("/events")
async def events(request: Request) -> dict[str, Any]:
    doc, client = await _verified(request)
    deps = await get_deps(request)
    if doc.get("type") == "url_verification":
        return {"challenge": doc.get("challenge")}
    header, event = as_object(doc.get("header")), as_object(doc.get("event"))
    if header.get("event_type") != "im.message.receive_v1":
        return {}
    sender, message = as_object(event.get("sender")), as_object(event.get("message"))
    if sender.get("sender_type") != "user":
        return {}  # the bot's own messages never become comments
    tenant = as_text(header.get("tenant_key")) or as_text(sender.get("tenant_key"))
    event_id, chat_id = as_text(header.get("event_id")), as_text(message.get("chat_id"))
    message_id = as_text(message.get("message_id"))
    open_id = as_text(as_object(sender.get("sender_id")).get("open_id")) or "unknown"
    if not (tenant and event_id and chat_id and message_id):
        return {}
    root_id = as_text(message.get("root_id"))
    if root_id:
        place = ImThread(
            platform=ImPlatform.LARK, workspace=tenant, channel=chat_id, thread_ts=root_id, message_id=message_id
        )
        if await handlers.chat_reply(deps, event_id, place, open_id, _text(message)) is not None:
            return {}
    in_ticket_thread = root_id and await handlers.ticket_for_thread(
        deps, ImThread(platform=ImPlatform.LARK, workspace=tenant, channel=chat_id, thread_ts=root_id)
    )
    if message.get("chat_type") == "p2p" and not in_ticket_thread:
        root = root_id or message_id
        await lark_assistant.direct_message(
            deps, client, event_id, tenant, chat_id, root, message_id, open_id, _text(message)
        )
        return {}
    if message.get("mentions") and message.get("chat_type", "group") == "group" and not in_ticket_thread:
        binding = await handlers.binding_at(deps, ImPlatform.LARK, tenant, chat_id)
        thread = ChatThread(
            platform=ImPlatform.LARK, workspace=tenant, channel=chat_id, thread_ts=root_id or message_id
        )
        if binding is not None and await lark_assistant.question(
            deps, client, event_id, binding, thread, message_id, open_id, _text(message)
        ):
            return {}  # a question: the assistant's answer card follows in the thread
        if binding is not None and binding.active and binding.features.updates:
            values = await handlers.assistant.form_prefill(deps, thread, None, SLACK_TEXT_INPUT)
            card = lark.request_card(chat_id, root_id or message_id, **values)

            async def show_card() -> None:
                await client.send_card_to_member(chat_id, open_id, card)

            await handlers.once(deps, "lark-mentions", event_id, show_card)
        elif binding is not None:  # suspended: say so, as in Slack, instead of staying silent

            async def notice() -> None:
                await client.reply(message_id, "post", post_from_text("Connected Care support", SUSPENDED))

            await handlers.once(deps, "lark-mentions", event_id, notice)
    return {}


def _toast(kind: str, text: str) -> dict[str, Any]:
    return {"toast": {"type": kind, "content": text}}


@router.post("/card")
async def card(request: Request, background: BackgroundTasks) -> dict[str, Any]:
    """The request card's Submit (open the ticket with the reporter email and reply in the thread), the assistant's
    answer buttons and the alert cards' Acknowledge and Open ticket."""
    doc, _client = await _verified(request)
    deps = await get_deps(request)
    if doc.get("type") == "url_verification":
        return {"challenge": doc.get("challenge")}
    header, event = as_object(doc.get("header")), as_object(doc.get("event"))
    action = as_object(event.get("action"))
    value = as_object(action.get("value"))
    operator = as_object(event.get("operator"))
    if header.get("event_type") == "card.action.trigger" and value.get("action") in (ACK_ACTION, TICKET_ACTION):
        return await lark_alerts.button(deps, _client, doc)
    if header.get("event_type") == "card.action.trigger" and value.get("action") == ASSISTANT_ACTION:
        press = as_text(header.get("event_id")) or as_text(event.get("token")) or ""
        return await lark_assistant.button(deps, _client, value, as_text(operator.get("open_id")) or "unknown", press)
    if header.get("event_type") != "card.action.trigger" or value.get("action") != lark.SUBMIT_ACTION:
        return {}
    tenant = as_text(header.get("tenant_key")) or as_text(operator.get("tenant_key"))
    chat_id, root_id = as_text(value.get("chat_id")), as_text(value.get("root_id"))
    submission = as_text(header.get("event_id")) or as_text(event.get("token"))
    if not (tenant and chat_id and root_id and submission):
        return _toast("error", "this card is missing its chat; mention the bot again")
    binding = await lark_assistant.place_binding(deps, tenant, chat_id, bool(value.get("direct")))
    if binding is None or not binding.active:
        return _toast("error", "support requests from this group are not active; ask your account team")
    form = {k: v for k, v in as_object(action.get("form_value")).items() if isinstance(v, str) and v.strip()}
    try:
        new = NewTicket.model_validate(form)
    except ValidationError as exc:
        first = exc.errors()[0]
        return _toast("error", f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    place = ImThread(platform=ImPlatform.LARK, workspace=tenant, channel=chat_id, thread_ts=root_id, message_id=root_id)
    open_id = as_text(operator.get("open_id")) or "unknown"
    author = Author(sub=f"lark:{open_id}", kind=AuthorKind.CUSTOMER, org_id=binding.org_id)
    try:
        ticket, created = await handlers.open_ticket(
            deps,
            binding.org_id,
            author,
            new,
            channel=TicketChannel.LARK,
            im_thread=place,
            source_key=f"lark:card:{submission}",
            alert=alert_of(value),
        )
    except Refused as exc:
        return _toast("error", exc.message)
    if created:  # the confirmation was queued with the ticket; send it now (the delivery loop retries)
        background.add_task(scheduler.deliver_chat_replies, deps)
    return _toast("success", f"Ticket {ticket.id} opened")
