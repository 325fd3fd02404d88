"""The shared table: every HTTP channel classifies every kind of answer the same way (Alertmanager-style)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from notify_helpers import settings, target

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert
from carekit_testing import free_port
from notify_service.adapters.channels import REGISTRY
from notify_service.adapters.channels.base import SendContext, Target
from notify_service.adapters.channels.email import send_mail
from notify_service.adapters.resolve import delivery_session
from notify_service.domain.classify import Verdict, classify_status, parse_retry_after, redact
from tests.receivers import serve_handler

pytestmark = [pytest.mark.unit, pytest.mark.asyncio(loop_scope="session")]
HTTP_CHANNELS = [c for c in ChannelType if c is not ChannelType.EMAIL]


@dataclass(frozen=True)
class Case:
    name: str
    status: int | None  # None: no server / slow server
    headers: dict[str, str]
    verdict: Verdict
    retry_after: float | None = None
    reason_has: str = ""


TABLE = [
    Case("200 ok", 200, {}, Verdict.OK),
    Case("202 accepted", 202, {}, Verdict.OK),
    Case("400 bad request", 400, {}, Verdict.PERMANENT, reason_has="HTTP 400"),
    Case("401 unauthorised", 401, {}, Verdict.PERMANENT, reason_has="HTTP 401"),
    Case("403 forbidden", 403, {}, Verdict.PERMANENT, reason_has="HTTP 403"),
    Case("404 not found", 404, {}, Verdict.PERMANENT, reason_has="HTTP 404"),
    Case("410 gone", 410, {}, Verdict.PERMANENT, reason_has="HTTP 410"),
    Case("413 too large", 413, {}, Verdict.PERMANENT, reason_has="payload too large"),
    Case("429 with Retry-After", 429, {"Retry-After": "7"}, Verdict.RETRY, retry_after=7.0),
    Case("429 without Retry-After", 429, {}, Verdict.RETRY),
    Case("500 error", 500, {}, Verdict.RETRY),
    Case("503 with Retry-After", 503, {"Retry-After": "3"}, Verdict.RETRY, retry_after=3.0),
    Case("301 redirect is not followed", 301, {"Location": "/elsewhere"}, Verdict.PERMANENT, reason_has="redirect"),
]


@dataclass
class Server:
    url: str
    answer: Case | None = None
    hits: int = 0
    redirected_to: int = 0


@pytest_asyncio.fixture(loop_scope="session")
async def server() -> AsyncIterator[Server]:
    port = free_port()
    state = Server(f"http://127.0.0.1:{port}")

    async def handle(request: web.Request) -> web.Response:
        if request.path == "/elsewhere":
            state.redirected_to += 1
            return web.Response(text="ok")
        state.hits += 1
        assert state.answer is not None
        if state.answer.status is None:
            await asyncio.sleep(0.5)
            return web.Response(text="too late")
        return web.Response(status=state.answer.status, headers=state.answer.headers, text=f"said {state.answer.name}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield state
    await runner.cleanup()


def config_for(channel: ChannelType, base: str) -> dict[str, Any]:
    return {
        ChannelType.SLACK: {"webhook_url": f"{base}/services/T/B/secretpath"},
        ChannelType.ZOOM: {"endpoint_url": f"{base}/inbound/webhook/x", "verification_token": "tok-secret-1234"},
        ChannelType.LARK: {"webhook_url": f"{base}/open-apis/bot/v2/hook/x", "signing_secret": "lark-secret"},
        ChannelType.PAGERDUTY: {"integration_key": "0123456789abcdef0123456789abcdef"},
        ChannelType.WEBHOOK: {"url": f"{base}/hook"},
        ChannelType.FLASHDUTY: {"webhook_url": f"{base}/flashduty"},
    }[channel]


async def send_once(channel: ChannelType, base: str, alert: Alert, timeout_s: float = 0.5) -> Any:
    cfg = settings(pagerduty_events_url=f"{base}/v2/enqueue", delivery_timeout_s=timeout_s)
    async with delivery_session(cfg) as http:
        t = target(channel, config_for(channel, base))
        rendered = REGISTRY[channel].render([alert], t, cfg, False)
        return await REGISTRY[channel].send(SendContext(http, cfg), t, rendered)


@pytest.mark.parametrize("channel", HTTP_CHANNELS, ids=str)
@pytest.mark.parametrize("case", TABLE, ids=lambda c: c.name)
async def test_every_channel_classifies_each_answer_alike(
    channel: ChannelType, case: Case, server: Server, alert: Alert
) -> None:
    server.answer, server.redirected_to = case, 0
    # only the slow-server case waits for the timeout; the others get time to spare on a busy machine
    outcome = await send_once(channel, server.url, alert, timeout_s=0.5 if case.status is None else 10.0)
    assert outcome.verdict is case.verdict, outcome
    assert outcome.retry_after_s == case.retry_after
    assert case.reason_has in outcome.reason
    assert server.redirected_to == 0
    assert "secretpath" not in outcome.reason


@pytest.mark.parametrize("channel", HTTP_CHANNELS, ids=str)
async def test_every_channel_retries_after_a_timeout(channel: ChannelType, server: Server, alert: Alert) -> None:
    server.answer = Case("slow", None, {}, Verdict.RETRY)
    outcome = await send_once(channel, server.url, alert, timeout_s=0.3)
    assert outcome.verdict is Verdict.RETRY
    assert "timeout" in outcome.reason


@pytest.mark.parametrize("channel", HTTP_CHANNELS, ids=str)
async def test_every_channel_retries_when_the_connection_is_refused(channel: ChannelType, alert: Alert) -> None:
    outcome = await send_once(channel, f"http://127.0.0.1:{free_port()}", alert)
    assert outcome.verdict is Verdict.RETRY
    assert "network error" in outcome.reason


async def test_a_webhook_url_that_cannot_be_parsed_is_an_answer_not_a_crash(alert: Alert) -> None:
    """post_json parses each target's URL itself (once, cached): one yarl refuses is a client error, so the
    dispatcher records a network error for that target instead of an internal error."""
    cfg = settings()
    async with delivery_session(cfg) as http:
        t = Target("sub-1", "org-1", "ops", ChannelType.WEBHOOK, {"url": "http://[::1"})  # written by hand
        rendered = REGISTRY[ChannelType.WEBHOOK].render([alert], t, cfg, False)
        outcome = await REGISTRY[ChannelType.WEBHOOK].send(SendContext(http, cfg), t, rendered)
    assert outcome.verdict is Verdict.RETRY
    assert outcome.reason.startswith("network error: InvalidUrl: cannot parse the URL"), outcome.reason


async def test_retry_after_may_be_an_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None


async def test_secrets_are_redacted_from_reasons() -> None:
    outcome = classify_status(404, {}, "no hook https://hooks.example/T1/B2/XYZ here", secrets=["/T1/B2/XYZ"])
    assert "XYZ" not in outcome.reason
    assert redact("token abc123 used", ["abc123"]) == "token **** used"


class _Smtp:
    def __init__(self, code: str) -> None:
        self.code = code

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.code.startswith("5") or self.code.startswith("4"):
            return self.code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@pytest.mark.parametrize(
    ("code", "verdict"),
    [("250 OK", Verdict.OK), ("550 no such mailbox", Verdict.PERMANENT), ("451 try later", Verdict.RETRY)],
)
async def test_email_classifies_smtp_answers(code: str, verdict: Verdict, alert: Alert) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Smtp(code), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        cfg = settings(smtp_port=controller.port, delivery_timeout_s=2)
        t = target(ChannelType.EMAIL, {"address": "ops@example.com"})
        rendered = REGISTRY[ChannelType.EMAIL].render([alert], t, cfg, False)
        async with delivery_session(cfg) as http:
            outcome = await REGISTRY[ChannelType.EMAIL].send(SendContext(http, cfg), t, rendered)
    finally:
        controller.stop()
    assert outcome.verdict is verdict, outcome


async def test_email_retries_when_the_smtp_server_is_down(alert: Alert) -> None:
    cfg = settings(smtp_port=free_port(), delivery_timeout_s=2)
    t = target(ChannelType.EMAIL, {"address": "ops@example.com"})
    rendered = REGISTRY[ChannelType.EMAIL].render([alert], t, cfg, False)
    async with delivery_session(cfg) as http:
        outcome = await REGISTRY[ChannelType.EMAIL].send(SendContext(http, cfg), t, rendered)
    assert outcome.verdict is Verdict.RETRY


async def test_a_slack_webhook_url_never_reaches_the_logs_even_at_debug(
    server: Server, alert: Alert, caplog: pytest.LogCaptureFixture
) -> None:
    server.answer = TABLE[0]
    caplog.set_level(logging.DEBUG)
    outcome = await send_once(ChannelType.SLACK, server.url, alert)
    assert outcome.verdict is Verdict.OK
    logging.getLogger("slack_sdk.probe").debug("debug records are captured")
    assert "debug records are captured" in caplog.text
    assert "secretpath" not in caplog.text


async def test_a_host_that_now_resolves_to_a_private_address_is_not_contacted(server: Server, alert: Alert) -> None:
    # the URL passed the checks when it was saved; at send time its name points at loopback (DNS rebinding)
    server.answer = TABLE[0]
    port = server.url.rsplit(":", 1)[1]
    t = target(ChannelType.WEBHOOK, {"url": f"http://localhost:{port}/hook"})
    for allowlist, verdict in (("127.0.0.1", Verdict.RETRY), ("127.0.0.1,localhost", Verdict.OK)):
        cfg = settings(notify_url_allowlist=allowlist)
        before = server.hits
        async with delivery_session(cfg) as http:
            rendered = REGISTRY[ChannelType.WEBHOOK].render([alert], t, cfg, False)
            outcome = await REGISTRY[ChannelType.WEBHOOK].send(SendContext(http, cfg), t, rendered)
        assert outcome.verdict is verdict, outcome
        if verdict is Verdict.RETRY:
            assert "private, loopback or link-local" in outcome.reason
            assert server.hits == before


async def test_a_line_break_in_a_mail_subject_is_sent_as_one_line_and_adds_no_recipient() -> None:
    from aiosmtpd.controller import Controller

    class Keep:
        def __init__(self) -> None:
            self.envelopes: list[Any] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.envelopes.append(envelope)
            return "250 OK"

    keep = Keep()
    controller = Controller(keep, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        cfg = settings(smtp_port=controller.port, delivery_timeout_s=2)
        outcome = await send_mail(cfg, "tam@example.com", "S1 ticket: db down\r\nBcc: other@example.com", "body")
    finally:
        controller.stop()
    assert outcome.verdict is Verdict.OK, outcome
    [envelope] = keep.envelopes
    assert envelope.rcpt_tos == ["tam@example.com"]
    assert "Subject: S1 ticket: db down Bcc: other@example.com\r\n" in envelope.content.decode()


async def test_a_cookie_one_endpoint_sets_never_travels_with_another_subscribers_alerts(alert: Alert) -> None:
    # two subscribers (perhaps of two organisations) whose webhooks live on the same host
    seen: dict[str, str | None] = {}

    async def handle(request: web.Request) -> web.Response:
        seen[request.path] = request.headers.get("Cookie")
        response = web.Response(text="ok")
        if request.path == "/org-a":
            response.set_cookie("session", "org-a-secret", path="/")
        return response

    cfg = settings(notify_url_allowlist="127.0.0.1,localhost")  # by name: a cookie jar keeps none for an address
    async with serve_handler(handle) as base, delivery_session(cfg) as http:
        for name in ("org-a", "org-b", "org-a"):
            t = target(ChannelType.WEBHOOK, {"url": f"{base.replace('127.0.0.1', 'localhost')}/{name}"})
            rendered = REGISTRY[ChannelType.WEBHOOK].render([alert], t, cfg, False)
            outcome = await REGISTRY[ChannelType.WEBHOOK].send(SendContext(http, cfg), t, rendered)
            assert outcome.verdict is Verdict.OK, outcome
    assert seen == {"/org-a": None, "/org-b": None}
