"""The request-size limit of plan-service (2 MiB: a 10,000-organisation legacy import fits)."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 2 * 1024 * 1024  # a 10,000-organisation legacy import fits; nothing else comes close to it


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
