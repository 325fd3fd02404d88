"""AI chat in Lark: a mention in a bound group (or a message to the bot in a one-to-one chat) that asks a question
goes to the assistant (its answer card follows in the thread from notify-service); the card's buttons become
feedback, and its Raise request shows the member the request card filled with the question and the conversation."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from care_schemas.events.chat import ChatButton, ChatThread, FeedbackKind
from care_schemas.events.ticket import ImPlatform
from carekit.chat.lark import LarkBot, post_from_text
from ticket_service import handlers
from ticket_service.adapters import lark
from ticket_service.domain import assistant as rules
from ticket_service.domain.bindings import Binding
from ticket_service.handlers import assistant

TITLE = "Connected Care support"
SUSPENDED = "Support requests from this group are suspended: the plan does not include them."
UNKNOWN_TENANT = "I can't tell which organisation you belong to here; mention me in your organisation's support group."


async def place_binding(deps: handlers.Deps, tenant: str, chat_id: str, direct: bool) -> Binding | None:
    """The binding behind a place: the bound group, or for a one-to-one chat the tenant's organisation."""
    return await assistant.place_binding(deps, ImPlatform.LARK, tenant, chat_id, direct=direct)


async def question(
    deps: handlers.Deps,
    client: LarkBot,
    event_id: str,
    binding: Binding,
    place: ChatThread,
    message_id: str,
    user: str,
    text: str,
    *,
    direct: bool = False,
) -> bool:
    """A question for the assistant when the plan includes AI chat, else the one line naming the plan that does;
    False when the message asks for a ticket instead (the caller shows the request card)."""

    async def plan_line(line: str) -> None:
        async def answer() -> None:
            await client.reply(message_id, "post", post_from_text(TITLE, line))

        await handlers.once(deps, "lark-mentions", event_id, answer)

    return await assistant.question(deps, binding, place, message_id, user, text, direct=direct, plan_line=plan_line)


async def direct_message(
    deps: handlers.Deps,
    client: LarkBot,
    event_id: str,
    tenant: str,
    chat_id: str,
    root: str,
    message_id: str,
    open_id: str,
    text: str,
) -> None:
    """A message to the bot in a one-to-one chat: a question, or the request card."""
    binding = await place_binding(deps, tenant, chat_id, direct=True)
    if binding is None:

        async def unknown() -> None:
            await client.reply(message_id, "post", post_from_text(TITLE, UNKNOWN_TENANT))

        await handlers.once(deps, "lark-mentions", event_id, unknown)
        return
    place = ChatThread(platform=ImPlatform.LARK, workspace=tenant, channel=chat_id, thread_ts=root)
    if await question(deps, client, event_id, binding, place, message_id, open_id, text, direct=True):
        return

    async def offer() -> None:
        if binding.active and binding.features.updates:
            await client.send(chat_id, "interactive", _json(lark.request_card(chat_id, root, direct=True)))
        else:
            await client.reply(message_id, "post", post_from_text(TITLE, SUSPENDED))

    await handlers.once(deps, "lark-mentions", event_id, offer)


def _json(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


def _toast(kind: str, text: str) -> dict[str, Any]:
    return {"toast": {"type": kind, "content": text}}


async def button(
    deps: handlers.Deps, client: LarkBot, value: dict[str, Any], open_id: str, press_id: str
) -> dict[str, Any]:
    """A button on an answer card: feedback (once per press); Raise request also shows the pre-filled card."""
    try:
        pressed = ChatButton.model_validate({k: value.get(k) for k in ("kind", "answer_id", "conversation_id")})
    except ValidationError:
        return _toast("error", "this button is not one of the assistant's; ask again")
    thread = await assistant.press(deps, pressed, open_id, f"lark:{press_id}")
    if thread is None:
        return _toast("error", "this answer is no longer known; ask again")
    if pressed.kind is not FeedbackKind.RAISE_REQUEST:
        return _toast("success", "Thanks, your feedback is recorded")
    direct = not await handlers.binding_at(deps, ImPlatform.LARK, thread.workspace, thread.channel)
    binding = await place_binding(deps, thread.workspace, thread.channel, direct)
    if binding is None or not binding.active or not binding.features.updates:
        return _toast("error", SUSPENDED)
    values = await assistant.form_prefill(
        deps, thread, pressed.answer_id, rules.SLACK_TEXT_INPUT, wait_s=rules.ANSWER_WAIT_S
    )
    card = lark.request_card(thread.channel, thread.thread_ts, direct=direct, **values)
    await client.send_card_to_member(thread.channel, open_id, card)
    return _toast("success", "Fill in the request card: it starts with your question and the conversation")
