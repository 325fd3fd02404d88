"""AI chat in Slack: a mention (or a direct message) that asks a question goes to the assistant and Slack gets its
200 at once (the answer follows in the thread from notify-service); the buttons under an answer become feedback,
and its Raise request opens the ticket form with the question and the conversation so far."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from care_schemas.events.chat import ASSISTANT_ACTION, ChatButton, ChatThread, FeedbackKind
from care_schemas.events.ticket import ImPlatform
from carekit.chat.slack import SlackWebApi
from ticket_service import handlers
from ticket_service.adapters import slack
from ticket_service.domain import assistant as rules
from ticket_service.domain.bindings import Binding
from ticket_service.entrypoints.common import as_object, as_text
from ticket_service.handlers import assistant

SUSPENDED = "Support requests from this channel are suspended: the plan does not include them."
UNKNOWN_WORKSPACE = (
    "I can't tell which organisation this workspace belongs to here; ask me in your organisation's support channel."
)


def is_direct(channel: str) -> bool:
    """Slack's direct-message channels have ids starting with D."""
    return channel.startswith("D")


async def place_binding(deps: handlers.Deps, team: str, channel: str) -> Binding | None:
    """The binding behind a place: the bound channel, or for a direct message the workspace's organisation."""
    return await assistant.place_binding(deps, ImPlatform.SLACK, team, channel, direct=is_direct(channel))


async def question(
    deps: handlers.Deps,
    client: SlackWebApi,
    event_id: str,
    binding: Binding,
    place: ChatThread,
    message_ts: str,
    user: str,
    text: str,
) -> bool:
    """A mention or direct message that asks a question: to the assistant when the plan includes AI chat, else the
    one line naming the plan that does. False when it asks for a ticket instead (the caller shows the button)."""

    async def plan_line(line: str) -> None:
        async def answer() -> None:
            await client.post(place.channel, place.thread_ts, line)

        await handlers.once(deps, "slack-mentions", event_id, answer)

    direct = is_direct(place.channel)
    return await assistant.question(deps, binding, place, message_ts, user, text, direct=direct, plan_line=plan_line)


async def direct_message(
    deps: handlers.Deps, client: SlackWebApi, event_id: str, team: str, event: dict[str, Any]
) -> None:
    """A direct message to the bot: a question for the assistant, or a request for the ticket form."""
    channel, ts, user = as_text(event.get("channel")), as_text(event.get("ts")), as_text(event.get("user"))
    if not (channel and ts and user):
        return
    thread = as_text(event.get("thread_ts")) or ts
    binding = await place_binding(deps, team, channel)
    if binding is None:

        async def unknown() -> None:
            await client.post(channel, thread, UNKNOWN_WORKSPACE)

        await handlers.once(deps, "slack-mentions", event_id, unknown)
        return
    place = ChatThread(platform=ImPlatform.SLACK, workspace=team, channel=channel, thread_ts=thread)
    text = as_text(event.get("text")) or ""
    if await question(deps, client, event_id, binding, place, ts, user, text):
        return

    async def offer() -> None:
        if binding.active and binding.features.updates:
            await client.post(channel, thread, "Raise a support request", slack.raise_button(thread))
        else:
            await client.post(channel, thread, SUSPENDED)

    await handlers.once(deps, "slack-mentions", event_id, offer)


async def prefill(
    deps: handlers.Deps, team: str, channel: str, thread: str, answer_id: str | None = None
) -> rules.Prefill:
    """The ticket form's starting values for a thread the assistant answered in (none otherwise)."""
    place = ChatThread(platform=ImPlatform.SLACK, workspace=team, channel=channel, thread_ts=thread)
    return await assistant.form_prefill(deps, place, answer_id, rules.SLACK_TEXT_INPUT)


async def button(deps: handlers.Deps, client: SlackWebApi, payload: dict[str, Any], action: dict[str, Any]) -> bool:
    """A button under an answer: feedback (once per press); Raise request also opens the pre-filled form.
    False when the action is not one of the assistant's."""
    if not str(action.get("action_id", "")).startswith(f"{ASSISTANT_ACTION}_"):
        return False
    try:
        pressed = ChatButton.model_validate_json(as_text(action.get("value")) or "")
    except ValidationError:
        return True  # not a value we rendered: nothing to record
    team = as_text(as_object(payload.get("team")).get("id")) or ""
    user = as_text(as_object(payload.get("user")).get("id")) or "unknown"
    when = as_text(action.get("action_ts")) or as_text(payload.get("trigger_id")) or ""
    thread = await assistant.press(deps, pressed, user, f"slack:{team}:{user}:{pressed.action_id}:{when}")
    trigger = as_text(payload.get("trigger_id"))
    if thread is None or pressed.kind is not FeedbackKind.RAISE_REQUEST or not trigger:
        return True
    binding = await place_binding(deps, thread.workspace, thread.channel)
    if binding is None or not binding.active or not binding.features.updates:
        await client.open_view(trigger, slack.notice_view(SUSPENDED))
        return True
    values = await assistant.form_prefill(
        deps, thread, pressed.answer_id, rules.SLACK_TEXT_INPUT, wait_s=rules.ANSWER_WAIT_S
    )
    await client.open_view(trigger, slack.form_view(thread.workspace, thread.channel, thread.thread_ts, **values))
    return True
