"""HTTP pieces every service shares: health, readiness, metrics, parked records for operators, the request-body
limit, and the one mapping of failures to answers (by `carekit.faults`):

* permanent for this request (does not validate, cannot be stored, too large) -> 4xx naming the field;
* outage (database or broker away) -> 503 with Retry-After;
* anything else (a bug) -> 500 with an incident id in the log, never a stack trace in the answer.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_schemas.bounded import Int64, describe_validation
from carekit import parking
from carekit.faults import Fault, PermanentError, classify, storable
from carekit.identity import CurrentIdentity, Role, require
from carekit.problems import ErrorBody, SafeJSONResponse, error_response, refused_response, responses, status_of
from carekit.refusals import NotFound, Refused
from carekit.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])
OPERATORS = (Role.ADMIN, Role.SUPPORT_ENGINEER)
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
UNSTORABLE_TEXT = "text must be valid Unicode without NUL characters (\\u0000) or lone surrogates"


class LoopView(BaseModel):
    state: str
    restarts: int
    failing: bool
    last_error: str | None
    last_stopped_at: str | None


class Health(BaseModel):
    status: str
    loops: dict[str, LoopView]
    failing: list[str] | None = None


class Readiness(BaseModel):
    status: str
    checks: dict[str, str] | None = None


@router.get(
    "/healthz", response_model=Health, responses={503: {"model": Health, "description": "a loop keeps failing"}}
)
async def healthz(request: Request) -> JSONResponse:
    """Liveness: every background loop, how often it was restarted and why; 503 when one keeps failing."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return JSONResponse({"status": "ok", "loops": {}})
    loops = {name: health.view() for name, health in sorted(runtime.loops.items())}
    if not runtime.healthy:
        failing = sorted(name for name, health in runtime.loops.items() if health.failing)
        return SafeJSONResponse(
            {"status": "a background loop keeps failing", "failing": failing, "loops": loops}, status_code=503
        )
    return SafeJSONResponse({"status": "ok", "loops": loops})


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}})
async def readyz(request: Request) -> JSONResponse:
    """Readiness: Postgres answers and no background loop keeps failing."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    checks: dict[str, str] = {}
    if runtime is None or not runtime.started:
        return JSONResponse({"status": "starting"}, status_code=503)
    try:
        await runtime.pool.fetchval("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:  # readiness reports any failure as not ready
        checks["postgres"] = f"down: {type(exc).__name__}"
    checks["background"] = "ok" if runtime.healthy else "a background loop keeps failing"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class ParkedRecord(BaseModel):
    """A record a background loop isolated, with the reason."""

    model_config = ConfigDict(extra="allow")

    id: int
    loop: str
    key: str
    reason: str


class ParkedList(BaseModel):
    parked: list[ParkedRecord]


class ParkedRedriven(BaseModel):
    redriven: int
    loop: str


@router.get("/v1/ops/parked")
async def list_parked(
    request: Request,
    identity: CurrentIdentity,
    loop: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9-]+$")] = None,
    include_redriven: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ParkedList:
    """Staff: records a background loop isolated (an outbox row Kafka refuses, a ticket whose breach cannot be
    recorded...), with the reason, newest first."""
    require(identity, *OPERATORS)
    runtime: Runtime = request.app.state.runtime
    found = await parking.parked(runtime.pool, loop=loop, include_redriven=include_redriven, limit=limit)
    return ParkedList.model_validate({"parked": found})


@router.post("/v1/ops/parked/{parked_id}/redrive", status_code=202, responses=responses(404))
async def redrive_parked(parked_id: Int64, request: Request, identity: CurrentIdentity) -> ParkedRedriven:
    """Staff: let the loop try the record again (after the cause is fixed); it is parked again if it still fails."""
    require(identity, *OPERATORS)
    runtime: Runtime = request.app.state.runtime
    loop = await parking.redrive(runtime.pool, parked_id, identity.sub)
    if loop is None:
        raise NotFound(f"no parked record {parked_id} waiting for re-drive")
    return ParkedRedriven(redriven=parked_id, loop=loop)


def _permanent(exc: BaseException) -> tuple[int, str]:
    """Status and message for a request that can never succeed as sent."""
    if isinstance(exc, Refused):
        return status_of(exc), str(exc)
    if isinstance(exc, PermanentError):
        return 422, str(exc)
    if isinstance(exc, ValidationError):
        return 422, describe_validation(exc)
    if isinstance(exc, UnicodeError | asyncpg.CharacterNotInRepertoireError | asyncpg.UntranslatableCharacterError):
        return 422, UNSTORABLE_TEXT
    if isinstance(exc, asyncpg.UniqueViolationError):
        return 409, f"conflicts with what is stored ({exc.constraint_name or 'unique'})"
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return 422, f"a value breaks the rule {exc.constraint_name or type(exc).__name__}"
    if isinstance(exc, asyncpg.exceptions.ProgramLimitExceededError):
        return 413, "a value is too large to store"
    if isinstance(exc, KafkaError):
        return 413, "too large (or invalid) to publish; send less"
    return 422, f"a value cannot be stored: {exc}"


def answer(request: Request, exc: BaseException) -> JSONResponse:
    """The one mapping of a failure to an HTTP answer."""
    fault = classify(exc)
    if fault is Fault.OUTAGE:
        log.warning("%s %s: a dependency is unavailable: %s", request.method, request.url.path, exc)
        return error_response(
            503, ErrorBody(detail="temporarily unavailable (database or broker); retry shortly"), {"Retry-After": "5"}
        )
    if fault is Fault.PERMANENT:
        status, detail = _permanent(exc)
        log.info("%s %s: refused (%d): %s", request.method, request.url.path, status, storable(detail)[:300])
        if isinstance(exc, Refused):
            return refused_response(exc)
        return error_response(status, ErrorBody(detail=storable(detail)))
    incident = uuid.uuid4().hex[:12]
    log.error("unhandled error %s on %s %s", incident, request.method, request.url.path, exc_info=exc)
    return error_response(
        500, ErrorBody(detail=f"internal error; quote incident {incident} to support", incident=incident)
    )


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    return answer(request, exc)


# Exception classes a route may meet that `classify` knows: their answers go through Starlette's
# ExceptionMiddleware (answered, not re-raised); anything else reaches the catch-all below.
KNOWN = (
    PermanentError,
    ValidationError,
    UnicodeError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    KafkaError,
    OSError,
    TimeoutError,
)


class BodyTooLarge(StarletteHTTPException):
    """Raised while a request body streams past the limit; an HTTPException so that FastAPI passes it on."""

    def __init__(self, limit: int, hint: str) -> None:
        detail = f"request body is larger than {limit // 1024} KiB; send less" + (f" ({hint})" if hint else "")
        super().__init__(413, detail)


class BodyLimit:
    """413 for request bodies over `limit` bytes: by Content-Length before anything is read, or as soon as a body
    without one streams past it (it is never read whole).

    Not FastAPI's `max_body_size`: Starlette's limiter answers a plain "Content Too Large" in place of any answer,
    where ours says what the limit is and what to do.
    """

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY_BYTES, hint: str = "") -> None:
        self.app, self.limit, self.hint = app, limit, hint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(BodyTooLarge(self.limit, self.hint), send)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit, self.hint)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyTooLarge as exc:  # read outside a route (a middleware): answered here
            if not started:
                await self._refuse(exc, send)

    @staticmethod
    async def _refuse(exc: BodyTooLarge, send: Send) -> None:
        await error_response(413, ErrorBody(detail=exc.detail))({"type": "http"}, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def install(app: FastAPI, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, body_hint: str = "") -> None:
    """Add the shared routes, the request-body limit and the failure mapping to a service's app.

    `max_body_bytes` comes from the service's settings (`HTTP_MAX_BODY_BYTES`); `body_hint` says what to do instead.
    """
    app.include_router(router)
    app.add_middleware(BodyLimit, limit=max_body_bytes, hint=body_hint)
    for cls in KNOWN:
        app.add_exception_handler(cls, _answer)
    app.add_exception_handler(Exception, _answer)
