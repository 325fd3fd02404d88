"""What every page shares: who is signed in (the session cookie), CSRF protection of every form, flash messages,
rendering, and one readable error page for everything that goes wrong (never raw JSON, never a stack trace).

The session cookie holds the user's bearer token (HttpOnly, SameSite=Lax, Secure except on loopback). CSRF is a
signed double-submit token: a random nonce in its own HttpOnly cookie, and in every form the nonce signed with
CONSOLE_SECRET_KEY (itsdangerous, timed); a post is accepted only when the signature verifies and the signed
nonce equals the cookie's. The nonce is renewed at sign-in and sign-out.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException

from carekit.identity import Identity, Role, TokenVerifier
from console.adapters.api import ApiError, Apis
from console.config import Settings

log = logging.getLogger(__name__)
# Autoescaped: every value from a service is text, never markup.
TEMPLATES = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
SESSION_COOKIE, CSRF_COOKIE, FLASH_COOKIE = "cc_session", "cc_csrf", "cc_flash"
CSRF_FIELD, CSRF_HEADER = "csrf_token", "X-CSRF-Token"
CSRF_MAX_AGE_S = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHANGERS = frozenset({Role.ORG_OWNER, Role.BILLING_MANAGER})
SUBSCRIBER_OWNERS = frozenset({Role.ORG_OWNER, Role.PROJECT_OWNER})
ENGINEERS = frozenset({Role.SUPPORT_ENGINEER, Role.ADMIN})
DECIDERS = frozenset({Role.SALES, Role.ADMIN})
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Console:
    """What the pages need, built once per app."""

    settings: Settings
    verifier: TokenVerifier
    signer: URLSafeTimedSerializer

    @classmethod
    def of(cls, settings: Settings) -> Console:
        return cls(
            settings,
            TokenVerifier(settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience),
            URLSafeTimedSerializer(settings.console_secret_key, salt="connected-care-console"),
        )


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


async def apis(request: Request) -> Apis:
    found: Apis = request.app.state.apis
    return found


Services = Annotated[Apis, Depends(apis)]


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: their verified identity and the token the console calls the services with."""

    identity: Identity
    token: str

    @property
    def org(self) -> str:
        return self.identity.org

    @property
    def role(self) -> Role:
        return self.identity.role

    @property
    def is_staff(self) -> bool:
        return self.identity.is_staff

    @property
    def changes_plan(self) -> bool:
        return self.role in CHANGERS

    @property
    def owns_subscribers(self) -> bool:
        return self.role in SUBSCRIBER_OWNERS

    @property
    def is_engineer(self) -> bool:
        return self.role in ENGINEERS

    @property
    def decides_sales(self) -> bool:
        return self.role in DECIDERS


class SignInNeeded(Exception):
    """No valid session: the person is sent to the sign-in page (with why, when there is a reason)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfRefused(Exception):
    """A form post without a valid CSRF token."""


class PageRefused(Exception):
    """A page this person's role does not open (shown as a readable 403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def viewer(request: Request) -> Viewer:
    """FastAPI dependency: the signed-in person, or a redirect to sign in."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise SignInNeeded()
    try:
        identity = console(request).verifier.verify(token)
    except jwt.ExpiredSignatureError:
        raise SignInNeeded("Your session expired; sign in again.") from None
    except (jwt.InvalidTokenError, KeyError, ValueError):
        raise SignInNeeded("Your session is no longer valid; sign in again.") from None
    return Viewer(identity, token)


async def signed_in(request: Request) -> Viewer:
    """`viewer` as a dependency (an `async def` runs on the event loop; FastAPI sends a plain one to a worker
    thread, one of a few dozen, where requests wait for a thread under load)."""
    return viewer(request)


CurrentViewer = Annotated[Viewer, Depends(signed_in)]


def needs(*roles: Role) -> Callable[[Viewer], Awaitable[Viewer]]:
    """A dependency for pages of some roles only (staff pages): others read which roles may open it."""

    async def check(who: CurrentViewer) -> Viewer:
        if who.role not in roles:
            names = ", ".join(sorted(r.value.replace("_", " ") for r in roles))
            raise PageRefused(f"This page is for {names}; you are signed in as {who.role.value.replace('_', ' ')}.")
        return who

    return check


# --- CSRF -----------------------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The token every form of this page carries: the session's nonce, signed and dated."""
    token: str = console(request).signer.dumps(request.state.csrf_nonce, salt="csrf")
    return token


def renew_csrf(request: Request) -> None:
    """A new nonce (at sign-in and sign-out), so a token seen before cannot be replayed into the new session."""
    request.state.csrf_nonce = secrets.token_urlsafe(32)
    request.state.csrf_renewed = True


