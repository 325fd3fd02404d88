"""Refusals and malformed requests become 4xx answers whose message says what to do."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plan_service.domain.model import Refused

STATUS = {"invalid": 422, "conflict": 409, "not_found": 404}
MAX_BODY_BYTES = 2 * 1024 * 1024  # a 10,000-organisation legacy import fits; nothing else comes close to it
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
    message = str(err["msg"]).removeprefix("Value error, ")
    if where == "body" and kind in ("model_attributes_type", "dict_type", "list_type"):
        message += f" ({SEND_JSON})"
    return f"{where}: {message}"


async def _malformed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(err) for err in exc.errors()[:10]]
    message = "malformed request; fix and retry: " + "; ".join(problems)
    return JSONResponse({"detail": message, "errors": problems}, status_code=422)


async def _http(request: Request, exc: Exception) -> Any:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.detail == UNPARSABLE:
        detail = f"malformed request; fix and retry: body: not UTF-8 JSON that can be parsed; {SEND_JSON}"
        return JSONResponse({"detail": detail, "errors": [detail]}, status_code=400)
    return await http_exception_handler(request, exc)


class TooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            413,
            f"request body is larger than {MAX_BODY_BYTES // 1024} KiB; send less"
            " (split a large legacy import into several calls)",
        )


class BodyLimit:
    """413 for bodies over MAX_BODY_BYTES: by Content-Length before reading, or while a chunked body streams in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            too_large = TooLarge()
            await JSONResponse({"detail": too_large.detail}, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise TooLarge  # an HTTPException: FastAPI passes it on and the handlers answer 413
            return message

        await self.app(scope, limited, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(RequestValidationError, _malformed)
    app.add_exception_handler(HTTPException, _http)
    app.add_middleware(BodyLimit)
