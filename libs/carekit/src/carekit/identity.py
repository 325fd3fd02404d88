"""Bearer JWT identities: verification for services, minting for development and tests."""

from __future__ import annotations

import argparse
import os
import time
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from carekit.refusals import Forbidden, Unauthorized


class Role(StrEnum):
    ORG_OWNER = "org_owner"
    BILLING_MANAGER = "billing_manager"
    PROJECT_OWNER = "project_owner"
    MEMBER = "member"
    SUPPORT_ENGINEER = "support_engineer"
    SALES = "sales"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.SUPPORT_ENGINEER, Role.SALES, Role.ADMIN})


class Identity(BaseModel):
    model_config = ConfigDict(frozen=True)

    sub: str = Field(min_length=1)
    org: str = Field(min_length=1)
    role: Role
    email: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class TokenVerifier:
    """Verifies HS256 tokens against one issuer and audience."""

    def __init__(self, secret: str, issuer: str, audience: str) -> None:
        self._secret, self._issuer, self._audience = secret, issuer, audience

    def verify(self, token: str) -> Identity:
        claims = jwt.decode(
            token,
            self._secret,
            algorithms=["HS256"],
            issuer=self._issuer,
            audience=self._audience,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        return Identity(sub=claims["sub"], org=claims["org"], role=claims["role"], email=claims.get("email"))


def mint(
    secret: str,
    *,
    sub: str,
    org: str,
    role: Role | str,
    issuer: str = "connected-care",
    audience: str = "connected-care",
    ttl_s: int = 3600,
    email: str | None = None,
) -> str:
    """A signed token for development and tests."""
    now = int(time.time())
    claims = {"sub": sub, "org": org, "role": str(role), "iss": issuer, "aud": audience, "iat": now, "exp": now + ttl_s}
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256")


# Declares the bearer security scheme in every service's OpenAPI document; the checks below give the reasons.
BEARER = HTTPBearer(auto_error=False, bearerFormat="JWT", description="a JWT with org, role and sub (care-token)")


async def current_identity(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> Identity:
    """FastAPI dependency: the verified identity of the caller, or 401 saying what is wrong."""
    if credentials is None or not credentials.credentials.strip():
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <jwt>'")
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.verify(credentials.credentials.strip())
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired: mint a new one") from None
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise Unauthorized("invalid token: signature, issuer, audience or claims do not verify") from None


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


def require(identity: Identity, *roles: Role) -> None:
    """Raise 403 naming the roles that may act."""
    if identity.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise Forbidden(f"role {identity.role.value} may not do this; allowed: {allowed}")


def mint_cli(argv: list[str] | None = None) -> None:
    """`care-token --org org-1 --role org_owner --sub alice` prints a development token."""
    parser = argparse.ArgumentParser(prog="care-token", description="mint a development bearer token")
    parser.add_argument("--org", required=True)
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--sub", default="dev-user")
    parser.add_argument("--email")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    parser.add_argument("--secret", default=os.environ.get("JWT_SECRET"), help="default: $JWT_SECRET")
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("set JWT_SECRET or pass --secret")
    print(mint(args.secret, sub=args.sub, org=args.org, role=args.role, ttl_s=args.ttl, email=args.email))
