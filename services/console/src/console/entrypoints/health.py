"""/healthz, /readyz and /metrics, as every service has them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok", "loops": {}})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready once the HTTP session to the services is open (the console keeps no state of its own)."""
    ready = getattr(request.app.state, "apis", None) is not None
    return JSONResponse({"status": "ready" if ready else "starting"}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
