"""Retrieval for a question, its confidence, and the extractive answer (no language model needed)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from assistant_service.domain.conversation import Query, Turn, build_query
from assistant_service.domain.index import Hit, KnowledgeIndex
from assistant_service.domain.text import Language

# Chosen by cross-validation on the evaluation set (services/assistant-service/README.md, "Threshold").
DEFAULT_MIN_CONFIDENCE = 0.256
MAX_QUOTE_CHARS = 600
MAX_SOURCES = 3
# Confidence is halved when the question names nothing in the best article's title or tags: questions outside
# the knowledge base tend to share one incidental word with a passage ("storage" in "BigQuery storage pricing").
UNANCHORED_FACTOR = 0.5
# A second passage joins the answer when it scores at least this share of the best one.
SECOND_PASSAGE_SHARE = 0.6

DECLINE = {
    Language.EN: (
        "I can't answer that from the knowledge base, and I won't guess. "
        "Press Raise request and a support engineer will pick it up."
    ),
    Language.ZH: (
        "抱歉，知识库中没有能回答这个问题的内容，我不会猜测。请点击 Raise request 提交工单，支持工程师会跟进。"
    ),
}
_INTRO = {
    Language.EN: "Here is what the knowledge base says:",
    Language.ZH: "知识库中的相关内容如下：",
}


class Composer(StrEnum):
    EXTRACTIVE = "extractive"
    LLM = "llm"
    # The model was configured but did not answer usably (error, timeout): the extractive answer was given.
    EXTRACTIVE_FALLBACK = "extractive_fallback"


class Source(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    url: str
    quote: str


class Answer(BaseModel):
    """What the asker gets: the text, its sources, a confidence in 0..1 and whether it could help."""

    model_config = ConfigDict(frozen=True)

    answer: str
    sources: tuple[Source, ...] = ()
    confidence: float = Field(ge=0, le=1)
    could_help: bool
    language: Language
    composer: Composer = Composer.EXTRACTIVE


@dataclass(frozen=True, slots=True)
class Retrieval:
    """The passages found for a question (best first) and the confidence that they answer it."""

    query: Query
    hits: tuple[Hit, ...]
    confidence: float

    def answerable(self, min_confidence: float) -> bool:
        return bool(self.hits) and self.confidence >= min_confidence


def retrieve(index: KnowledgeIndex, question: str, earlier: Sequence[Turn] = (), k: int = 8) -> Retrieval:
    """Search the question's language. Confidence: the share of the query's IDF weight that the best passage
    covers, halved when the question names nothing in that article's title or tags."""
    query = build_query(question, earlier)
    hits = tuple(index.search(query.text, query.language, k, context=query.context))
    if not hits:
        return Retrieval(query, hits, 0.0)
    best = hits[0]
    return Retrieval(query, hits, round(best.coverage * (1.0 if best.anchored else UNANCHORED_FACTOR), 4))


def quote(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """The passage as quoted: whitespace collapsed, cut at a sentence end within `limit` characters."""
    text = re.sub(r"[ \t]+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("。"), cut.rfind("\n"))
    return (cut[: end + 1] if end > limit // 2 else cut).rstrip() + " …"


def chosen(retrieval: Retrieval) -> list[Hit]:
    """The passages an answer is built from: the best one, and close seconds from other sections."""
    if not retrieval.hits:
        return []
    best = retrieval.hits[0]
    out = [best]
    for hit in retrieval.hits[1:]:
        if len(out) >= MAX_SOURCES or hit.score < SECOND_PASSAGE_SHARE * best.score:
            break
        if hit.coverage >= best.coverage * SECOND_PASSAGE_SHARE:
            out.append(hit)
    return out


def source_of(hit: Hit) -> Source:
    title = f"{hit.passage.title} - {hit.passage.heading}" if hit.passage.heading else hit.passage.title
    return Source(title=title, url=hit.passage.url, quote=quote(hit.passage.text))


def decline(language: Language, confidence: float = 0.0) -> Answer:
    """The answer when the knowledge base does not cover the question: says so, offers Raise request."""
    return Answer(answer=DECLINE[language], confidence=confidence, could_help=False, language=language)


def extractive_answer(retrieval: Retrieval, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> Answer:
    """The best passages, quoted with their sources; a decline below `min_confidence`."""
    language = retrieval.query.language
    if not retrieval.answerable(min_confidence):
        return decline(language, retrieval.confidence)
    sources = tuple(source_of(h) for h in chosen(retrieval))
    body = "\n\n".join(f"{s.title}\n{s.quote}" for s in sources)
    return Answer(
        answer=f"{_INTRO[language]}\n\n{body}",
        sources=sources,
        confidence=retrieval.confidence,
        could_help=True,
        language=language,
    )
