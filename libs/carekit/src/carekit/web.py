"""HTTP pieces every service shares: health, readiness, error bodies without stack traces."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from carekit.errors import TRANSIENT
from carekit.problems import ErrorBody, error_response
from carekit.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str
    stopped: list[str] | None = None


class Readiness(BaseModel):
    status: str
    checks: dict[str, str] | None = None


@router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "a loop stopped"}})
async def healthz(request: Request) -> JSONResponse:
    """Liveness: the process answers and no background loop has died (restart it if this says 503)."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is not None and not runtime.healthy:
        dead = sorted(t.get_name() for t in runtime.tasks if t.done())
        return JSONResponse({"status": "a background loop stopped", "stopped": dead}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}})
async def readyz(request: Request) -> JSONResponse:
    """Readiness: Postgres answers and every background loop is alive."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    checks: dict[str, str] = {}
    if runtime is None or not runtime.started:
        return JSONResponse({"status": "starting"}, status_code=503)
    try:
        await runtime.pool.fetchval("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:  # readiness reports any failure as not ready
        checks["postgres"] = f"down: {type(exc).__name__}"
    checks["background"] = "ok" if runtime.healthy else "a background loop stopped"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, TRANSIENT):
        log.warning("%s %s: a dependency is unavailable: %s", request.method, request.url.path, exc)
        return error_response(
            503, ErrorBody(detail="temporarily unavailable (database or broker); retry shortly"), {"Retry-After": "5"}
        )
    incident = uuid.uuid4().hex[:12]
    log.error("unhandled error %s on %s %s", incident, request.method, request.url.path, exc_info=exc)
    return error_response(
        500, ErrorBody(detail=f"internal error; quote incident {incident} to support", incident=incident)
    )


def install(app: FastAPI) -> None:
    """Add the shared routes and error handling to a service's app."""
    app.include_router(router)
    app.add_exception_handler(Exception, _unhandled)
