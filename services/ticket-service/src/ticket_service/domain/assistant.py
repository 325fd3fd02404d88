"""AI chat from ticket-service's side (pure): which mentions are questions for the assistant and which ask for a
ticket, the one line for a plan without AI chat, and the conversation as a ticket form shows it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from care_schemas.catalogue import Entitlements, PlanCode, catalogue
from care_schemas.events.chat import MAX_QUESTION
from ticket_service.domain import limits

SLACK_MENTION = re.compile(r"<[@!#][^>]*>")
LARK_MENTION = re.compile(r"@_user_\d+")
_HAN = re.compile(r"[\u3400-\u9fff]")
# The raise-request intent: a mention that only asks for help from a person, or says to open a ticket. Everything
# else is a question for the assistant (whose answer still carries a Raise request button).
_ONLY_HELP = re.compile(
    r"^(?:(?:hi|hey|hello|please|pls|we|i|us|me|need|want|would like|some|a|an|to|get|can|you|could)\s+)*"
    r"(?:help|support|a human|human|an engineer|engineer|a person|someone)(?:\s+(?:please|pls|here|now))*$"
)
_TICKET = re.compile(
    r"^(?:please\s+|pls\s+|i\s+want\s+to\s+|i'd\s+like\s+to\s+|we\s+need\s+to\s+)?"
    r"(?:raise|open|create|file|submit|new|log)\s+(?:a\s+|an\s+)?(?:new\s+)?(?:support\s+)?(?:request|ticket|case)\b"
    r"|^(?:talk|speak)\s+to\s+(?:a\s+)?(?:human|person|engineer|support)\b"
)
_ZH_TICKET = re.compile(
    r"^(?:请|麻烦)?(?:帮我|帮忙)?(?:提|开|建|创建|提交|新建|发起)(?:一个|个)?(?:支持)?(?:工单|请求)|^转?人工|^(?:需要|要)?(?:帮助|帮忙|求助)$"
)
MAX_QUOTED_ANSWER = 600
SLACK_TEXT_INPUT = 3000  # the most a Slack plain_text_input holds (and may be pre-filled with)
ANSWER_WAIT_S = 1.5  # how long a Raise request press waits for its answer to arrive (platform triggers last 3 s)


def clean(text: str) -> str:
    """A message's words without the mentions in it."""
    return " ".join(LARK_MENTION.sub(" ", SLACK_MENTION.sub(" ", text)).split())


def wants_a_ticket(text: str) -> bool:
    """Whether a mention asks for a ticket (or a person) rather than asking a question: an empty mention, "help",
    "raise a request", "open a ticket", "提工单", "转人工"."""
    words = re.sub(r"[\s.!?,:;~，。！？：；、]+", " ", clean(text).lower()).strip()
    if not words:
        return True
    return bool(_ONLY_HELP.match(words) or _TICKET.match(words) or _ZH_TICKET.match(words.replace(" ", "")))


def question_text(text: str) -> str:
    return clean(text)[:MAX_QUESTION]


def entitled(entitlements: Entitlements) -> bool:
    """AI chat is an entitlement of its own (Enterprise and Premium today), never a plan name."""
    return entitlements.ai_chat


def plan_line(plan: PlanCode, text: str) -> str:
    """One line naming the cheapest plan that includes AI chat, in the question's language (as the assistant says)."""
    cheapest = catalogue().cheapest_with("ai_chat")
    on = catalogue().get(plan).name
    chinese = len(_HAN.findall(text)) >= len(re.findall(r"[A-Za-z]{2,}", text)) and _HAN.search(text)
    if cheapest is None:
        return f"当前方案（{on}）不包含 AI 智能问答。" if chinese else f"AI chat is not included in the {on} plan."
    if chinese:
        return f"AI 智能问答包含在 {cheapest.name} 及以上方案中；本组织当前为 {on} 方案。"
    return f"AI chat needs the {cheapest.name} plan or higher; this organisation is on {on}."


@dataclass(frozen=True)
class ChatTurn:
    """A question ticket-service passed to the assistant, and the answer it heard back (if any yet)."""

    question_id: str
    question: str
    asked_by: str
    asked_at: datetime
    answer_id: str | None = None
    answer: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    could_help: bool | None = None


def _turn_text(turn: ChatTurn) -> str:
    lines = [f"Q: {turn.question}"]
    if turn.answer is not None:
        answer = turn.answer if len(turn.answer) <= MAX_QUOTED_ANSWER else turn.answer[:MAX_QUOTED_ANSWER] + " …"
        lines.append(f"A: {answer}")
        links = "; ".join(f"{s.get('title', '')} <{s.get('url', '')}>" for s in turn.sources)
        if links:
            lines.append(f"Sources: {links}")
    return "\n".join(lines)


def transcript(turns: list[ChatTurn], platform: str, limit: int = limits.MAX_DESCRIPTION) -> str:
    """The conversation as a ticket description: the latest turns that fit in `limit` characters, oldest first."""
    head = f"Asked the support assistant in {platform.capitalize()} first:"
    kept: list[str] = []
    size = len(head)
    for turn in reversed(turns):
        text = _turn_text(turn)
        if size + len(text) + 2 > limit:
            break
        kept.insert(0, text)
        size += len(text) + 2
    if not kept:
        return ""
    return "\n\n".join([head, *kept])


class Prefill(TypedDict, total=False):
    summary: str
    description: str


def prefill(turns: list[ChatTurn], platform: str, question_id: str | None, limit: int) -> Prefill:
    """What a ticket form opens with: the question (the one whose answer's button was pressed, answered yet or
    not, else the latest) as the summary, the conversation so far as the description."""
    if not turns:
        return Prefill()
    chosen = next((t for t in turns if question_id and t.question_id == question_id), turns[-1])
    summary = chosen.question.splitlines()[0].strip()[: limits.MAX_SUMMARY]
    return Prefill(summary=summary, description=transcript(turns, platform, limit))
