"""Development tokens: the claims the services verify (carekit.identity), signed with their JWT_SECRET."""

from __future__ import annotations

import time

import jwt

ROLES = ("org_owner", "billing_manager", "project_owner", "member", "support_engineer", "sales", "admin")
ISSUER = AUDIENCE = "connected-care"


def mint(secret: str, *, sub: str, org: str, role: str, email: str | None = None, ttl_s: int = 3600) -> str:
    """A signed HS256 token with `iss`, `aud`, `sub`, `org`, `role`, `iat`, `exp` (and `email` when given)."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": sub,
        "org": org,
        "role": role,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_s,
    }
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256")


def org_of(token: str) -> str:
    """The organisation a token acts for (read, not verified: the service verifies it)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return ""
    return str(claims.get("org", ""))
