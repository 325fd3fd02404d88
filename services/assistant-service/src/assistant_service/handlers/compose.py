"""Composing an answer: retrieval, then the model when one is configured, else (or when it fails) the passages."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from assistant_service.adapters.llm import ChatCompletionsClient, LlmError
from assistant_service.domain.answer import (
    DEFAULT_MIN_CONFIDENCE,
    Answer,
    Composer,
    decline,
    extractive_answer,
    retrieve,
)
from assistant_service.domain.conversation import Turn
from assistant_service.domain.index import KnowledgeIndex
from assistant_service.domain.prompt import answer_from_reply, build_messages

log = logging.getLogger(__name__)


class Assistant:
    """Retrieval, then the model's answer when one is configured, else (or when it fails) the extractive one."""

    def __init__(
        self,
        index: KnowledgeIndex,
        llm: ChatCompletionsClient | None = None,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    ) -> None:
        self.index = index
        self.llm = llm
        self.min_confidence = min_confidence

    async def ask(self, question: str, earlier: Sequence[Turn] = ()) -> Answer:
        """An answer grounded in the knowledge base, or a decline that offers Raise request."""
        retrieval = retrieve(self.index, question, earlier)
        if not retrieval.answerable(self.min_confidence):
            return decline(retrieval.query.language, retrieval.confidence)
        if self.llm is None:
            return extractive_answer(retrieval, self.min_confidence)
        try:
            reply = await self.llm.complete(build_messages(question, earlier, retrieval))
        except LlmError as exc:
            log.warning("language model unavailable, answering from the passages: %s", exc)
            fallback = extractive_answer(retrieval, self.min_confidence)
            return fallback.model_copy(update={"composer": Composer.EXTRACTIVE_FALLBACK})
        return answer_from_reply(reply, retrieval)
