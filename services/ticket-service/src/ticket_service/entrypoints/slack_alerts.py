"""The buttons under an alert message in Slack (rendered by notify-service): Acknowledge and Open ticket, handled by
`handlers.alert_actions.press` (as Lark's). Only in a channel bound to the alert's own organisation; anything else is
answered with a short note in the thread."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from care_schemas.events.action import ACK_ACTION, TICKET_ACTION, AlertButton, ChatMessage
from care_schemas.events.ticket import ImPlatform
from carekit.chat.slack import SlackWebApi
from ticket_service import handlers
from ticket_service.adapters import slack
from ticket_service.entrypoints.common import as_object, as_text
from ticket_service.handlers import alert_actions
from ticket_service.handlers.alert_actions import Press

NOT_HERE = "This alert can only be acted on in a channel bound to its organisation; use the console instead."


async def button(deps: handlers.Deps, client: SlackWebApi, payload: dict[str, Any], action: dict[str, Any]) -> bool:
    """True when the press was an alert button (handled here)."""
    action_id = action.get("action_id")
    if action_id not in (ACK_ACTION, TICKET_ACTION):
        return False
    try:
        pressed = AlertButton.model_validate_json(as_text(action.get("value")) or "")
    except ValidationError:
        return True  # not a value notify-service wrote: nothing to do
    team = as_text(as_object(payload.get("team")).get("id"))
    container = as_object(payload.get("container"))
    channel = as_text(as_object(payload.get("channel")).get("id")) or as_text(container.get("channel_id"))
    ts = as_text(container.get("message_ts")) or as_text(as_object(payload.get("message")).get("ts"))
    user = as_object(payload.get("user"))
    user_id = as_text(user.get("id")) or "unknown"
    if not (team and channel and ts):
        return True
    message = ChatMessage(
        platform=ImPlatform.SLACK,
        workspace=team,
        channel=channel,
        message_id=ts,
        response_url=as_text(payload.get("response_url")),
    )
    press = f"{team}:{channel}:{ts}:{pressed.f}:{as_text(action.get('action_ts')) or user_id}"
    name = as_text(user.get("username")) or as_text(user.get("name"))
    outcome = await alert_actions.press(deps, action_id, pressed, message, user_id, name, press)
    if outcome is Press.NOT_HERE:
        await client.post(channel, ts, NOT_HERE)
        return True
    trigger = as_text(payload.get("trigger_id"))
    if outcome is Press.OPEN_FORM and trigger:
        alert = pressed.alert.model_dump(mode="json")
        view = slack.form_view(
            team, channel, ts, summary=pressed.t, cluster_id=pressed.c, description=pressed.d, alert=alert
        )
        await client.open_view(trigger, view)
    return True
