"""Shared HTTP pieces: dependencies, error mapping, the request-size limit."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_schemas.events.ticket import AuthorKind
from carekit.identity import CurrentIdentity, Role
from ticket_service.domain.errors import Forbidden, NotConfigured
from ticket_service.domain.limits import MAX_BODY_BYTES
from ticket_service.domain.model import Author
from ticket_service.handlers import Deps

ENGINEER_ROLES = frozenset({Role.SUPPORT_ENGINEER, Role.ADMIN})
CUSTOMER_ROLES = frozenset({Role.ORG_OWNER, Role.BILLING_MANAGER, Role.PROJECT_OWNER, Role.MEMBER})


def get_deps(request: Request) -> Deps:
    deps: Deps | None = getattr(request.app.state, "deps", None)
    if deps is None:
        raise NotConfigured("ticket-service is starting; retry shortly")
    return deps


AppDeps = Annotated[Deps, Depends(get_deps)]


def as_object(value: object) -> dict[str, Any]:
    """A JSON object from a chat payload, or {} when the payload has another shape there (never a 500)."""
    return value if isinstance(value, dict) else {}


def as_text(value: object) -> str | None:
    """A non-empty string from a chat payload, or None."""
    return value if isinstance(value, str) and value else None


def author_of(identity: CurrentIdentity) -> Author:
    """Engineers (support_engineer, admin) see every organisation; customers only their own."""
    if identity.role in ENGINEER_ROLES:
        return Author(sub=identity.sub, kind=AuthorKind.ENGINEER, org_id=None)
    if identity.role in CUSTOMER_ROLES:
        return Author(sub=identity.sub, kind=AuthorKind.CUSTOMER, org_id=identity.org)
    raise Forbidden(f"role {identity.role.value} does not work on tickets; support engineers and customers do")


CurrentAuthor = Annotated[Author, Depends(author_of)]


def require_engineer(author: CurrentAuthor) -> Author:
    if not author.is_engineer:
        raise Forbidden("only support engineers and admins manage this")
    return author


Engineer = Annotated[Author, Depends(require_engineer)]


async def _unstorable_text(_request: Request, _exc: Exception) -> JSONResponse:
    """NUL characters and lone surrogates are valid JSON but not storable text: the caller's input, not our fault."""
    return JSONResponse(
        {"detail": "text must be valid UTF-8 without NUL characters (\\u0000) or lone surrogates"}, status_code=422
    )


class BodyLimit:
    """Refuse request bodies over MAX_BODY_BYTES with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._too_large(send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body is larger than {self.limit // 1024} KiB; send less"}, status_code=413
        )
        await response({"type": "http"}, _empty_receive, send)


class _TooLarge(Exception):
    pass


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def install(app: FastAPI) -> None:
    app.add_exception_handler(asyncpg.CharacterNotInRepertoireError, _unstorable_text)
    app.add_exception_handler(UnicodeEncodeError, _unstorable_text)
    app.add_middleware(BodyLimit)
