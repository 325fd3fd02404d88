"""The console's web layer without a browser: settings refused at start-up, cookies, CSRF on every form, sign-in
redirects, and services' refusals or outages shown as readable pages (a local stand-in plays the service)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi.routing import APIRoute
from pydantic import ValidationError

from carekit.identity import mint
from carekit_testing import TEST_JWT_SECRET, free_port
from console.app import ROUTERS, create_app
from console.config import Settings
from console.entrypoints.auth import _next
from console.entrypoints.web import csrf_protect
from tests.receivers import serve_handler

pytestmark = pytest.mark.unit
async_test = pytest.mark.asyncio(loop_scope="session")
KEY = "console-unit-key-0123456789-abcdefghijk"


def settings(**values: Any) -> Settings:
    base: dict[str, Any] = {"jwt_secret": TEST_JWT_SECRET, "console_secret_key": KEY, "http_port": 0}
    return Settings.model_validate(base | values)


@contextlib.asynccontextmanager
async def console(service_url: str | None = None, **values: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The console in-process, every service pointed at `service_url` (default: a port nothing listens on)."""
    url = service_url or f"http://127.0.0.1:{free_port()}"
    config = settings(plan_url=url, ticket_url=url, notify_url=url, **values)
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=config.public_base_url) as client:
            yield client


def signed_in(client: httpx.AsyncClient, org: str = "org-1", role: str = "org_owner", ttl_s: int = 600) -> None:
    client.cookies.set("cc_session", mint(TEST_JWT_SECRET, sub="alice", org=org, role=role, ttl_s=ttl_s))


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has a form token"
    return found.group(1)


def test_dev_login_is_refused_at_start_up_with_a_production_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="looks like a production key"):
        settings(jwt_secret="a-production-secret-0123456789-abcdefghij", console_dev_login=True)
    assert settings(console_dev_login=True).console_dev_login
    assert not settings(jwt_secret="a-production-secret-0123456789-abcdefghij").console_dev_login


def test_a_public_url_must_be_https_unless_loopback_and_cookies_are_secure_off_loopback() -> None:
    with pytest.raises(ValidationError, match="must be https"):
        settings(public_base_url="http://care.example.com")
    assert not settings(public_base_url="http://127.0.0.1:8080").secure_cookies
    assert settings(public_base_url="https://care.example.com").secure_cookies
    with pytest.raises(ValidationError, match="placeholder"):
        settings(console_secret_key="x" * 40)


def test_every_form_post_of_the_console_is_csrf_protected() -> None:
    posts = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute) and "POST" in r.methods]
    assert len(posts) >= 15
    unprotected = [r.path for r in posts if csrf_protect not in [d.call for d in r.dependant.dependencies]]
    assert not unprotected, f"POST routes without CSRF protection: {unprotected}"


@async_test
async def test_a_post_without_a_valid_token_is_refused_and_one_with_it_goes_through() -> None:
    async with console() as client:
        signed_in(client)
        page = await client.get("/login")
        token = form_token(page.text)
        refused = await client.post("/logout")
        forged = await client.post("/logout", data={"csrf_token": token[:-2] + "xx"})
        accepted = await client.post("/logout", data={"csrf_token": token})
    assert (refused.status_code, forged.status_code) == (403, 403)
    assert "did not come from the console" in refused.text
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/login"


