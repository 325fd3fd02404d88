"""Shared HTTP pieces: the handlers' dependencies, who the caller is, readers of chat payloads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import ValidationError

from care_schemas.events.alert import AlertRef
from care_schemas.events.ticket import AuthorKind
from carekit.identity import CurrentIdentity, Identity, Role
from ticket_service.domain.errors import Forbidden, NotConfigured
from ticket_service.domain.model import Author
from ticket_service.handlers import Deps

ENGINEER_ROLES = frozenset({Role.SUPPORT_ENGINEER, Role.ADMIN})
MAX_EMAIL = 254
CUSTOMER_ROLES = frozenset({Role.ORG_OWNER, Role.BILLING_MANAGER, Role.PROJECT_OWNER, Role.MEMBER})


async def get_deps(request: Request) -> Deps:
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


def alert_of(value: dict[str, Any]) -> AlertRef | None:
    """The alert a ticket form was opened from (an alert message's Open ticket, Slack or Lark), if any."""
    try:
        return AlertRef.model_validate(value["alert"]) if value.get("alert") else None
    except ValidationError:
        return None


def author_of(identity: Identity) -> Author:
    """Engineers (support_engineer, admin) see every organisation; customers only their own."""
    if identity.role in ENGINEER_ROLES:
        return Author(sub=identity.sub, kind=AuthorKind.ENGINEER, org_id=None)
    if identity.role in CUSTOMER_ROLES:
        email = (
            identity.email if identity.email and len(identity.email) <= MAX_EMAIL and "@" in identity.email else None
        )
        return Author(sub=identity.sub, kind=AuthorKind.CUSTOMER, org_id=identity.org, email=email)
    raise Forbidden(f"role {identity.role.value} does not work on tickets; support engineers and customers do")


async def current_author(identity: CurrentIdentity) -> Author:
    """`author_of` as a dependency: on the event loop (FastAPI sends a plain function to a worker thread)."""
    return author_of(identity)


CurrentAuthor = Annotated[Author, Depends(current_author)]


async def require_engineer(author: CurrentAuthor) -> Author:
    if not author.is_engineer:
        raise Forbidden("only support engineers and admins manage this")
    return author


Engineer = Annotated[Author, Depends(require_engineer)]
