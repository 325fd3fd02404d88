"""Refusals and malformed requests become 4xx answers whose message says what to do."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from care_schemas import bounded
from carekit import web
from plan_service.domain.model import Refused

STATUS = {"invalid": 422, "conflict": 409, "not_found": 404}
SEND_JSON = "send a JSON body with Content-Type: application/json"
UNPARSABLE = "There was an error parsing the body"  # FastAPI's words for bodies it cannot even decode


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return JSONResponse({"detail": exc.message}, status_code=STATUS[exc.kind])


def _problem(err: Any) -> str:
    """One validation error as `where: what`, with a hint when the body itself is wrong."""
    loc = [str(p) for p in err["loc"]]
    kind = err["type"]
    if kind == "json_invalid":
        at = loc[1] if len(loc) > 1 else "?"
        why = err.get("ctx", {}).get("error", "decode error")
        return f"body: not valid JSON ({why} at character {at}); {SEND_JSON}"
    where = ".".join(p for p in loc if p != "body") or "body"
    if where == "body" and kind == "missing":
        return f"body: missing; {SEND_JSON}"
    message = bounded.message(err)
    if where == "body" and kind in ("model_attributes_type", "dict_type", "list_type"):
        message += f" ({SEND_JSON})"
    return f"{where}: {message}"


async def _malformed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(err) for err in exc.errors()[:10]]
    message = "malformed request; fix and retry: " + "; ".join(problems)
    return web.SafeJSONResponse({"detail": message, "errors": problems}, status_code=422)


async def _http(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.detail == UNPARSABLE:
        detail = f"malformed request; fix and retry: body: not UTF-8 JSON that can be parsed; {SEND_JSON}"
        return JSONResponse({"detail": detail, "errors": [detail]}, status_code=400)
    return await web.http_error(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(RequestValidationError, _malformed)
    app.add_exception_handler(HTTPException, _http)
