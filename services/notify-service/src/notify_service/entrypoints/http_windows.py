"""Recurring maintenance windows (native API): an RFC 5545 RRULE in an IANA time zone, a duration and matchers.
While a window is open, notifications of the alerts it matches are held back; when it closes, what still fires
is notified at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, NaiveDatetime

from care_schemas.bounded import bounded
from carekit.identity import CurrentIdentity, Role, require
from carekit.problems import responses
from notify_service.entrypoints.deps import Deps, deps
from notify_service.handlers import windows

router = APIRouter(prefix="/v1/maintenance-windows", tags=["maintenance windows"])
Injected = Annotated[Deps, Depends(deps)]
OWNERS = (Role.ORG_OWNER, Role.PROJECT_OWNER)
WindowId = Annotated[str, bounded(64, min_length=1)]


class WindowDraft(BaseModel):
    """`rrule`: one RFC 5545 RRULE value (FREQ=WEEKLY;BYDAY=SU); `starts`: the first occurrence's wall-clock time in
    `timezone` (no offset); `duration`: ISO 8601 (PT2H, P1D); `matchers`: Alertmanager matchers, all must hold."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, bounded(128, min_length=1)]
    rrule: Annotated[str, bounded(512, min_length=1)] = Field(examples=["FREQ=WEEKLY;BYDAY=SU"])
    starts: NaiveDatetime = Field(examples=["2026-01-04T02:00:00"])
    timezone: Annotated[str, bounded(64, min_length=1)] = Field(examples=["Asia/Tokyo"])
    duration: Annotated[str, bounded(32, min_length=2)] = Field(examples=["PT2H"])
    matchers: Annotated[list[Annotated[str, bounded(1200, min_length=1)]], Field(min_length=1, max_length=32)] = Field(
        examples=[['cluster_id="cl-1"', 'severity=~"warning|info"']]
    )
    comment: Annotated[str, bounded(1024)] = ""


class Span(BaseModel):
    starts_at: str
    ends_at: str
    local: str


class WindowView(BaseModel):
    id: str
    name: str
    rrule: str
    starts: str
    timezone: str
    duration: str
    matchers: list[str]
    comment: str
    created_by: str
    created_at: str
    updated_at: str
    open: bool = Field(description="open now: it holds back what it matches")
    current: Span | None
    upcoming: list[Span] = Field(description="the next occurrences (UTC, and in the window's zone)")


class WindowList(BaseModel):
    windows: list[WindowView]


@router.post("", status_code=201, responses=responses(409))
async def create(draft: WindowDraft, identity: CurrentIdentity, d: Injected) -> WindowView:
    """Owners: a new window; it holds back matching alerts' notifications whenever it is open."""
    require(identity, *OWNERS)
    window_id = await windows.save(d.runtime.pool, identity.org, identity.sub, draft.model_dump())
    return WindowView.model_validate(await windows.one(d.runtime.pool, identity.org, window_id))


@router.get("")
async def listing(identity: CurrentIdentity, d: Injected) -> WindowList:
    """The organisation's windows, each with whether it is open and its next occurrences."""
    return WindowList.model_validate({"windows": await windows.every(d.runtime.pool, identity.org)})


@router.get("/{window_id}", responses=responses(404))
async def read(window_id: WindowId, identity: CurrentIdentity, d: Injected) -> WindowView:
    return WindowView.model_validate(await windows.one(d.runtime.pool, identity.org, window_id))


@router.put("/{window_id}", responses=responses(404, 409))
async def replace(window_id: WindowId, draft: WindowDraft, identity: CurrentIdentity, d: Injected) -> WindowView:
    """Owners: replace the window; what it no longer mutes is released at once."""
    require(identity, *OWNERS)
    await windows.save(d.runtime.pool, identity.org, identity.sub, draft.model_dump(), window_id)
    return WindowView.model_validate(await windows.one(d.runtime.pool, identity.org, window_id))


@router.delete("/{window_id}", status_code=204, response_class=Response, responses=responses(404))
async def delete(window_id: WindowId, identity: CurrentIdentity, d: Injected) -> Response:
    """Owners: delete the window; what it held back and still fires is notified at once."""
    require(identity, *OWNERS)
    await windows.remove(d.runtime.pool, identity.org, window_id)
    return Response(status_code=204)


router.responses.update(responses(403))
