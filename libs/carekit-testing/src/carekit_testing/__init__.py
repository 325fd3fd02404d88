"""carekit-testing: the pytest plugin every test package uses (a dev-only package, never imported by services).

Real Kafka and Postgres for tests, fresh databases, service processes, topic readers, tokens and plan events.

Order of preference: KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL from the environment, then
testcontainers when a Docker engine answers, otherwise the test fails with how to start them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from fastapi import FastAPI
from pydantic import TypeAdapter

from care_schemas.catalogue import PlanCode, catalogue
from care_schemas.envelope import utcnow
from care_schemas.events.chat import (
    ChatEvent,
    ChatQuestionAsked,
    ChatQuestionAskedData,
    ChatThread,
    chat_event_adapter,
    question_id_of,
)
from care_schemas.events.plan import (
    Actor,
    ChangeReason,
    PlanEvent,
    SupportPlanChanged,
    SupportPlanChangedData,
    Tam,
    plan_event_adapter,
)
from care_schemas.events.ticket import TicketEvent, ticket_event_adapter
from care_schemas.topics import CHAT_EVENTS, PLAN_EVENTS, TICKET_EVENTS, Topic
from carekit.db import create_pool, migrate
from carekit.identity import mint
from carekit.kafka import Publishers, make_broker
from carekit.runtime import Runtime
from carekit.settings import ServiceSettings

E = TypeVar("E")
T = TypeVar("T")
K = TypeVar("K")
HOW_TO_START = "start them with `make infra-up` (no Docker needed) and export the variables it prints"
TEST_JWT_SECRET = "test-secret-0123456789-abcdefghijklmnop"  # noqa: S105


def _infra_file() -> Path | None:
    """`.cache/infra/infra.env` written by `make infra-up`, found from the working directory upwards."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        candidate = folder / ".cache" / "infra" / "infra.env"
        if candidate.exists():
            return candidate
    return None


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # any failure means no usable engine
        return False


def _port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False


def _infra_env() -> dict[str, str]:
    """Values written by infra/up.sh, used when the environment has none."""
    path = _infra_file()
    values: dict[str, str] = {}
    if path is not None:
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep:
                values[name.strip()] = value.strip()
    return values


def setting(name: str) -> str | None:
    """A connection setting from the environment, else from what `make infra-up` wrote."""
    return os.environ.get(name) or _infra_env().get(name)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker."""
    value = setting("KAFKA_BOOTSTRAP_SERVERS")
    if value:
        host, _, port = value.split(",")[0].rpartition(":")
        if not _port_open(host, int(port)):
            pytest.fail(f"Kafka at {value} does not answer; {HOW_TO_START}", pytrace=False)
        yield value
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    pytest.fail(
        f"no Kafka broker: KAFKA_BOOTSTRAP_SERVERS is unset and no Docker engine answers; {HOW_TO_START}", pytrace=False
    )


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A Postgres URL whose role may create databases."""
    value = setting("DATABASE_URL")
    if value:
        parts = urlsplit(value)
        if not _port_open(parts.hostname or "127.0.0.1", parts.port or 5432):
            pytest.fail(f"Postgres at {parts.hostname}:{parts.port} does not answer; {HOW_TO_START}", pytrace=False)
        yield value
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver=None) as pg:
            yield pg.get_connection_url()
        return
    pytest.fail(f"no Postgres: DATABASE_URL is unset and no Docker engine answers; {HOW_TO_START}", pytrace=False)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


_CREATED: list[tuple[str, str]] = []


