"""Delivery log for owners; dead letters and re-drive for staff."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from carekit.identity import CurrentIdentity, Role, require
from notify_service.adapters import queue
from notify_service.entrypoints.deps import Deps, deps

router = APIRouter(tags=["delivery log"])
Injected = Annotated[Deps, Depends(deps)]
OPERATORS = (Role.ADMIN, Role.SUPPORT_ENGINEER)


@router.get("/v1/deliveries")
async def deliveries(
    identity: CurrentIdentity,
    d: Injected,
    subscriber_id: str | None = None,
    fingerprint: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Attempts for the organisation's subscribers, newest first: subscriber, alert, attempt, answer, latency."""
    require(identity, Role.ORG_OWNER, Role.PROJECT_OWNER)
    rows = await d.runtime.pool.fetch(
        """
        SELECT id, subscriber_id, channel, fingerprints, notification_ids, attempt, outcome, http_status, detail,
               latency_ms, attempted_at
        FROM delivery_attempts
        WHERE org_id = $1 AND ($2::text IS NULL OR subscriber_id = $2) AND ($3::text IS NULL OR $3 = ANY(fingerprints))
        ORDER BY id DESC LIMIT $4
        """,
        identity.org,
        subscriber_id,
        fingerprint,
        limit,
    )
    return {
        "deliveries": [
            {
                "id": r["id"],
                "subscriber_id": r["subscriber_id"],
                "channel": r["channel"],
                "alerts": r["fingerprints"],
                "notification_ids": r["notification_ids"],
                "attempt": r["attempt"],
                "outcome": r["outcome"],
                "answer": {"status": r["http_status"], "detail": r["detail"]},
                "latency_ms": round(r["latency_ms"], 2),
                "attempted_at": r["attempted_at"].isoformat(),
            }
            for r in rows
        ]
    }


@router.get("/v1/dead-letters")
async def dead_letters(
    identity: CurrentIdentity,
    d: Injected,
    org_id: str | None = None,
    include_redriven: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Staff: notifications that failed for good, with the reason."""
    require(identity, *OPERATORS)
    rows = await d.runtime.pool.fetch(
        """
        SELECT id, notification_id, subscriber_id, org_id, channel, fingerprint, attempts, reason, created_at,
               redriven_at, redriven_by
        FROM dead_letters
        WHERE ($1::text IS NULL OR org_id = $1) AND ($2 OR redriven_at IS NULL)
        ORDER BY id DESC LIMIT $3
        """,
        org_id,
        include_redriven,
        limit,
    )
    return {
        "dead_letters": [
            {
                **{k: r[k] for k in ("id", "notification_id", "subscriber_id", "org_id", "channel", "fingerprint")},
                "attempts": r["attempts"],
                "reason": r["reason"],
                "created_at": r["created_at"].isoformat(),
                "redriven_at": r["redriven_at"].isoformat() if r["redriven_at"] else None,
                "redriven_by": r["redriven_by"],
            }
            for r in rows
        ]
    }


@router.post("/v1/dead-letters/{dead_letter_id}/redrive", status_code=202)
async def redrive(dead_letter_id: int, identity: CurrentIdentity, d: Injected) -> dict[str, Any]:
    """Staff: queue the notification again with a fresh retry window."""
    require(identity, *OPERATORS)
    if not await queue.redrive(d.runtime.pool, dead_letter_id, identity.sub):
        raise HTTPException(404, f"no dead letter {dead_letter_id} waiting for re-drive")
    return {"redriven": dead_letter_id}
