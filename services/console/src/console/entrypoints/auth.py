"""Signing in and out: a bearer token from the identity provider (or pasted from `care-token`), and, for
development and tests only, /dev-login where a person picks an organisation and a role."""

from __future__ import annotations

import time
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from carekit.identity import Role, mint
from console.entrypoints.web import (
    CurrentViewer,
    Flash,
    SignInNeeded,
    console,
    csrf_protect,
    redirect,
    render,
    sign_in,
    sign_out,
    viewer,
)

router = APIRouter(dependencies=[Depends(csrf_protect)])
ORG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
Text = Annotated[str, Form(max_length=4096)]


def home_of(role: Role) -> str:
    """Where a person lands after signing in: customers on their support page, staff on their work."""
    if role in (Role.SUPPORT_ENGINEER, Role.ADMIN):
        return "/staff/tickets"
    if role is Role.SALES:
        return "/staff/sales-requests"
    return "/support"


def _next(target: str | None, fallback: str) -> str:
    """Only a path of this console (never another site) is followed after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    try:
        who = viewer(request)
    except SignInNeeded:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_of(who.role), status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _next(next, "")})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, token: Text, next: Annotated[str, Form(max_length=2048)] = "") -> Response:
    """Sign in with a bearer token (what an identity provider's callback does; by hand: paste a `care-token`)."""
    settings = console(request).settings
    try:
        identity = console(request).verifier.verify(token.strip())
        expires = int(jwt.decode(token.strip(), options={"verify_signature": False})["exp"])
    except (jwt.InvalidTokenError, KeyError, ValueError):
        message = "That token does not verify (signature, issuer, audience, expiry or claims); get a new one."
        return render(request, "login.html", {"next": _next(next, ""), "error": message}, status=401)
    max_age = max(60, min(expires - int(time.time()), int(settings.console_session_hours * 3600)))
    response = redirect(request, _next(next, home_of(identity.role)), Flash("ok", f"Signed in to {identity.org}."))
    sign_in(request, response, token.strip(), max_age)
    return response


@router.post("/logout")
async def logout(request: Request, _who: CurrentViewer) -> Response:
    response = redirect(request, "/login", Flash("ok", "Signed out."))
    sign_out(request, response)
    return response


async def _dev_login_enabled(request: Request) -> None:
    if not console(request).settings.console_dev_login:
        raise HTTPException(404, "Not Found")


dev = APIRouter(dependencies=[Depends(_dev_login_enabled), Depends(csrf_protect)])


@dev.get("/dev-login", response_class=HTMLResponse)
async def dev_login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "dev_login.html", {"roles": [r.value for r in Role], "next": _next(next, "")})


@dev.post("/dev-login", response_class=HTMLResponse)
async def dev_login(
    request: Request,
    org: Annotated[str, Form(pattern=ORG_PATTERN)],
    role: Annotated[Role, Form()],
    name: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")] = "dev-user",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Development only: the same token `care-token --org ORG --role ROLE --sub NAME` mints."""
    settings = console(request).settings
    ttl = int(settings.console_session_hours * 3600)
    token = mint(
        settings.jwt_secret,
        sub=name,
        org=org,
        role=role,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_s=ttl,
    )
    response = redirect(
        request, _next(next, home_of(role)), Flash("ok", f"Signed in to {org} as {name} ({role.value}).")
    )
    sign_in(request, response, token, ttl)
    return response
