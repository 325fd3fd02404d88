"""Prometheus Alertmanager HTTP API v2 (the parts Prometheus and amtool use), with Alertmanager's JSON shapes,
within the caller's organisation (bearer token: Prometheus' `authorization`, amtool's `--http.config.file`).

Errors Alertmanager defines are answered in its shape (400 and 404: a JSON string); a body or parameter that does
not fit the documented schema is the kit's 422 (Alertmanager's own server answers 422 there too), a missing token 401.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel

from care_schemas.bounded import Annotations, Labels, LabelValue, Timestamp, bounded
from carekit.identity import CurrentIdentity, Role, require
from carekit.problems import SafeJSONResponse, responses
from carekit.refusals import Invalid, NotFound
from notify_service.domain.am_api import AlertQuery
from notify_service.domain.matchers import Matcher, MatcherError, anchored, parse_matcher
from notify_service.domain.silences import SilenceState
from notify_service.entrypoints.deps import Deps, deps
from notify_service.handlers import alertmanager_api as am


class AlertmanagerRoute(APIRoute):
    """Refusals of this API answer in Alertmanager's shape: 400 (invalid) and 404 (no such silence), a JSON string."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Invalid as exc:
                return am_error(400, exc.message)
            except NotFound as exc:
                return am_error(404, exc.message)

        return answer


router = APIRouter(prefix="/api/v2", tags=["alertmanager api v2"], route_class=AlertmanagerRoute)
Injected = Annotated[Deps, Depends(deps)]
Filter = Annotated[list[Annotated[str, bounded(1024)]], Query(max_length=64, description='matchers, e.g. a="b"')]
Flag = Annotated[bool, Query()]
SILENCERS = (Role.ORG_OWNER, Role.PROJECT_OWNER, Role.MEMBER)


class AmError(RootModel[str]):
    """Alertmanager's error answer: a JSON string saying what is wrong."""


class PostableAlert(BaseModel):
    """Alertmanager's `postableAlert`. `labels.project_id` and `labels.alertname` are required (subscribers are
    per project); `labels.org_id` defaults to the caller's organisation."""

    model_config = ConfigDict(extra="ignore")

    labels: Labels
    annotations: Annotations = Field(default_factory=dict)
    startsAt: AwareDatetime | None = None
    endsAt: AwareDatetime | None = None
    generatorURL: Annotated[str, bounded(2048)] = ""


class AlertStatusView(BaseModel):
    state: Literal["unprocessed", "active", "suppressed"]
    silencedBy: list[str]
    inhibitedBy: list[str]
    mutedBy: list[str]


class ReceiverReference(BaseModel):
    name: str


class GettableAlert(BaseModel):
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: str
    endsAt: str
    updatedAt: str
    generatorURL: str
    fingerprint: str
    receivers: list[ReceiverReference]
    status: AlertStatusView


class AlertGroup(BaseModel):
    labels: dict[str, str]
    routeLabels: dict[str, str]
    receiver: ReceiverReference
    alerts: list[GettableAlert]


class ReceiverView(BaseModel):
    name: str
    labels: dict[str, str]


class ClusterStatus(BaseModel):
    name: str
    status: Literal["ready", "settling", "disabled"]
    peers: list[dict[str, str]]


class VersionInfo(BaseModel):
    version: str
    revision: str
    branch: str
    buildUser: str
    buildDate: str
    goVersion: str


class AlertmanagerConfig(BaseModel):
    original: str


class AlertmanagerStatus(BaseModel):
    cluster: ClusterStatus
    versionInfo: VersionInfo
    config: AlertmanagerConfig
    uptime: str


class AmMatcher(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, bounded(128, min_length=1)]
    value: LabelValue
    isRegex: bool
    isEqual: bool = True


class PostableSilence(BaseModel):
    """Alertmanager's `postableSilence`: with an `id`, an update of that silence."""

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, bounded(64)] | None = None
    matchers: Annotated[list[AmMatcher], Field(min_length=1, max_length=64)]
    startsAt: Timestamp
    endsAt: Timestamp
    createdBy: Annotated[str, bounded(256)]
    comment: Annotated[str, bounded(4096)]
    annotations: Labels | None = None


class SilenceStatus(BaseModel):
    state: Literal["expired", "active", "pending"]


class GettableSilence(BaseModel):
    id: str
    status: SilenceStatus
    updatedAt: str
    matchers: list[AmMatcher]
    startsAt: str
    endsAt: str
    createdBy: str
    comment: str
    annotations: dict[str, str]


class PostedSilence(BaseModel):
    silenceID: str


BAD: dict[int | str, dict[str, Any]] = {
    400: {"model": AmError, "description": "Bad request (Alertmanager's error string)"}
}
MISSING: dict[int | str, dict[str, Any]] = {
    404: {"model": AmError, "description": "A silence with the specified ID was not found"}
}


def am_error(status: int, message: str) -> JSONResponse:
    return SafeJSONResponse(message, status_code=status)


def _matchers(texts: list[str], what: str = "") -> list[Matcher]:
    try:
        return [parse_matcher(t) for t in texts]
    except MatcherError as exc:
        raise Invalid(f"{what}{exc}") from None


def _query(
    filters: list[str], active: bool, silenced: bool, inhibited: bool, unprocessed: bool, receiver: str | None,
    receiver_matchers: list[str],
) -> AlertQuery:  # fmt: skip
    try:
        pattern = anchored(receiver) if receiver is not None else None
    except MatcherError as exc:
        raise Invalid(f"failed to parse receiver param: {exc}") from None
    return AlertQuery(
        filters=_matchers(filters),
        active=active,
        silenced=silenced,
        inhibited=inhibited,
        unprocessed=unprocessed,
        receiver=pattern,
        receiver_matchers=_matchers(receiver_matchers, "failed to parse receiver_matchers param: "),
    )


