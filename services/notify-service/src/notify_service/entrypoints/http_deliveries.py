"""Delivery log for owners; dead letters and re-drive for staff."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from care_schemas.bounded import Id, Int64, bounded
from carekit.identity import CurrentIdentity, Role, require
from carekit.problems import responses
from carekit.refusals import NotFound
from notify_service.adapters import delivery_log, queue
from notify_service.domain.delivery_stats import Window, fill
from notify_service.entrypoints.deps import Deps, deps

router = APIRouter(tags=["delivery log"])
Injected = Annotated[Deps, Depends(deps)]
OPERATORS = (Role.ADMIN, Role.SUPPORT_ENGINEER)


class Answer(BaseModel):
    status: int | None
    detail: str | None


class Delivery(BaseModel):
    """One attempt: which subscriber, which alerts (fingerprints), the attempt number, outcome, answer, latency;
    for a notice to the organisation (issue 13) `subscriber_id` is null and `notice` says which one."""

    id: int
    subscriber_id: str | None
    channel: str
    alerts: list[str]
    notification_ids: list[int]
    attempt: int
    outcome: str
    answer: Answer
    latency_ms: float
    attempted_at: datetime
    notice: str | None = Field(default=None, description="the notice (retirement_warning, ticket_reply ...)")
    recipient: str | None = Field(default=None, description="a notice's addresses or chat place")


class Deliveries(BaseModel):
    deliveries: list[Delivery]


class DeadLetter(BaseModel):
    id: int
    notification_id: int
    subscriber_id: str
    org_id: str
    channel: str
    fingerprint: str
    attempts: int
    reason: str
    created_at: datetime
    redriven_at: datetime | None
    redriven_by: str | None


class DeadLetters(BaseModel):
    dead_letters: list[DeadLetter]


class Redriven(BaseModel):
    redriven: int


@router.get("/v1/deliveries")
async def deliveries(
    identity: CurrentIdentity,
    d: Injected,
    subscriber_id: Annotated[Id | None, Query()] = None,
    fingerprint: Annotated[Annotated[str, bounded(128, min_length=1)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    kind: Annotated[Literal["alert", "notice"] | None, Query()] = None,
    after_id: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="only attempts after this id")] = None,
) -> Deliveries:
    """Attempts for the organisation's subscribers, newest first: subscriber, alert, attempt, answer, latency."""
    require(identity, Role.ORG_OWNER, Role.PROJECT_OWNER)
    rows = await delivery_log.attempts(d.runtime.pool, identity.org, subscriber_id, fingerprint, limit, kind, after_id)
    return Deliveries(
        deliveries=[
            Delivery(
                id=r["id"],
                subscriber_id=r["subscriber_id"],
                channel=r["channel"],
                alerts=r["fingerprints"],
                notification_ids=r["notification_ids"],
                attempt=r["attempt"],
                outcome=r["outcome"],
                answer=Answer(status=r["http_status"], detail=r["detail"]),
                latency_ms=round(r["latency_ms"], 2),
                attempted_at=r["attempted_at"],
                notice=r["notice"],
                recipient=r["recipient"],
            )
            for r in rows
        ]
    )


class OutcomeBucket(BaseModel):
    start: datetime
    counts: dict[str, int] = Field(description="attempts by outcome: delivered, retry, dead, cancelled, resplit")


class DeliveryHistogram(BaseModel):
    """Attempts by outcome in equal buckets, oldest first, the last one holding now."""

    since: datetime
    bucket_seconds: int
    buckets: list[OutcomeBucket]


@router.get("/v1/deliveries/histogram")
async def histogram(
    identity: CurrentIdentity,
    d: Injected,
    subscriber_id: Annotated[Id | None, Query()] = None,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
    buckets: Annotated[int, Query(ge=1, le=240)] = 24,
) -> DeliveryHistogram:
    """Owners: the organisation's (or one subscriber's) delivery attempts counted by outcome over the last hours."""
    require(identity, Role.ORG_OWNER, Role.PROJECT_OWNER)
    window = Window.ending_at(datetime.now(UTC), hours, buckets)
    counted = await delivery_log.counts_by_outcome(
        d.runtime.pool, identity.org, subscriber_id, window.since, window.size
    )
    return DeliveryHistogram(
        since=window.since,
        bucket_seconds=int(window.size.total_seconds()),
        buckets=[OutcomeBucket(start=b.start, counts=b.counts) for b in fill(window, counted)],
    )


@router.get("/v1/dead-letters")
async def dead_letters(
    identity: CurrentIdentity,
    d: Injected,
    org_id: Annotated[Id | None, Query()] = None,
    include_redriven: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeadLetters:
    """Staff: notifications that failed for good, with the reason."""
    require(identity, *OPERATORS)
    rows = await delivery_log.dead_letters(d.runtime.pool, org_id, include_redriven, limit)
    return DeadLetters(dead_letters=[DeadLetter.model_validate(dict(r)) for r in rows])


@router.post("/v1/dead-letters/{dead_letter_id}/redrive", status_code=202, responses=responses(404))
async def redrive(dead_letter_id: Int64, identity: CurrentIdentity, d: Injected) -> Redriven:
    """Staff: queue the notification again with a fresh retry window."""
    require(identity, *OPERATORS)
    if not await queue.redrive(d.runtime.pool, dead_letter_id, identity.sub):
        raise NotFound(f"no dead letter {dead_letter_id} waiting for re-drive")
    return Redriven(redriven=dead_letter_id)
