"""Local HTTP receivers that record what they are sent and answer like the platform they stand in for.

`Receiver` is the shared base of every fake in tests/fakes: it records requests, lets a test script answers
per path (status, headers, body), and runs a platform check (signature, token, payload) before answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller

from care_schemas.catalogue import ChannelType, PlanCode, catalogue
from care_schemas.envelope import CloudEvent
from care_schemas.events.alert import Alert, alert_event
from care_schemas.events.plan import ChangeReason, SupportPlanChanged, Tam
from care_schemas.topics import ALERT_ACTIONS, ALERT_EVENTS, CHAT_EVENTS, PLAN_EVENTS, TICKET_EVENTS
from carekit.identity import mint
from carekit.kafka import ensure_topics
from carekit_testing import (
    TEST_JWT_SECRET,
    ServiceProcess,
    commit_group_at_end,
    create_database,
    drop_created_databases,
    free_port,
    setting,
    within,
)
from carekit_testing import plan_changed as kit_plan_changed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"
    delay_s: float = 0.0


Check = Callable[[Received], Answer | None]


@dataclass
class Receiver:
    """Records every request. Answers, in order: the next scripted answer for the path (`script`), the next
    of `answers` (any path), the platform check's refusal, else `ok`."""

    port: int = field(default_factory=free_port)
    requests: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    check: Check | None = None
    ok: Answer = field(default_factory=Answer)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, path: str, *answers: Answer) -> None:
        self.scripts.setdefault(path, []).extend(answers)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(
            request.path, dict(request.query), dict(request.headers), await request.read(), time.monotonic()
        )
        answer = self._answer(received)
        received.status = answer.status
        self.requests.append(received)
        self.arrived.set()
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        return web.Response(status=answer.status, headers=answer.headers, text=answer.body)

    def _answer(self, received: Received) -> Answer:
        scripted = self.scripts.get(received.path)
        if scripted:
            return scripted.pop(0)
        if self.answers:
            status, headers = self.answers.pop(0)
            return Answer(status, headers, "ok" if status < 300 else "error")
        if self.check is not None:
            refused = self.check(received)
            if refused is not None:
                return refused
        return self.ok

    async def wait_for(self, count: int, timeout_s: float = 20, path: str | None = None) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.at(path) if path else self.requests) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                got = len(self.at(path) if path else self.requests)
                raise AssertionError(f"receiver got {got} requests{' at ' + path if path else ''}, expected {count}")
            self.arrived.clear()
            try:
                await within(self.arrived.wait(), min(remaining, 0.5))
            except TimeoutError:
                continue
        return self.at(path) if path else self.requests


@asynccontextmanager
async def serve_handler(handle: Handler, port: int | None = None) -> AsyncIterator[str]:
    """Serve `handle` for every path on 127.0.0.1 for the duration of the block; yields the base URL."""
    port = port or free_port()
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve(receiver: Receiver) -> AsyncIterator[Receiver]:
    """Run the receiver on 127.0.0.1 for the duration of the block."""
    async with serve_handler(receiver._handle, receiver.port):
        yield receiver


@asynccontextmanager
async def bench_infra() -> AsyncIterator[tuple[str, str]]:
    """Kafka bootstrap and admin database URL for a benchmark; the databases it creates are dropped after."""
    kafka, admin = setting("KAFKA_BOOTSTRAP_SERVERS"), setting("DATABASE_URL")
    if not kafka or not admin:
        raise SystemExit("start the infrastructure first: make infra-up")
    try:
        await ensure_topics(kafka)  # a fresh broker has none, and a benchmark may be the first thing run on it
        yield kafka, admin
    finally:
        await drop_created_databases()


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    async with serve(Receiver()) as receiver:
        yield receiver


# --- notify-service harness shared by tests/e2e/test_notify_*.py, tests/reliability and bench ---------------

NOTIFY_SECRET_KEY = "x2nKu2yV5cS9Y2b0R8f8tq0m9m3f2c8W6c1kQm4zJ7Y="  # a test-only Fernet key