async def csrf_protect(request: Request) -> None:
    """Router dependency: every unsafe request carries a valid token from this browser's own pages."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        raise CsrfRefused()
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(sent, str) or not sent or not cookie:
        raise CsrfRefused()
    try:
        nonce = console(request).signer.loads(sent, salt="csrf", max_age=CSRF_MAX_AGE_S)
    except BadSignature:
        raise CsrfRefused() from None
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce, cookie):
        raise CsrfRefused()


# --- flash messages, rendering, redirects ---------------------------------------------------------------------


@dataclass(frozen=True)
class Flash:
    kind: str  # ok | error
    text: str


def _flash(request: Request) -> Flash | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        kind, text = console(request).signer.loads(raw, salt="flash", max_age=300)
    except (BadSignature, ValueError, TypeError):
        return None
    return Flash(str(kind), str(text))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    who: Viewer | None = None,
    status: int = 200,
) -> HTMLResponse:
    """A page: the template with the viewer, the form token, the flash message of the last action and the nav."""
    values = {
        "who": who,
        "csrf_token": csrf_token(request),
        "flash": _flash(request),
        "path": request.url.path,
        "dev_login": console(request).settings.console_dev_login,
        **(context or {}),
    }
    response = TEMPLATES.TemplateResponse(request, template, values, status_code=status)
    if FLASH_COOKIE in request.cookies:
        _delete(request, response, FLASH_COOKIE)
    return response


def redirect(request: Request, url: str, flash: Flash | None = None) -> RedirectResponse:
    """303 to a page (post/redirect/get), carrying a one-time message."""
    response = RedirectResponse(url, status_code=303)
    if flash is not None:
        value = console(request).signer.dumps([flash.kind, flash.text[:600]], salt="flash")
        _set(request, response, FLASH_COOKIE, value, max_age=300)
    return response


def _set(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=console(request).settings.secure_cookies,
    )


def _delete(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=console(request).settings.secure_cookies
    )


def sign_in(request: Request, response: Response, token: str, max_age: int) -> None:
    """Put the token in the session cookie and renew the CSRF nonce."""
    _set(request, response, SESSION_COOKIE, token, max_age=max_age)
    renew_csrf(request)


def sign_out(request: Request, response: Response) -> None:
    _delete(request, response, SESSION_COOKIE)
    renew_csrf(request)


def error_page(
    request: Request, status: int, title: str, message: str, fields: list[tuple[str, str]] | None = None
) -> HTMLResponse:
    who: Viewer | None
    try:
        who = viewer(request)
    except SignInNeeded:
        who = None
    return render(
        request, "error.html", {"title": title, "message": message, "fields": fields or []}, who=who, status=status
    )


TITLES = {
    400: "Bad request",
    401: "Sign in again",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible now",
    413: "Too large",
    422: "Please check the form",
    502: "A service refused",
    503: "Temporarily unavailable",
}


# --- installation -------------------------------------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """Cookies, security headers and the error pages."""

    @app.middleware("http")
    async def cookies_and_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        nonce = request.cookies.get(CSRF_COOKIE, "")
        fresh = len(nonce) < 32
        request.state.csrf_nonce = secrets.token_urlsafe(32) if fresh else nonce
        response = await call_next(request)
        if fresh or getattr(request.state, "csrf_renewed", False):
            _set(request, response, CSRF_COOKIE, request.state.csrf_nonce)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "public, max-age=3600"
        else:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        target = request.url.path if request.method == "GET" else ""
        url = "/login" + (f"?next={quote(target, safe='/')}" if target and target != "/" else "")
        response = redirect(request, url, Flash("error", exc.reason) if exc.reason else None)
        if request.cookies.get(SESSION_COOKIE):
            _delete(request, response, SESSION_COOKIE)
        return response

    async def csrf_refused(request: Request, _exc: Exception) -> Response:
        message = "This form has expired or did not come from the console's own page. Reload the page and try again."
        return error_page(request, 403, "Form refused", message)

    async def page_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        return error_page(request, 403, "Not allowed", exc.message)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_page(request, exc.status, TITLES.get(exc.status, "Something went wrong"), exc.message, exc.fields)

    async def malformed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = [
            (".".join(str(p) for p in e.get("loc", ())[1:]) or "form", str(e.get("msg", ""))) for e in exc.errors()
        ]
        return error_page(request, 422, TITLES[422], "Some fields are missing or not valid.", fields[:10])

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
        return error_page(request, exc.status_code, TITLES.get(exc.status_code, "Error"), message)

    async def unexpected(request: Request, exc: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        log.error("unhandled error %s on %s %s", incident, request.method, request.url.path, exc_info=exc)
        return error_page(
            request, 500, "Something went wrong", f"An unexpected error occurred; quote incident {incident} to support."
        )

    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.add_exception_handler(PageRefused, page_refused)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, malformed)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
