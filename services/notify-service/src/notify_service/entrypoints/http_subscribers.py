"""Subscribers API: owners create, list, read, update and delete their organisation's subscribers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from care_schemas.bounded import NO_NUL, Id, bounded
from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import AlertSeverity
from carekit.identity import CurrentIdentity, Identity, Role, require
from carekit.problems import responses
from carekit.refusals import NotFound
from notify_service import handlers
from notify_service.adapters import subscribers
from notify_service.domain.subscribers import masked
from notify_service.entrypoints.deps import Deps, deps

router = APIRouter(prefix="/v1/subscribers", tags=["subscribers"], responses=responses(404))
OWNERS = (Role.ORG_OWNER, Role.PROJECT_OWNER)
Injected = Annotated[Deps, Depends(deps)]


Name = Annotated[str, bounded(100, min_length=1)]
Rules = Annotated[list[Annotated[str, bounded(255, min_length=1)]], Field(max_length=100)]
Severities = Annotated[list[AlertSeverity], Field(max_length=3)]
# each channel's own model checks the values (domain/subscribers.py); the map itself is bounded here
Config = Annotated[
    dict[Annotated[str, bounded(64, min_length=1)], Any],
    Field(max_length=8),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": 8,
            "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": NO_NUL},
            "additionalProperties": {"type": "string", "maxLength": 512, "pattern": NO_NUL},
        }
    ),
]
SubscriberId = Annotated[Id, Path()]
GroupBy = Annotated[
    list[Annotated[str, bounded(128, min_length=1)]],
    Field(
        max_length=20,
        description="Alertmanager's group_by: label names whose values make a group (default: cluster_id); "
        "['...'] sends every alert alone, [] puts all of them in one group",
    ),
]
MaxAlerts = Annotated[int, Field(ge=1, le=1000, description="most alerts in one message (default: the channel's)")]


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ChannelType
    name: Name
    project_id: Id
    cluster_id: Annotated[str, bounded(128)] | None = None
    severities: Severities | None = None
    rules: Rules | None = None
    config: Config
    group_by: GroupBy | None = None
    max_alerts: MaxAlerts | None = None


class SubscriberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    project_id: Id | None = None
    cluster_id: Annotated[str, bounded(128)] | None = None
    severities: Severities | None = None
    rules: Rules | None = None
    config: Config | None = None
    group_by: GroupBy | None = None
    max_alerts: MaxAlerts | None = None


def _owner(identity: Identity) -> Identity:
    require(identity, *OWNERS)
    return identity


class SubscriberView(BaseModel):
    """A subscriber as owners see it: secrets masked, `state` active or suspended with the reason."""

    id: str
    org_id: str
    project_id: str
    cluster_id: str | None
    type: ChannelType
    name: str
    severities: list[str] | None
    rules: list[str] | None
    config: dict[str, Any]
    state: Literal["active", "suspended"]
    state_reason: str | None
    group_by: list[str] | None = None
    max_alerts: int | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: subscribers.Subscriber) -> SubscriberView:
        """What the API shows: secrets masked."""
        return cls.model_validate(replace(s, config=masked(s.config)), from_attributes=True)


class SubscriberList(BaseModel):
    subscribers: list[SubscriberView]


@router.post("", status_code=201)
async def create(body: SubscriberIn, identity: CurrentIdentity, d: Injected) -> SubscriberView:
    """Save a subscriber after its test message is accepted (webhook: dryRun true)."""
    _owner(identity)
    draft = handlers.Draft(
        org_id=identity.org,
        project_id=body.project_id,
        cluster_id=body.cluster_id,
        type=body.type,
        name=body.name,
        severities=[s.value for s in body.severities] if body.severities else None,
        rules=body.rules or None,
        config=body.config,
        group_by=body.group_by,
        max_alerts=body.max_alerts,
    )
    return SubscriberView.of(await handlers.create_subscriber(d.runtime.pool, d.box, d.ctx, draft, identity.sub))


@router.get("")
async def list_all(
    identity: CurrentIdentity, d: Injected, project_id: Annotated[Id | None, Query()] = None
) -> SubscriberList:
    _owner(identity)
    found = await subscribers.list_for(d.runtime.pool, d.box, identity.org, project_id)
    return SubscriberList(subscribers=[SubscriberView.of(s) for s in found])


async def _one(d: Deps, identity: Identity, subscriber_id: str) -> subscribers.Subscriber:
    found = await subscribers.get(d.runtime.pool, d.box, identity.org, subscriber_id)
    if found is None:
        raise NotFound(f"no subscriber {subscriber_id} in organisation {identity.org}")
    return found


@router.get("/{subscriber_id}")
async def read(subscriber_id: SubscriberId, identity: CurrentIdentity, d: Injected) -> SubscriberView:
    _owner(identity)
    return SubscriberView.of(await _one(d, identity, subscriber_id))


@router.patch("/{subscriber_id}")
async def patch(
    subscriber_id: SubscriberId, body: SubscriberPatch, identity: CurrentIdentity, d: Injected
) -> SubscriberView:
    """Change a subscriber; a changed configuration must pass a new test message."""
    _owner(identity)
    current = await _one(d, identity, subscriber_id)
    changes = body.model_dump(exclude_unset=True, mode="json")
    return SubscriberView.of(await handlers.update_subscriber(d.runtime.pool, d.box, d.ctx, current, changes))


@router.delete("/{subscriber_id}", status_code=204)
async def delete(subscriber_id: SubscriberId, identity: CurrentIdentity, d: Injected) -> Response:
    _owner(identity)
    if not await subscribers.delete(d.runtime.pool, identity.org, subscriber_id):
        raise NotFound(f"no subscriber {subscriber_id} in organisation {identity.org}")
    return Response(status_code=204)
