"""Bearer tokens: what a service accepts and what it refuses."""

from __future__ import annotations

import jwt
import pytest
from fastapi import FastAPI

from carekit import problems
from carekit.identity import CurrentIdentity, Role, TokenVerifier, mint, mint_cli, require
from carekit_testing import asgi_request

pytestmark = pytest.mark.unit
SECRET = "unit-test-secret-0123456789abcdefghij"


def app() -> FastAPI:
    api = FastAPI()
    problems.install(api)
    api.state.token_verifier = TokenVerifier(SECRET, "connected-care", "connected-care")

    @api.get("/me")
    def me(identity: CurrentIdentity) -> dict[str, str]:
        return {"org": identity.org, "role": identity.role.value, "sub": identity.sub}

    @api.post("/owners-only")
    def owners_only(identity: CurrentIdentity) -> dict[str, str]:
        require(identity, Role.ORG_OWNER, Role.BILLING_MANAGER)
        return {"ok": "yes"}

    return api


def test_minted_token_identifies_org_role_and_subject() -> None:
    token = mint(SECRET, sub="alice", org="org-1", role=Role.ORG_OWNER)
    response = asgi_request(app(), "GET", "/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"org": "org-1", "role": "org_owner", "sub": "alice"}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing bearer token"),
        ("Basic abc", "missing bearer token"),
        ("Bearer not-a-jwt", "invalid token"),
        (f"Bearer {mint('another-secret-0123456789abcdefghijkl', sub='a', org='o', role='member')}", "invalid token"),
        (f"Bearer {mint(SECRET, sub='a', org='o', role='member', audience='elsewhere')}", "invalid token"),
        (f"Bearer {mint(SECRET, sub='a', org='o', role='emperor')}", "invalid token"),
        (f"Bearer {mint(SECRET, sub='a', org='o', role='member', ttl_s=-10)}", "token expired"),
        (f"Bearer {mint(SECRET, sub='a', org='', role='member')}", "invalid token"),
    ],
    ids=["none", "wrong-scheme", "garbage", "wrong-key", "wrong-audience", "unknown-role", "expired", "empty-org"],
)
def test_requests_without_a_valid_token_get_401_saying_why(header: str | None, message: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = asgi_request(app(), "GET", "/me", headers=headers)
    assert response.status_code == 401
    assert message in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_role_that_may_not_act_gets_403_naming_allowed_roles() -> None:
    token = mint(SECRET, sub="bob", org="org-1", role=Role.MEMBER)
    response = asgi_request(app(), "POST", "/owners-only", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["detail"] == "role member may not do this; allowed: billing_manager, org_owner"


def test_token_cli_prints_a_verifiable_token(capsys: pytest.CaptureFixture[str]) -> None:
    mint_cli(["--org", "org-9", "--role", "support_engineer", "--sub", "eve", "--secret", SECRET])
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="connected-care")
    assert (claims["org"], claims["role"], claims["sub"]) == ("org-9", "support_engineer", "eve")
    assert TokenVerifier(SECRET, "connected-care", "connected-care").verify(token).is_staff
