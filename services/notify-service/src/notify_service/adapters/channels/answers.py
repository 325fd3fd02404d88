"""The assistant's answers in each platform's own format, posted into the thread through the kit's clients:
Slack Block Kit (answer, sources as links, buttons), a Lark card (JSON 2.0: markdown, links, callback buttons)
replied in the thread (`reply_in_thread`)."""

from __future__ import annotations

import json
from typing import Any

from care_schemas.events.chat import ASSISTANT_ACTION, ChatButton
from carekit.chat import ChatFailure
from notify_service.adapters.channels.im import ChatBots, refused
from notify_service.domain.classify import Outcome, Verdict

SECTION_CHARS = 3000  # Slack: the most a section's text holds
MAX_SECTIONS = 3
LARK_TEXT_BYTES = 20_000  # Lark refuses card bodies over 30 KB; Chinese is 3 bytes a character
LABELS = {
    "en": {"helpful": "Helpful", "not_helpful": "Not helpful", "raise_request": "Raise request", "sources": "Sources"},
    "zh": {"helpful": "有帮助", "not_helpful": "没有帮助", "raise_request": "Raise request", "sources": "来源"},
}
TITLE = {"en": "Connected Care assistant", "zh": "Connected Care 智能助手"}
STYLE = {"helpful": "primary", "raise_request": "danger"}


def _escape(text: str) -> str:
    """Slack mrkdwn control characters, as Slack asks them to be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _chunks(text: str, size: int, count: int) -> list[str]:
    parts = [text[i : i + size] for i in range(0, len(text), size)][:count]
    return parts or [""]


def slack_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer as sections, its sources as links, and its buttons (each carrying a ChatButton)."""
    labels = LABELS.get(body.get("language", "en"), LABELS["en"])
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in _chunks(_escape(body["text"]), SECTION_CHARS, MAX_SECTIONS)
    ]
    if body["sources"]:
        links = [f"<{s['url']}|{_escape(s['title']).replace('|', '/')}>" for s in body["sources"]]
        text = f"*{labels['sources']}:* " + " · ".join(links)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_CHARS]}]})
    if body["buttons"]:
        elements = []
        for raw in body["buttons"]:
            button = ChatButton.model_validate(raw)
            element: dict[str, Any] = {
                "type": "button",
                "action_id": button.action_id,
                "text": {"type": "plain_text", "text": labels[button.kind.value]},
                "value": button.model_dump_json(),
            }
            if button.kind.value in STYLE:
                element["style"] = STYLE[button.kind.value]
            elements.append(element)
        blocks.append({"type": "actions", "block_id": "assistant", "elements": elements})
    return blocks


def _fit_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore") + " …"


def lark_card(body: dict[str, Any]) -> dict[str, Any]:
    """The answer as a Lark card: markdown text, the sources as links, buttons with callback values."""
    language = body.get("language", "en")
    labels = LABELS.get(language, LABELS["en"])
    elements: list[dict[str, Any]] = [{"tag": "markdown", "content": _fit_bytes(body["text"], LARK_TEXT_BYTES)}]
    if body["sources"]:
        links = "\n".join(f"- [{s['title'].replace(']', ')')}]({s['url']})" for s in body["sources"])
        elements.append({"tag": "markdown", "content": f"**{labels['sources']}**\n{links}"})
    for raw in body["buttons"]:
        button = ChatButton.model_validate(raw)
        elements.append(
            {
                "tag": "button",
                "name": button.action_id,
                "text": {"tag": "plain_text", "content": labels[button.kind.value]},
                "type": STYLE.get(button.kind.value, "default"),
                "behaviors": [
                    {"type": "callback", "value": {"action": ASSISTANT_ACTION, **button.model_dump(mode="json")}}
                ],
            }
        )
    return {
        "schema": "2.0",
        "header": {"title": {"tag": "plain_text", "content": TITLE.get(language, TITLE["en"])}, "template": "blue"},
        "body": {"elements": elements},
    }


async def post_answer(bots: ChatBots, kind: str, target: dict[str, Any], body: dict[str, Any]) -> Outcome:
    """Post one answer into its thread; the kit client's failure says retry (429, 5xx, network) or permanent."""
    try:
        if kind == "slack_answer":
            if bots.slack is None:
                return Outcome(Verdict.PERMANENT, "SLACK_BOT_TOKEN is not set")
            fallback = body["text"][:300]
            await bots.slack.post(target["channel"], target["thread_ts"], fallback, slack_blocks(body))
        else:
            if bots.lark is None:
                return Outcome(Verdict.PERMANENT, "LARK_APP_ID / LARK_APP_SECRET are not set")
            await bots.lark.reply(target["thread_ts"], "interactive", json.dumps(lark_card(body), ensure_ascii=False))
    except ChatFailure as exc:
        return refused(exc)
    return Outcome(Verdict.OK, "posted", 200)
