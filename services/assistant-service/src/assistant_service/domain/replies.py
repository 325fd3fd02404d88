"""The one-line answers that are not from the knowledge base: the plan does not include AI chat, or the
organisation asked too often. Pure: the plan decides by its `ai_chat` flag, never by its name."""

from __future__ import annotations

import math

from assistant_service.domain.answer import Answer
from assistant_service.domain.text import Language
from care_schemas.catalogue import Entitlements, PlanCode, catalogue
from care_schemas.events.chat import ChatOutcome


def entitled(entitlements: Entitlements) -> bool:
    """Whether the organisation's plan includes AI chat."""
    return entitlements.ai_chat


def plan_needed() -> PlanCode | None:
    """The cheapest plan that includes AI chat."""
    cheapest = catalogue().cheapest_with("ai_chat")
    return cheapest.code if cheapest else None


def plan_line(plan: PlanCode, language: Language) -> str:
    """One line naming the cheapest plan that includes AI chat and the plan the organisation is on."""
    needed = plan_needed()
    on = catalogue().get(plan).name
    where = catalogue().get(needed).name if needed else None
    if language is Language.ZH:
        if where is None:
            return f"当前方案（{on}）不包含 AI 智能问答。"
        return f"AI 智能问答包含在 {where} 及以上方案中；本组织当前为 {on} 方案。"
    if where is None:
        return f"AI chat is not included in this organisation's plan ({on})."
    return f"AI chat needs the {where} plan or higher; this organisation is on {on}."


def rate_line(retry_after_s: float, language: Language) -> str:
    """One line saying when the organisation may ask again."""
    seconds = max(1, math.ceil(retry_after_s))
    if language is Language.ZH:
        return f"本组织提问过于频繁，请在 {seconds} 秒后再试。"
    return f"Your organisation has asked too many questions at once; ask again in {seconds} s."


def outcome_of(answer: Answer) -> ChatOutcome:
    """An answer from the knowledge base, or the decline that offers Raise request."""
    return ChatOutcome.ANSWERED if answer.could_help else ChatOutcome.DECLINED
