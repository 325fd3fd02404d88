"""The buttons on an alert card in Lark (rendered by notify-service, sent by the Connected Care Lark app):
Acknowledge and Open ticket, handled by `handlers.alert_actions.press` (as Slack's). The callback is answered with a
toast; an acknowledged card is replaced by notify-service (Lark's delayed card update with the callback's token),
Open ticket shows the member the request card pre-filled from the alert, carrying it to the ticket."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from care_schemas.events.action import AlertButton, ChatMessage
from care_schemas.events.ticket import ImPlatform
from carekit.chat.lark import LarkBot
from ticket_service import handlers
from ticket_service.adapters import lark
from ticket_service.entrypoints.common import as_object, as_text
from ticket_service.handlers import alert_actions
from ticket_service.handlers.alert_actions import Press

NOT_HERE = "This alert can only be acted on in a group bound to its organisation; use the console instead."
ACKNOWLEDGED = "Acknowledged: the alert's repeats stop and the card shows who acknowledged it"
FORM = "Fill in the request card: it starts with the alert"


def _toast(kind: str, text: str) -> dict[str, Any]:
    return {"toast": {"type": kind, "content": text}}


def parse(doc: dict[str, Any]) -> tuple[str, AlertButton, ChatMessage, str, str] | None:
    """From a card.action.trigger callback of an alert button: (action, button, message, open id, press id); None
    when the value is not one notify-service wrote or the callback lacks its tenant, chat or message."""
    header, event = as_object(doc.get("header")), as_object(doc.get("event"))
    value = as_object(as_object(event.get("action")).get("value"))
    operator, context = as_object(event.get("operator")), as_object(event.get("context"))
    try:
        button = AlertButton.model_validate({k: v for k, v in value.items() if k != "action"})
    except ValidationError:
        return None
    tenant = as_text(header.get("tenant_key")) or as_text(operator.get("tenant_key"))
    chat, message_id = as_text(context.get("open_chat_id")), as_text(context.get("open_message_id"))
    event_id = as_text(header.get("event_id")) or as_text(event.get("token"))
    if not (tenant and chat and message_id and event_id):
        return None
    message = ChatMessage(
        platform=ImPlatform.LARK,
        workspace=tenant,
        channel=chat,
        message_id=message_id,
        update_token=(as_text(event.get("token")) or "")[:512] or None,
    )
    open_id = as_text(operator.get("open_id")) or "unknown"
    return str(value.get("action")), button, message, open_id, f"lark:{tenant}:{chat}:{message_id}:{event_id}"


async def button(deps: handlers.Deps, client: LarkBot, doc: dict[str, Any]) -> dict[str, Any]:
    """Answer one press of Acknowledge or Open ticket."""
    parsed = parse(doc)
    if parsed is None:
        return _toast("error", "this button is not one of Connected Care's alert buttons")
    action, pressed, message, open_id, press_id = parsed
    outcome = await alert_actions.press(deps, action, pressed, message, open_id, None, press_id)
    if outcome is Press.NOT_HERE:
        return _toast("error", NOT_HERE)
    if outcome is Press.ACKNOWLEDGED:
        return _toast("success", ACKNOWLEDGED)
    card = lark.request_card(
        message.channel,
        message.message_id,
        summary=pressed.t,
        cluster_id=pressed.c,
        description=pressed.d,
        alert=pressed.alert.model_dump(mode="json"),
    )
    await client.send_card_to_member(message.channel, open_id, card)
    return _toast("success", FORM)
