"""Ask the assistant over HTTP (the console), and read a conversation with its feedback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from assistant_service.entrypoints.common import AppDeps
from assistant_service.entrypoints.views import AskIn, AskOut, ConversationOut, FeedbackOut, SourceOut, TurnOut
from assistant_service.handlers import asking
from care_schemas.bounded import Id
from carekit.identity import CurrentIdentity
from carekit.problems import responses

router = APIRouter(prefix="/v1/assistant", tags=["assistant"])
ConversationId = Annotated[Id, Path()]


@router.post("/ask", responses=responses(404, 429))
async def ask(body: AskIn, identity: CurrentIdentity, deps: AppDeps) -> AskOut:
    """Answer from the knowledge base, with sources; `could_help: false` means raise a request. Any role of an
    organisation whose plan includes AI chat (403 names the plan that does); 429 with Retry-After past the
    organisation's rate."""
    reply = await asking.ask(deps, identity, body.question, body.conversation_id)
    a = reply.answer
    return AskOut(
        answer=a.answer,
        sources=[SourceOut(title=s.title, url=s.url, quote=s.quote) for s in a.sources],
        confidence=a.confidence,
        could_help=a.could_help,
        conversation_id=reply.conversation_id,
    )


@router.get("/conversations/{conversation_id}", responses=responses(404))
async def conversation(conversation_id: ConversationId, identity: CurrentIdentity, deps: AppDeps) -> ConversationOut:
    """The conversation's questions and answers, oldest first, with the feedback on each answer."""
    turns = await asking.conversation(deps, identity, conversation_id)
    return ConversationOut(
        conversation_id=conversation_id,
        turns=[
            TurnOut(
                question_id=t.question_id,
                answer_id=t.answer_id,
                asked_by=t.asked_by,
                question=t.question,
                answer=t.answer,
                sources=[SourceOut.model_validate(s) for s in t.sources],
                confidence=t.confidence,
                could_help=t.could_help,
                outcome=t.outcome,
                asked_at=t.asked_at,
                feedback=[FeedbackOut.model_validate(f) for f in t.feedback],
            )
            for t in turns
        ],
    )
