"""Refusals and malformed requests become 4xx answers whose message says what to do."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from plan_service.domain.model import Refused

STATUS = {"invalid": 422, "conflict": 409, "not_found": 404}


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return JSONResponse({"detail": exc.message}, status_code=STATUS[exc.kind])


async def _malformed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors()[:10]:
        where = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
        problems.append(f"{where}: {err['msg']}")
    message = "malformed request; fix and retry: " + "; ".join(problems)
    return JSONResponse({"detail": message, "errors": problems}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(RequestValidationError, _malformed)