def notify_env(kafka: str, database_url: str, prefix: str, **overrides: str) -> dict[str, str]:
    """Settings for a notify-service process under test: 127.0.0.1 allow-listed, short windows."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "NOTIFY_SECRET_KEY": NOTIFY_SECRET_KEY,
        "NOTIFY_URL_ALLOWLIST": "127.0.0.1",
        "CONSUMER_GROUP_PREFIX": prefix,
        "GROUPING_WINDOW_S": "0.3",
        "RETRY_BASE_S": "0.2",
        "RETRY_MAX_S": "2",
        "RETRY_WINDOW_S": "30",
        "DELIVERY_POLL_INTERVAL_S": "0.1",
    }
    env.update(overrides)
    return env


def token(org: str, role: str = "org_owner", sub: str = "alice") -> dict[str, str]:
    """Authorization header for a test identity."""
    return {"Authorization": f"Bearer {mint(TEST_JWT_SECRET, sub=sub, org=org, role=role)}"}


def plan_changed(org: str, plan: str, version: int, tam: tuple[str, str] | None = None) -> SupportPlanChanged:
    """The event plan-service publishes when `org` moves to `plan` (the kit's builder, with string arguments)."""
    return kit_plan_changed(
        org,
        PlanCode(plan),
        version,
        tam=Tam(name=tam[0], email=tam[1]) if tam else None,
        reason=ChangeReason.SELF_SERVICE,
    )


async def publish(kafka: str, topic: str, key: str, *events: CloudEvent[Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sends = [await producer.send(topic, e.to_json_bytes(), key=key.encode()) for e in events]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def on_plan(service_url: str, kafka: str, org: str, plan: str, version: int = 1) -> None:
    """Publish the org's plan and wait until notify-service has projected it (a probe subscriber is refused
    or accepted accordingly is too indirect; the projection is read back through the plan gate instead)."""
    await publish(kafka, PLAN_EVENTS.name, org, plan_changed(org, plan, version))
    wanted = ChannelType.SLACK in catalogue().get(plan).entitlements.alert_channels
    async with httpx.AsyncClient(base_url=service_url, timeout=10) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe = await client.post(
                "/v1/subscribers",
                headers=token(org),
                json={"type": "slack", "name": "probe", "project_id": "probe", "config": {"webhook_url": "x"}},
            )
            # 403 = the plan gate refused slack; 422 = it got past the gate to the (invalid) URL check
            if (probe.status_code == 422) == wanted:
                return
            await asyncio.sleep(0.2)
    raise AssertionError(f"notify-service did not see {org} on {plan} within 30 s")


def sample_alert(org: str, fingerprint: str, **changes: Any) -> Alert:
    base: dict[str, Any] = {
        "fingerprint": fingerprint,
        "org_id": org,
        "project_id": "proj-1",
        "cluster_id": "cl-1",
        "cluster_plan": "dedicated",
        "rule": "node_memory_above_70pct_10m",
        "severity": "critical",
        "status": "firing",
        "starts_at": datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        "summary": "TiKV memory above 70% for 10 minutes",
        "description": "tikv-0 at 83%",
        "labels": {"instance": "tikv-0"},
        "link": "https://console.example/a/1",
    }
    base.update(changes)
    return Alert.model_validate(base)


@dataclass
class Notify:
    """A running notify-service process, its database, and the PagerDuty and SMTP stand-ins it is pointed at."""

    service: ServiceProcess
    db: str
    kafka: str
    pagerduty: Receiver | None = None
    mail: list[EmailMessage] = field(default_factory=list)
    slack_api: Any = None  # tests.fakes.slack_server.FakeSlack
    lark_api: Any = None  # tests.fakes.lark_server.FakeLark

    @property
    def url(self) -> str:
        return self.service.url

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.service.url, timeout=30)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.db)
        try:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows
        finally:
            await conn.close()

    async def alerts(self, *alerts: Alert) -> None:
        """Publish alerts to alert.events.v1 as upstream systems do."""
        if alerts:
            await publish(
                self.kafka, ALERT_EVENTS.name, alerts[0].org_id, *(alert_event(a, source="/tests") for a in alerts)
            )

    async def subscribe(self, org: str, body: dict[str, Any], role: str = "org_owner") -> dict[str, Any]:
        async with self.client() as client:
            answer = await client.post("/v1/subscribers", headers=token(org, role), json=body)
        assert answer.status_code == 201, answer.text
        saved: dict[str, Any] = answer.json()
        return saved

    async def webhook_per_alert(self, org: str, name: str, url: str) -> dict[str, Any]:
        """A webhook subscriber of the organisation's proj-1 that sends one alert per request (`group_by: ["..."]`:
        a duplicate request is one duplicate notification)."""
        body = {"type": "webhook", "name": name, "project_id": "proj-1", "config": {"url": url}, "group_by": ["..."]}
        return await self.subscribe(org, body)


async def skip_history(kafka: str, prefix: str) -> None:
    """Commit notify-service's consumer groups at the end of their topics, so a test's fresh service does not
    first read everything earlier tests and benchmarks left on the shared broker (a real deployment reads it).
    The topics are created first: on a fresh broker there is no end to commit at."""
    await ensure_topics(kafka)
    groups = (
        (".intake", ALERT_EVENTS),
        (".plans", PLAN_EVENTS),
        (".tickets", TICKET_EVENTS),
        (".chat", CHAT_EVENTS),
        (".notices", PLAN_EVENTS),
        (".ticket-notices", TICKET_EVENTS),
        (".actions", ALERT_ACTIONS),
    )
    for suffix, topic in groups:
        await commit_group_at_end(kafka, prefix + suffix, topic)


async def start_notify(kafka: str, database_url: str, log_dir: Path, **overrides: str) -> Notify:
    """A fresh database and a notify-service process on it (stop it with `.service.stop()`)."""
    db = await create_database(database_url, "notify")
    prefix = f"notify-{uuid.uuid4().hex[:8]}"
    await skip_history(kafka, prefix)  # creates the topics when the broker is fresh
    service = ServiceProcess("notify_service", notify_env(kafka, db, prefix, **overrides))
    service.start(log_dir)
    await service.wait_ready()
    return Notify(service, db, kafka)


class _Mailbox:
    def __init__(self, into: list[EmailMessage], refuse: set[str] | None = None) -> None:
        self.into, self.refuse = into, refuse if refuse is not None else set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:  # a mailbox the server refuses for good, as a real one does
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.into.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


class _Smtp(Controller):
    """aiosmtpd's Controller, whose stop also closes the connections clients still hold open: its thread's loop is
    closed on stop, and a connection left on a closed loop is garbage-collected later with a ResourceWarning."""

    def stop(self, no_assert: bool = False) -> None:
        if self._thread is not None and self.loop.is_running():
            closed = threading.Event()

            def close_connections() -> None:
                for transport in list(getattr(self.loop, "_transports", {}).values()):
                    if not transport.is_closing():
                        transport.close()
                self.loop.call_later(0.05, closed.set)  # after their connection_lost callbacks

            self.loop.call_soon_threadsafe(close_connections)
            closed.wait(5)
        super().stop(no_assert)


def smtp_server(into: list[EmailMessage], refuse: set[str] | None = None) -> Controller:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 collecting messages into `into`, refusing (550) the addresses in
    `refuse` (the set may change while it runs); call .start()/.stop()."""
    return _Smtp(_Mailbox(into, refuse), hostname="127.0.0.1", port=free_port())


async def caught_up(db: str, quiet_s: float = 1.5, timeout_s: float = 180) -> None:
    """Wait until a fresh notify-service has read the alert topic's history (its alert table stops growing)."""
    conn = await asyncpg.connect(db)
    try:
        last, still_since, deadline = -1, time.monotonic(), time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            count = await conn.fetchval("SELECT count(*) FROM alerts")
            if count != last:
                last, still_since = count, time.monotonic()
            elif time.monotonic() - still_since >= quiet_s:
                return
            await asyncio.sleep(0.25)
    finally:
        await conn.close()


_SHARED: dict[str, Notify] = {}
SLACK_SIGNING, SLACK_BOT_TOKEN = "slack-signing-secret-for-tests", "xoxb-notify-tests-0001"
LARK_APP_ID, LARK_APP_SECRET = "cli_notify_tests", "lark-app-secret-for-tests"
_KEEP = contextlib.AsyncExitStack()


async def shared_notify(kafka: str, database_url: str) -> Notify:
    """One notify-service for the e2e modules that can share it (each test uses its own organisation),
    pointed at a shared PagerDuty stand-in and SMTP server."""
    if "notify" not in _SHARED:
        from tests.fakes.lark_server import running_lark
        from tests.fakes.pagerduty_server import pagerduty
        from tests.fakes.slack_server import running_slack

        pd = await _KEEP.enter_async_context(serve(pagerduty()))
        slack_api = await _KEEP.enter_async_context(running_slack(SLACK_SIGNING, SLACK_BOT_TOKEN))
        lark_api = await _KEEP.enter_async_context(running_lark(LARK_APP_ID, LARK_APP_SECRET, "verification"))
        mail: list[EmailMessage] = []
        smtp = smtp_server(mail)
        smtp.start()
        _KEEP.callback(smtp.stop)
        log_dir = Path(tempfile.mkdtemp(prefix="notify-e2e-"))
        notify = await start_notify(
            kafka,
            database_url,
            log_dir,
            PAGERDUTY_EVENTS_URL=f"{pd.url}/v2/enqueue",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp.port),
            SLACK_API_URL=slack_api.api_url,
            SLACK_BOT_TOKEN=SLACK_BOT_TOKEN,
            LARK_API_URL=lark_api.api_url,
            LARK_APP_ID=LARK_APP_ID,
            LARK_APP_SECRET=LARK_APP_SECRET,
        )
        notify.pagerduty, notify.mail, notify.slack_api, notify.lark_api = pd, mail, slack_api, lark_api
        _KEEP.callback(notify.service.stop)  # runs first: nothing connects to the stand-ins once they stop
        _SHARED["notify"] = notify
    return _SHARED["notify"]


async def stop_shared_notify() -> None:
    """Stop the shared notify-service, then its stand-ins, on the loop they run on (tests/conftest.py calls this at
    the end of the session, before that loop closes)."""
    _SHARED.clear()
    await _KEEP.aclose()