async def create_database(admin_url: str, prefix: str = "t") -> str:
    """Create an empty, uniquely named database and return its URL (dropped when the test session ends)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    _CREATED.append((admin_url, name))
    return with_database(admin_url, name)


async def drop_created_databases() -> None:
    """Drop every database `create_database` made in this process."""
    while _CREATED:
        admin_url, name = _CREATED.pop()
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            conn = await asyncpg.connect(admin_url)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """Keep a long-lived development Postgres from filling up with test databases."""
    yield
    if _CREATED and os.environ.get("CARE_KEEP_TEST_DATABASES") != "1":
        asyncio.run(drop_created_databases())


@pytest_asyncio.fixture(loop_scope="session", scope="session", autouse=True)
async def _close_sockets_left_open(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """At the end of the session, before the shared event loop closes, close the sockets still open on it and name
    them. They are server-side connections of the tests' local receivers that a service process opened as the
    receiver stopped (accepted after the server let its connections go): harmless while the loop runs, but once it is
    closed each one is garbage-collected with a ResourceWarning, which `filterwarnings = error` turns into a failed
    run after every test has passed."""
    yield
    loop = asyncio.get_running_loop()
    left = [t for t in list(getattr(loop, "_transports", {}).values()) if not t.is_closing()]
    for transport in left:
        transport.close()
    if left:
        await asyncio.sleep(0.1)  # their connection_lost callbacks
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            names = sorted({type(t.get_protocol()).__qualname__ for t in left})
            reporter.write_line(f"closed {len(left)} socket(s) still open at the end of the session: {names}")


@pytest_asyncio.fixture
async def fresh_database_url(database_url: str) -> AsyncIterator[str]:
    """A new empty database for one test."""
    yield await create_database(database_url)


@pytest_asyncio.fixture(loop_scope="session")
async def one(pool: asyncpg.Pool, fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of one connection on the test's database, once its `pool` (the module's or conftest's fixture) has
    migrated it: the same prepared statements on every run, as a loop's connection has them. For the tests of
    statements planned after an ANALYZE that found their tables nearly empty (`entries_read_by`)."""
    created = await create_pool(fresh_database_url, max_size=1)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for org ids, consumer groups and the like."""
    return uuid.uuid4().hex[:10]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    """A service started as a real process (`python -m <module>`), stopped by its own PID."""

    module: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_dir: Path) -> None:
        env = {**os.environ, **self.env, "HTTP_PORT": str(self.port), "HTTP_HOST": "127.0.0.1"}
        self.log_path = log_dir / f"{self.module}-{self.port}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", self.module],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    async def wait_ready(self, timeout_s: float = 180) -> None:
        """Until /readyz answers 200 (a loaded two-core machine has taken over 60 s to start a service)."""
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise AssertionError(f"{self.module} exited with {self.proc.returncode}:\n{self.logs()[-4000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/readyz", timeout=2)).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise AssertionError(f"{self.module} not ready after {timeout_s}s:\n{self.logs()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR1)  # the kit's serve() dumps every thread's stack into the log
            time.sleep(1)
            self.proc.kill()
            self.proc.wait(timeout=5)


@contextlib.asynccontextmanager
async def migrated_pool(url: str, migrations: Path | None) -> AsyncIterator[asyncpg.Pool]:
    """A pool on `url` with the kit's migrations and a service's (None: the kit's only) applied; closed at the end."""
    pool = await create_pool(url)
    try:
        await migrate(pool, migrations)
        yield pool
    finally:
        await pool.close()


async def entries_read(pool: asyncpg.Pool, *tables: str) -> int:
    """Rows of `tables` read by whole-table scans and their index entries read, so far (what every backend has
    reported): a lookup by key reads one or two; a table or an index read whole, all of it."""
    count: int = await pool.fetchval(
        "SELECT COALESCE(sum(seq_tup_read), 0)::bigint FROM pg_stat_user_tables WHERE relname = ANY($1::text[])", tables
    )
    count += await pool.fetchval(
        "SELECT COALESCE(sum(idx_tup_read), 0)::bigint FROM pg_stat_user_indexes WHERE relname = ANY($1::text[])",
        tables,
    )
    return count


async def entries_read_by(
    pool: asyncpg.Pool, one: asyncpg.Pool, tables: tuple[str, ...], step: Callable[[], Awaitable[object]]
) -> int:
    """Rows and index entries of `tables` that `step` read, running on the pool `one` (its statistics flushed before
    and after, so that only the step's reads count). For the tests of statements planned after an ANALYZE that found
    their tables nearly empty: Postgres plans a prepared statement once for all after five runs (a pool of one
    connection reuses it), and such a plan may read a whole table on every run as it grows."""
    async with one.acquire() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")
    before = await entries_read(pool, *tables)
    await step()
    async with one.acquire() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")
    return await entries_read(pool, *tables) - before


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """`await awaitable`, or TimeoutError after `seconds`; a cancellation from outside always wins (unlike
    `asyncio.wait_for` on Python 3.11, which ruff bans here)."""
    async with asyncio.timeout(seconds):
        return await awaitable


async def eventually(check: Any, *, timeout_s: float = 20, interval_s: float = 0.1) -> Any:
    """Poll an async predicate until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last value: {last!r})")


class FakeClock:
    """A clock tests move by hand; pass it where a service takes `clock: Callable[[], datetime]`."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: datetime) -> None:
        self.now = at

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def bearer(secret: str, org: str, role: str, sub: str = "user-1") -> dict[str, str]:
    """An Authorization header for an identity."""
    return {"Authorization": f"Bearer {mint(secret, sub=sub, org=org, role=role)}"}


def plan_changed(
    org_id: str,
    plan: PlanCode,
    version: int,
    *,
    timezone: str = "UTC",
    tam: Tam | None = None,
    previous: PlanCode | None = None,
    reason: ChangeReason = ChangeReason.ADMIN,
) -> SupportPlanChanged:
    """A SupportPlanChanged as plan-service publishes it, with the catalogue's entitlements."""
    return SupportPlanChanged.build(
        source="/tests",
        subject=org_id,
        data=SupportPlanChangedData(
            org_id=org_id,
            plan=plan,
            previous_plan=previous,
            reason=reason,
            actor=Actor(sub="tests", role="admin"),
            version=version,
            effective_at=utcnow(),
            entitlements=catalogue().get(plan).entitlements,
            tam=tam,
            timezone=timezone,
        ),
    )


def question_asked(
    org: str,
    text: str,
    thread: ChatThread,
    *,
    message_id: str | None = None,
    earlier: list[str] | None = None,
    user: str = "UCUSTOMER",
    source: str = "/tests",
) -> ChatQuestionAsked:
    """A ChatQuestionAsked as ticket-service publishes it for a chat message (the thread root unless `message_id`)."""
    message = message_id or thread.thread_ts
    return ChatQuestionAsked.build(
        source=source,
        subject=thread.conversation_id,
        data=ChatQuestionAskedData(
            question_id=question_id_of(thread, message),
            conversation_id=thread.conversation_id,
            org_id=org,
            thread=thread,
            message_id=message,
            user=user,
            text=text,
            earlier=earlier or [],
            asked_at=datetime.now(UTC),
        ),
    )


@dataclass
class InProcess:
    """A service app running its lifespan in this process, with an HTTP client bound to it."""

    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


def asgi_request(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to an app without its lifespan, from a synchronous test (no network, no TestClient)."""

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(call())


@contextlib.asynccontextmanager
async def serve_in_process(app: FastAPI) -> AsyncIterator[InProcess]:
    """Run the app's lifespan (pool, migrations, consumers, loops) and yield a client bound to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{app.title}") as client:
            yield InProcess(app=app, client=client)


class TopicReader(Generic[E]):
    """Reads a topic from its end offsets at `start()`: what was published afterwards, raw and parsed."""

    def __init__(self, bootstrap: str, topic: Topic, adapter: TypeAdapter[E]) -> None:
        self.bootstrap, self.topic, self.adapter = bootstrap, topic, adapter
        self.records: list[ConsumerRecord[Any, Any]] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        parts = [TopicPartition(self.topic.name, p) for p in range(self.topic.partitions)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            consumer.seek(tp, ends[tp])
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def for_key(self, key: str, count: int, timeout_s: float = 20) -> list[ConsumerRecord[Any, Any]]:
        """At least `count` records keyed `key` (waits up to the deadline, then returns what arrived)."""
        assert self._consumer is not None, "call start() first"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            mine = [r for r in self.records if r.key == key.encode()]
            if len(mine) >= count or loop.time() >= deadline:
                return mine
            batch = await self._consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                self.records.extend(recs)

    async def events(self, key: str, count: int, timeout_s: float = 20) -> list[E]:
        return [self.adapter.validate_json(r.value) for r in await self.for_key(key, count, timeout_s)]

    async def of_kind(self, key: str, kind: type[K], count: int, timeout_s: float = 20) -> list[K]:
        """At least `count` events of `kind` keyed `key`, in the order they arrived; fails after `timeout_s`."""

        async def enough() -> list[K] | None:
            found = [e for e in await self.events(key, 10_000, timeout_s=0.3) if isinstance(e, kind)]
            return found if len(found) >= count else None

        result: list[K] = await eventually(enough, timeout_s=timeout_s)
        return result


async def commit_group_at_end(bootstrap: str, group_id: str, topic: Topic = PLAN_EVENTS) -> None:
    """Commit `group_id` at the end of `topic`, so a test's fresh consumer group does not first replay everything
    earlier tests left on the shared broker (a real deployment reads it all)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(parts)
        await consumer.commit(dict(await consumer.end_offsets(parts)))
    finally:
        await consumer.stop()


class PlanTopicReader(TopicReader[PlanEvent]):
    """What is published on plan.events.v1 after `start()`."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, PLAN_EVENTS, plan_event_adapter)


class TicketTopicReader(TopicReader[TicketEvent]):
    """What is published on ticket.events.v1 after `start()`."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, TICKET_EVENTS, ticket_event_adapter)


class ChatTopicReader(TopicReader[ChatEvent]):
    """What is published on chat.events.v1 after `start()`, keyed by conversation."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap, CHAT_EVENTS, chat_event_adapter)


@contextlib.asynccontextmanager
async def publishing(bootstrap: str, *topics: Topic) -> AsyncIterator[Publishers]:
    """Typed publishers on a started broker (the kit's, acks=all and idempotent), for tests that drive a relay."""
    broker = make_broker(bootstrap, client_id="tests")
    publishers = Publishers(broker, topics)
    await broker.start()
    try:
        yield publishers
    finally:
        await broker.stop()


def lark_links(content: str) -> list[str]:
    """The links of a Lark rich-text (`post`) message's content, as a chat user would click them."""
    post = json.loads(content)
    return [e["href"] for lang in post.values() for line in lang["content"] for e in line if e.get("tag") == "a"]


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def service_settings(cls: type[SettingsT], database_url: str, kafka: str, **overrides: object) -> SettingsT:
    """A service's settings for an in-process instance: test secret, port 0, then the test's own values."""
    values: dict[str, object] = {
        "kafka_bootstrap_servers": kafka,
        "database_url": database_url,
        "jwt_secret": TEST_JWT_SECRET,
        "http_port": 0,
        **overrides,
    }
    return cls.model_validate(values)


@pytest_asyncio.fixture(loop_scope="session")
async def plan_topic(kafka_bootstrap: str) -> AsyncIterator[PlanTopicReader]:
    """What plan-service publishes on plan.events.v1 during the test."""
    async with PlanTopicReader(kafka_bootstrap) as reader:
        yield reader


@pytest_asyncio.fixture(loop_scope="session")
async def chat_topic(kafka_bootstrap: str) -> AsyncIterator[ChatTopicReader]:
    """What is published on chat.events.v1 (questions, answers, feedback) during the test."""
    async with ChatTopicReader(kafka_bootstrap) as reader:
        yield reader


@pytest_asyncio.fixture(loop_scope="session")
async def ticket_topic(kafka_bootstrap: str) -> AsyncIterator[TicketTopicReader]:
    """What ticket-service publishes on ticket.events.v1 during the test."""
    async with TicketTopicReader(kafka_bootstrap) as reader:
        yield reader


def raw_producer(bootstrap: str) -> AIOKafkaProducer:
    """A plain aiokafka producer (acks=all, idempotent) for tests that send records as an upstream emitter would;
    services publish only through their broker's typed publishers."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)


@pytest_asyncio.fixture(loop_scope="session")
async def kafka_producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A started `raw_producer`, for a test that sends records as an upstream emitter would."""
    producer = raw_producer(kafka_bootstrap)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()