Receiver = Annotated[str | None, Query(max_length=1024, pattern=r"^[^\x00]*$", description="a regex of receivers")]
SilenceId = Annotated[str, bounded(64, min_length=1)]


@router.get("/status", response_model=AlertmanagerStatus)
async def get_status(identity: CurrentIdentity, d: Injected) -> Response:
    """Alertmanager's status: the API version followed, the organisation's routing as configuration, uptime."""
    return SafeJSONResponse(await am.status(d.runtime.pool, identity.org, d.ctx.settings, d.started))


@router.get("/receivers", response_model=list[ReceiverView], responses=BAD)
async def get_receivers(identity: CurrentIdentity, d: Injected, receiver_matchers: Filter = []) -> Response:  # noqa: B006
    """The organisation's subscribers as receivers (name; labels type, project_id, cluster_id, subscriber_id)."""
    matchers = _matchers(receiver_matchers, "failed to parse receiver_matchers param: ")
    return SafeJSONResponse(await am.receivers(d.runtime.pool, identity.org, matchers))


@router.get("/alerts", response_model=list[GettableAlert], responses=BAD)
async def get_alerts(
    identity: CurrentIdentity,
    d: Injected,
    active: Flag = True,
    silenced: Flag = True,
    inhibited: Flag = True,
    unprocessed: Flag = True,
    filter: Filter = [],  # noqa: B006  (Alertmanager's parameter name)
    receiver: Receiver = None,
    receiver_matchers: Filter = [],  # noqa: B006
) -> Response:
    """The organisation's firing alerts with their receivers and whether a silence or window mutes them."""
    query = _query(filter, active, silenced, inhibited, unprocessed, receiver, receiver_matchers)
    return SafeJSONResponse(await am.list_alerts(d.runtime.pool, identity.org, query))


@router.post("/alerts", response_class=Response, responses={200: {"description": "Create alerts response"}, **BAD})
async def post_alerts(
    identity: CurrentIdentity, d: Injected, alerts: Annotated[list[PostableAlert], Body(max_length=1000)]
) -> Response:
    """Prometheus' alerts: each taken or refused on its own (a re-sent firing alert is the same alert, not a new
    notification); 400 names the refused ones after the others were taken, as Alertmanager does."""
    posted = [a.model_dump() for a in alerts]
    refused = await am.post_alerts(d.intake, identity, posted)
    if refused:
        return am_error(400, "; ".join(refused)[:4000])
    return Response(status_code=200)


@router.get("/alerts/groups", response_model=list[AlertGroup], responses=BAD)
async def get_alert_groups(
    identity: CurrentIdentity,
    d: Injected,
    active: Flag = True,
    silenced: Flag = True,
    inhibited: Flag = True,
    muted: Flag = True,
    filter: Filter = [],  # noqa: B006
    receiver: Receiver = None,
    receiver_matchers: Filter = [],  # noqa: B006
) -> Response:
    """Alerts grouped as notify-service groups them: per receiver (subscriber) and cluster."""
    query = _query(filter, active, silenced, inhibited, True, receiver, receiver_matchers)
    return SafeJSONResponse(await am.alert_groups(d.runtime.pool, identity.org, query, muted))


@router.get("/silences", response_model=list[GettableSilence], responses=BAD)
async def get_silences(
    identity: CurrentIdentity,
    d: Injected,
    filter: Filter = [],  # noqa: B006
    active: Flag = True,
    expired: Flag = True,
    pending: Flag = True,
) -> Response:
    """The organisation's silences: active first (next to end first), then pending, then expired."""
    wanted = ((SilenceState.ACTIVE, active), (SilenceState.EXPIRED, expired), (SilenceState.PENDING, pending))
    states = {state for state, keep in wanted if keep}
    return SafeJSONResponse(await am.list_silences(d.runtime.pool, identity.org, _matchers(filter), states))


@router.post("/silences", response_model=PostedSilence, responses={**BAD, **MISSING})
async def post_silence(identity: CurrentIdentity, d: Injected, silence: PostableSilence) -> Response:
    """Create a silence, or update one (`id`): what it matches is held back at once, in every instance."""
    require(identity, *SILENCERS)
    silence_id = await am.post_silence(d.runtime.pool, identity, silence.model_dump())
    return SafeJSONResponse({"silenceID": silence_id})


def _known(silence_id: str) -> str:
    try:
        return str(uuid.UUID(silence_id))
    except ValueError:
        raise NotFound(f"silence {silence_id} not found") from None


@router.get("/silence/{silenceID}", response_model=GettableSilence, responses=MISSING)
async def get_silence(identity: CurrentIdentity, d: Injected, silenceID: SilenceId) -> Response:
    return SafeJSONResponse(await am.get_silence(d.runtime.pool, identity.org, _known(silenceID)))


@router.delete(
    "/silence/{silenceID}", response_class=Response, responses={200: {"description": "Silence expired"}, **MISSING}
)
async def delete_silence(identity: CurrentIdentity, d: Injected, silenceID: SilenceId) -> Response:
    """Expire the silence now: what it held back and still fires is notified at once."""
    require(identity, *SILENCERS)
    await am.expire_silence(d.runtime.pool, identity.org, _known(silenceID))
    return Response(status_code=200)


router.responses.update(responses(403))
