"""Staff: messages of the ticket-updates and chat-answers loops (ticket updates to chat, TAM e-mails, notices, the
assistant's answers) that failed for good or keep failing, beside the dead letters of alert notifications, and
their re-drive."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from care_schemas.bounded import Id, Int64
from carekit.identity import CurrentIdentity, Role, require
from carekit.problems import responses
from carekit.refusals import NotFound
from notify_service.adapters import im_queue
from notify_service.entrypoints.deps import Deps, deps
from notify_service.handlers.delivery.ticket_updates import ANSWERS_LOOP, LOOP

router = APIRouter(prefix="/v1/failed-messages", tags=["delivery log"])
Injected = Annotated[Deps, Depends(deps)]
OPERATORS = (Role.ADMIN, Role.SUPPORT_ENGINEER)


class FailedMessage(BaseModel):
    """A ticket update, TAM e-mail or notice that failed for good (`dead`) or is being retried (`retrying`)."""

    id: int
    event_id: str
    kind: str
    org_id: str
    target: dict[str, Any]
    state: Literal["dead", "retrying"]
    attempts: int
    last_error: str | None
    notice: str | None
    created_at: datetime
    next_attempt_at: datetime | None


class FailedMessages(BaseModel):
    failed_messages: list[FailedMessage]


class MessageRedriven(BaseModel):
    redriven: int
    was: Literal["dead", "retrying"]


@router.get("")
async def failed_messages(
    identity: CurrentIdentity,
    d: Injected,
    org_id: Annotated[Id | None, Query()] = None,
    state: Annotated[Literal["dead", "retrying"] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FailedMessages:
    """Staff: failed ticket updates, TAM e-mails and notices, newest first, with the last error."""
    require(identity, *OPERATORS)
    rows = await im_queue.failed(d.runtime.pool, org_id=org_id, state=state, kind=kind, limit=limit)
    return FailedMessages(
        failed_messages=[
            FailedMessage.model_validate(
                {
                    **dict(r),
                    "state": "dead" if r["state"] == "dead" else "retrying",
                    "next_attempt_at": r["next_attempt_at"] if r["state"] == "pending" else None,
                }
            )
            for r in rows
        ]
    )


@router.post("/{message_id}/redrive", status_code=202, responses=responses(404))
async def redrive(message_id: Int64, identity: CurrentIdentity, d: Injected) -> MessageRedriven:
    """Staff: send it again now with a fresh retry window (as a dead letter is re-driven)."""
    require(identity, *OPERATORS)
    was = await im_queue.redrive(d.runtime.pool, message_id, (LOOP, ANSWERS_LOOP), identity.sub)
    if was is None:
        raise NotFound(f"no failed message {message_id}; list them with GET /v1/failed-messages")
    return MessageRedriven(redriven=message_id, was="dead" if was == "dead" else "retrying")
