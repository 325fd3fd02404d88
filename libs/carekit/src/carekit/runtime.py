"""The live adapters of one service process: settings, the one Kafka broker, its publishers, the pool, and the
background loops, each supervised (restarted with backoff, counted, reported by /healthz)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from faststream.kafka import KafkaBroker
from prometheus_client import Counter
from pydantic import TypeAdapter

from care_schemas.topics import Topic
from carekit.consumer import Rejects, subscribe
from carekit.faults import storable
from carekit.kafka import Publishers
from carekit.metrics import watched_loop
from carekit.projection import PlanHook, subscribe_plan_projection
from carekit.settings import ServiceSettings

log = logging.getLogger(__name__)
E = TypeVar("E")

RESTARTS = Counter(
    "care_background_restarts_total", "Background loops restarted after they stopped (crashed or returned)", ["loop"]
)
HEALTHY_AFTER_S = 60.0  # a loop that ran this long before it stopped starts its backoff (and count) from scratch
FAILING_AFTER = 5  # this many stops in a row, each within HEALTHY_AFTER_S of its start: the loop is failing
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
STOP_GRACE_S = 10.0  # how long the shutdown waits for each step (loops, clients, broker, pool) before going on


@dataclass
class LoopHealth:
    """What /healthz says about one background loop."""

    name: str
    state: str = "running"  # running | restarting
    restarts: int = 0
    in_a_row: int = 0
    last_error: str | None = None
    last_stopped_at: str | None = None

    @property
    def failing(self) -> bool:
        return self.in_a_row >= FAILING_AFTER

    def view(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "restarts": self.restarts,
            "failing": self.failing,
            "last_error": self.last_error,
            "last_stopped_at": self.last_stopped_at,
        }


@dataclass
class Runtime:
    """Built with the app (broker, subscribers, publishers); the lifespan opens the pool and starts the rest."""

    settings: ServiceSettings
    broker: KafkaBroker
    publishers: Publishers
    name: str = "service"  # the distribution (`notify-service`): the source of the dead letters its consumers write
    _pool: asyncpg.Pool | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    loops: dict[str, LoopHealth] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def pool(self) -> asyncpg.Pool:
        """The Postgres pool (opened by the lifespan before any subscriber or loop runs)."""
        if self._pool is None:
            raise RuntimeError("the service has not started: the pool opens in the lifespan")
        return self._pool

    def spawn(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a background loop for the life of the service, supervised: when `run()` raises (or returns) it is
        called again after a backoff (1 s doubling to 60 s), counted in `care_background_restarts_total` and
        reported by /healthz. Pass the function, not a coroutine: a coroutine cannot be started twice."""
        health = self.loops[name] = LoopHealth(name)
        task = asyncio.create_task(_supervise(health, watched_loop(name, run)), name=name)
        self.tasks.append(task)

    def rejects(self, consumer: str) -> Rejects:
        """Where the records a consumer (its group id) can never process go: the dead-letter topic, with this
        service as their source."""
        return Rejects(self.publishers, consumer, f"/{self.name}")

    def subscribe(
        self,
        topic: Topic,
        group_id: str,
        adapter: TypeAdapter[E],
        handle: Callable[[E], Awaitable[None]],
        *,
        from_beginning: bool = True,
    ) -> None:
        """A typed subscriber on this service's broker (`carekit.consumer.subscribe`) whose rejects are
        dead-lettered under its group id."""
        subscribe(
            self.broker,
            topic=topic,
            group_id=group_id,
            adapter=adapter,
            handle=handle,
            rejects=self.rejects(group_id),
            from_beginning=from_beginning,
        )

    def project_plans(self, group_id: str, on_change: PlanHook | None = None) -> None:
        """Keep this service's plan projection from plan.events.v1 (`carekit.projection`), its rejects dead-lettered
        under `group_id`; `on_change` runs in the same transaction when an organisation's plan changes."""
        subscribe_plan_projection(
            self.broker, lambda: self.pool, group_id=group_id, rejects=self.rejects(group_id), on_change=on_change
        )

    async def stop_loops(self, grace_s: float = STOP_GRACE_S) -> list[str]:
        """Cancel every background loop and wait up to `grace_s` for them to end. A loop still running then is
        logged with where it is stuck and left behind, so that the service still stops; their names are returned."""
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        if not tasks:
            return []
        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        for task in pending:
            log.error(
                "background loop %s did not stop within %s s of its cancellation; stopping without it. It waits in: %s",
                task.get_name(),
                grace_s,
                awaiting(task),
            )
        return sorted(task.get_name() for task in pending)

    async def stop_clients(self, grace_s: float = STOP_GRACE_S) -> None:
        """Close the clients registered with `at_stop`, newest first, each given up to `grace_s`."""
        closers, self.closers = self.closers, []
        for close in reversed(closers):
            await bounded(close(), grace_s, "closing a client")

    def at_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Close a client (HTTP session, SMTP pool) when the service stops, after its loops have ended."""
        self.closers.append(close)

    @property
    def started(self) -> bool:
        return self._pool is not None

    @property
    def healthy(self) -> bool:
        return not any(h.failing for h in self.loops.values()) and all(not t.done() for t in self.tasks)


def awaiting(task: asyncio.Task[Any]) -> str:
    """Where a task is suspended: its chain of awaits, outermost first (`Task.print_stack` shows only the first)."""
    where: list[str] = []
    step: Any = task.get_coro()
    while step is not None:
        frame = getattr(step, "cr_frame", None) or getattr(step, "gi_frame", None)
        if frame is not None:
            where.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})")
        step = getattr(step, "cr_await", None) or getattr(step, "gi_yieldfrom", None)
    return " -> ".join(where) or "(nothing)"


async def bounded(step: Awaitable[None], grace_s: float, what: str) -> bool:
    """A shutdown step given up to `grace_s`: False (logged) when it failed or did not end in time."""
    try:
        async with asyncio.timeout(grace_s):
            await step
    except TimeoutError:
        log.error("%s did not end within %s s; stopping without it", what, grace_s)
        return False
    except Exception as exc:
        log.warning("%s failed: %s", what, storable(f"{type(exc).__name__}: {exc}")[:500])
        return False
    return True


async def _supervise(health: LoopHealth, run: Callable[[], Awaitable[None]]) -> None:
    backoff = FIRST_BACKOFF_S
    while True:
        started = time.monotonic()
        try:
            await run()
            error = "the loop returned"
            log.error("background loop %s returned; restarting it", health.name)
        except Exception as exc:
            error = storable(f"{type(exc).__name__}: {exc}")[:500]
            log.error("background loop %s crashed; restarting it", health.name, exc_info=exc)
        if time.monotonic() - started >= HEALTHY_AFTER_S:
            health.in_a_row, backoff = 0, FIRST_BACKOFF_S
        health.restarts += 1
        health.in_a_row += 1
        health.last_error = error
        health.last_stopped_at = datetime.now(UTC).isoformat()
        health.state = "restarting"
        RESTARTS.labels(health.name).inc()
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)
        health.state = "running"
