"""Request and response models of the HTTP API (bounded at the edge: what validates can be stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from assistant_service.domain.articles import MAX_BODY_CHARS
from assistant_service.domain.text import Language
from care_schemas.bounded import bounded
from care_schemas.events.chat import MAX_QUESTION

ArticleId = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")]
MAX_TAGS = 40


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskIn(In):
    question: Annotated[str, bounded(MAX_QUESTION, min_length=1, strip=True)] = Field(
        description="the question, in English or Chinese"
    )
    conversation_id: Annotated[str, bounded(128, min_length=1)] | None = Field(
        default=None, description="continue an earlier conversation (follow-up questions use its earlier turns)"
    )


class SourceOut(BaseModel):
    title: str
    url: str = Field(description="link to the article's section")
    quote: str = Field(description="the passage the answer quotes or is written from")


class AskOut(BaseModel):
    answer: str
    sources: list[SourceOut]
    confidence: float = Field(ge=0, le=1, description="how much of the question the best passage covers")
    could_help: bool = Field(description="false: the knowledge base does not cover it; raise a request")
    conversation_id: str


class FeedbackOut(BaseModel):
    kind: str = Field(description="helpful, not_helpful or raise_request")
    given_by: str
    given_at: datetime


class TurnOut(BaseModel):
    question_id: str
    answer_id: str
    asked_by: str
    question: str
    answer: str
    sources: list[SourceOut]
    confidence: float
    could_help: bool
    outcome: str = Field(description="answered, declined, not_entitled or rate_limited")
    asked_at: datetime
    feedback: list[FeedbackOut]


class ConversationOut(BaseModel):
    conversation_id: str
    turns: list[TurnOut]


class ArticleIn(In):
    """An article, as fields or as one Markdown document with front matter (`markdown`), not both."""

    markdown: Annotated[str, bounded(MAX_BODY_CHARS + 10_000, min_length=1)] | None = Field(
        default=None,
        description="the whole article: front matter (id, title, language, tags, url optional) and the Markdown body",
    )
    id: ArticleId | None = Field(default=None, description="[a-z0-9-], shared by the translations")
    language: Language | None = None
    title: Annotated[str, bounded(200, min_length=1, strip=True)] | None = None
    body: Annotated[str, bounded(MAX_BODY_CHARS, min_length=1)] | None = Field(
        default=None, description="Markdown; each `##` section is a passage that answers can quote"
    )
    tags: Annotated[list[Annotated[str, bounded(64, min_length=1)]], Field(max_length=MAX_TAGS)] = Field(
        default_factory=list
    )
    url: Annotated[str, bounded(300, min_length=1), Field(pattern=r"^/[\w\-./#]*$")] | None = Field(
        default=None, description="path of the published article; default /docs/support/<id> (/zh/docs/... in Chinese)"
    )


class ArticleSummary(BaseModel):
    id: str
    language: Language
    title: str
    url: str
    tags: list[str]
    origin: str = Field(description="shipped (from the release) or staff (created or changed through the API)")
    revision: int
    updated_at: datetime
    updated_by: str


class ArticleOut(ArticleSummary):
    body: str


class ArticlePage(BaseModel):
    articles: list[ArticleSummary]
    total: int
    next_offset: int | None = Field(description="null on the last page")