@async_test
async def test_a_cross_site_origin_is_refused_even_with_a_token() -> None:
    async with console() as client:
        signed_in(client)
        token = form_token((await client.get("/login")).text)
        answer = await client.post("/logout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403


@async_test
async def test_sign_in_sets_an_httponly_lax_session_cookie_secure_off_loopback_and_renews_the_form_token() -> None:
    token = mint(TEST_JWT_SECRET, sub="alice", org="org-1", role="member")
    async with console(public_base_url="https://care.example.com") as client:
        page = await client.get("/login")
        before = form_token(page.text)
        answer = await client.post("/login", data={"csrf_token": before, "token": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/support"
    cookies = {c.split("=", 1)[0]: c for c in answer.headers.get_list("set-cookie")}
    session = cookies["cc_session"].lower()
    assert "httponly" in session
    assert "samesite=lax" in session
    assert "secure" in session
    assert "cc_csrf" in cookies  # a new nonce for the new session


@async_test
async def test_dev_login_does_not_exist_unless_enabled() -> None:
    async with console() as client:
        assert (await client.get("/dev-login")).status_code == 404
    async with console(console_dev_login=True) as client:
        page = await client.get("/dev-login")
        answer = await client.post(
            "/dev-login", data={"csrf_token": form_token(page.text), "org": "org-7", "role": "sales", "name": "sam"}
        )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/sales-requests"


@async_test
async def test_dev_login_from_a_link_goes_on_to_the_page_the_link_named() -> None:
    async with console(console_dev_login=True) as client:
        login = await client.get("/login", params={"next": "/tickets/tkt-1"})
        page = await client.get("/dev-login", params={"next": "/tickets/tkt-1"})
        data = {"csrf_token": form_token(page.text), "org": "org-7", "role": "member", "name": "mia"}
        followed = await client.post("/dev-login", data=data | {"next": "/tickets/tkt-1"})
        page = await client.get("/dev-login", params={"next": "https://evil.example/"})
        again = {"csrf_token": form_token(page.text), "next": "https://evil.example/"}  # renewed at sign-in
        elsewhere = await client.post("/dev-login", data=data | again)
    assert 'href="/dev-login?next=/tickets/tkt-1"' in login.text
    assert followed.headers["location"] == "/tickets/tkt-1"
    assert elsewhere.headers["location"] == "/support"  # never another site


@async_test
async def test_without_a_valid_session_a_page_sends_the_person_to_sign_in() -> None:
    async with console() as client:
        anonymous = await client.get("/tickets")
        signed_in(client, ttl_s=-10)
        expired = await client.get("/tickets")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/tickets"
    assert expired.headers["location"] == "/login?next=/tickets"
    assert "cc_flash" in expired.headers.get("set-cookie", "")


def test_only_a_path_of_the_console_is_followed_after_sign_in() -> None:
    assert _next("/tickets/t-1", "/support") == "/tickets/t-1"
    for hostile in ("//evil.example/x", "https://evil.example", "/\\evil.example", "", None):
        assert _next(hostile, "/support") == "/support"


@async_test
async def test_a_services_refusal_is_a_readable_page_with_its_status() -> None:
    async def ticket_service(request: web.Request) -> web.Response:
        assert request.headers["Authorization"].startswith("Bearer ")
        return web.json_response({"detail": "ticket tkt-9 not found"}, status=404)

    async with serve_handler(ticket_service) as url, console(url) as client:
        signed_in(client)
        answer = await client.get("/tickets/tkt-9")
    assert answer.status_code == 404
    assert "Ticket tkt-9 not found" in answer.text
    assert '{"detail"' not in answer.text
    assert answer.headers["content-type"].startswith("text/html")


@async_test
async def test_a_cookie_a_service_sets_for_one_person_never_travels_with_the_next_persons_call() -> None:
    cookies: list[str | None] = []

    async def ticket_service(request: web.Request) -> web.Response:
        cookies.append(request.headers.get("Cookie"))
        answer = web.json_response({"detail": "not found"}, status=404)
        answer.set_cookie("sid", f"secret-of-{request.match_info['tail']}", path="/")
        return answer

    async with serve_handler(ticket_service) as url, console(url.replace("127.0.0.1", "localhost")) as client:
        for org in ("org-1", "org-2"):  # by name: aiohttp would keep no cookie of an address anyway
            signed_in(client, org=org)
            assert (await client.get(f"/tickets/tkt-{org}")).status_code == 404
    assert cookies == [None, None]


@async_test
async def test_a_service_that_cannot_be_reached_is_a_503_page_saying_to_try_again() -> None:
    async with console() as client:
        signed_in(client)
        answer = await client.get("/support")
    assert answer.status_code == 503
    assert "plan-service cannot be reached right now; try again in a moment" in answer.text


@async_test
async def test_a_customer_page_refuses_staff_only_pages_by_role() -> None:
    async with console() as client:
        signed_in(client, role="member")
        answer = await client.get("/staff/dead-letters")
    assert answer.status_code == 403
    assert "This page is for admin, support engineer" in answer.text


@async_test
async def test_pages_carry_a_content_security_policy_and_no_caching() -> None:
    async with console() as client:
        answer = await client.get("/login")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-frame-options"] == "DENY"
