"""notify-service beside Prometheus Alertmanager v0.35.0, same alerts, same local receiver (issue 14).

Alertmanager is built once from its Go module by scripts/go-tools.sh (cached in .cache/tools/bin) and runs on
127.0.0.1 with clustering off and one webhook receiver; notify-service runs as a process on a fresh database
with its defaults except for what each mode says. Both post to the same local receiver, which notes when each
alert arrives. Modes:

- `table` (default): grouping off (Alertmanager `group_by: ['...']`, `group_wait: 0s`, other timings its defaults;
  notify-service `GROUPING_WINDOW_S=0`, subscribers with `group_by: ['...']`, a target's limits lifted: webhook rate,
  and messages in flight per target as many as the process's). 100
  organisations on Enterprise (plan events on plan.events.v1, as plan-service publishes them), each with a webhook
  subscriber saved through the API. The same N alerts (alert i belongs to organisation i mod 100) go to both in
  the same requests, one at a time (`--in-flight N`: N at a time, as N senders each taking the next request): each
  request carries up to 1000 alerts of one organisation, since a
  notify-service token names one organisation (Alertmanager: `POST /api/v2/alerts`; notify-service: `POST
  /v1/alerts` with that organisation's token). Prints, per size: delivered/s (N / first push to last arrival), p50
  and p99 of arrival minus the push of the alert's request, CPU seconds per 1k alerts (Alertmanager's process;
  notify-service's process, plus its database's Postgres backends and the whole Kafka broker, which other users of
  the machine share), peak RSS of the process (VmHWM), and the ratio notify/Alertmanager; then, per run, what it
  cost the whole machine (every process's CPU seconds per 1k alerts from /proc/stat, this benchmark's own among
  them), the share of the cores busy while alerts were delivered, and the rate the cores would allow at that cost
  if all were busy. With `--split [N]`,
  notify-service runs as one process for the API and intake (`NOTIFY_ROLE=api`) beside N (default 1) that only
  deliver (`NOTIFY_ROLE=dispatcher`), the first of which takes the API's rows over a Unix socket
  (`DELIVERY_HANDOFF_SOCKET`; the others by claims); its CPU and peak RSS are then the processes' sums. With
  `--beside` too, the first process delivers as well (`NOTIFY_ROLE=all`, by default a share of 0.2 of the partitions
  against each dispatcher's 1), beside the dispatcher processes.
- `scale`: notify-service alone: one instance; two (same database and consumer group; the requests go to them in
  turn, as through a load balancer); an API-and-intake process with a separate dispatcher process
  (`NOTIFY_ROLE=api` / `dispatcher`, the rows handed over `DELIVERY_HANDOFF_SOCKET`); and a process that delivers
  beside a dispatcher process (`NOTIFY_ROLE=all` / `dispatcher`, the same socket), grouping off as in `table`, at
  the first two sizes.
- `history`: notify-service alone at the first size, on an empty history, then the same process again (new
  alerts) after `--history-copies` (100) copies of the first run's delivered notifications (firing and resolved,
  so 5,000 alerts give 1M), delivery attempts and alerts were written into its database as past history
  (resolved, looked at, within the retention period): the repeat check, claims and breach-style scans must not
  slow down with history. Not part of `all`.
- `grouped`: 20,000 alerts in 30 groups (30 organisations, one cluster each), grouping on: Alertmanager with
  `group_by: [cluster_id]`, `group_wait` and `group_interval` equal to notify-service's default grouping
  window (2 s); notify-service with its default grouping. Prints requests sent and time to deliver all.
- `cpu`: delivery alone. N webhook notifications queued in notify-service's database for 100 targets, then
  the CPU time its process spends sending them, beside a bare aiohttp client (its own process, the same
  rendered bodies, 64 in flight as notify-service's default): CPU seconds per 1k requests.

It prints figures and asserts no times; every run is bounded in time, sends only to 127.0.0.1, and stops
the processes it started by their PID. When it cannot run (no `go`, the module cannot be fetched, Kafka or
Postgres down, a port busy) it says why and exits 2; when a run does not deliver everything in time it prints
what did arrive, marked, and exits 1.

    uv run python bench/bench_vs_alertmanager.py [table|scale|history|grouped|cpu|all] [--sizes 5000,20000,100000]
        [--repeat 2] [--split [N]] [--beside] [--only am|notify] [--in-flight N] [--quick] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.am_harness import (
    ID_LABEL,
    Alertmanager,
    Arrivals,
    Machine,
    PostgresBackends,
    Receiver,
    Unavailable,
    am_config,
    cpu_seconds,
    go_tool,
    kafka_broker_pid,
    peak_rss_bytes,
    percentile,
    port_answers,
)
from bench.bench_notify_delivery import prepare
from care_schemas.events.alert import Alert
from care_schemas.topics import PLAN_EVENTS
from carekit_testing import ServiceProcess, create_database, raw_producer
from notify_service.adapters.leases import fair_share
from notify_service.domain.subscribers import PARTITIONS
from tests.receivers import bench_infra, notify_env, plan_changed, sample_alert, skip_history, token

HERE = Path(__file__).resolve().parent
ORGS = 100
BATCH = 1000
SETTLE_S = 1.0  # after the last arrival, before CPU is read: both systems finish recording what they sent
NOTIFY_WINDOW_S = 2.0  # notify-service's default GROUPING_WINDOW_S, mirrored in Alertmanager for `grouped`


class _Limits(TypedDict):
    WEBHOOK_RATE_PER_S: str
    WEBHOOK_BURST: str
    DELIVERY_TARGET_INFLIGHT: str


# A target's own limits, which Alertmanager does not have: its rate, and its messages in flight (16 by default, the
# crash-duplicate bound) raised to the process's (DELIVERY_CONCURRENCY, 64). Typed: mypy sees the keywords it fills.
LIFTED = _Limits(WEBHOOK_RATE_PER_S="100000", WEBHOOK_BURST="1000", DELIVERY_TARGET_INFLIGHT="64")
TEST_ONLY = ("RETRY_BASE_S", "RETRY_MAX_S", "RETRY_WINDOW_S", "DELIVERY_POLL_INTERVAL_S", "GROUPING_WINDOW_S")


@dataclass(frozen=True)
class Push:
    """One request: up to BATCH alerts of one organisation, in both systems' formats."""

    org: str
    ids: list[str]
    notify_body: bytes
    am_body: bytes


@dataclass
class Run:
    system: str
    n: int
    delivered: int
    seconds: float  # first push -> last arrival
    p50_ms: float
    p99_ms: float
    cpu_s: float
    rss: int
    extra_cpu_s: dict[str, float] = field(default_factory=dict)
    push_s: float = 0.0
    machine: Machine | None = None  # the whole machine, first push -> SETTLE_S after the last arrival
    machine_busy_share: float = math.nan  # the share of its cores busy, first push -> last arrival

    @property
    def rate(self) -> float:
        return self.delivered / max(self.seconds, 1e-9)

    @property
    def complete(self) -> bool:
        return self.delivered >= self.n

    def cpu_per_1k(self, with_extra: bool = False) -> float:
        total = self.cpu_s + (sum(self.extra_cpu_s.values()) if with_extra else 0.0)
        return total / max(self.delivered, 1) * 1000


def postable(alert: Alert) -> dict[str, Any]:
    """The alert as Alertmanager's postable alert, with the labels notify-service's webhook body shows."""
    labels = {
        **alert.labels,
        "alertname": alert.rule,
        "severity": alert.severity.value,
        "org_id": alert.org_id,
        "project_id": alert.project_id,
    }
    if alert.cluster_id:
        labels["cluster_id"] = alert.cluster_id
    return {
        "labels": labels,
        "annotations": {"summary": alert.summary, "description": alert.description},
        "startsAt": alert.starts_at.isoformat(),
        "generatorURL": alert.link or "",
    }


@dataclass(frozen=True)
class Workload:
    """N alerts, alert i of organisation i mod len(orgs) (and cluster i mod len(clusters)), sent as requests of
    at most BATCH alerts of one organisation, taking the organisations in turn."""

    run: str
    n: int
    orgs: list[str]
    clusters: list[str] | None = None

    def pushes(self) -> list[Push]:
        """The requests, built just before they are sent: `startsAt` is now, as for an alert that just fired
        (Alertmanager flushes a group at once when its first alert started more than group_wait ago)."""
        now = datetime.now(UTC)
        per_org: list[list[Alert]] = [[] for _ in self.orgs]
        for i in range(self.n):
            o = i % len(self.orgs)
            key = f"{self.run}-{i}"
            cluster = self.clusters[o] if self.clusters else "cl-1"
            labels = {"instance": "tikv-0", ID_LABEL: key}
            per_org[o].append(sample_alert(self.orgs[o], key, starts_at=now, cluster_id=cluster, labels=labels))
        pushes: list[Push] = []
        for start in range(0, max(len(a) for a in per_org), BATCH):
            for o, alerts in enumerate(per_org):
                chunk = alerts[start : start + BATCH]
                if chunk:
                    notify_body = json.dumps([a.model_dump(mode="json") for a in chunk]).encode()
                    am_body = json.dumps([postable(a) for a in chunk]).encode()
                    pushes.append(Push(self.orgs[o], [a.fingerprint for a in chunk], notify_body, am_body))
        return pushes

    def requests(self) -> int:
        per_org = [len(range(o, self.n, len(self.orgs))) for o in range(len(self.orgs))]
        return sum(math.ceil(count / BATCH) for count in per_org)

    def ids(self) -> list[str]:
        return [f"{self.run}-{i}" for i in range(self.n)]

    def warmup(self) -> list[Push]:
        """One alert of each organisation, each in a group of its own (so it is never sent again with others)."""
        return Workload(f"w{self.run}", len(self.orgs), self.orgs, ["cl-warmup"] * len(self.orgs)).pushes()


async def push_all(
    url: str | list[str],
    pushes: list[Push],
    body: Callable[[Push], bytes],
    headers: Callable[[Push], dict[str, str]],
    in_flight: int = 1,
) -> tuple[dict[str, float], float]:
    """Send the requests one at a time, or `in_flight` at a time as that many senders each taking the next request
    (to several instances: in turn, as a load balancer would); returns alert id -> when its request was sent, and
    the time it took."""
    urls = [url] if isinstance(url, str) else url
    sent: dict[str, float] = {}
    took: list[float] = []
    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        queued = iter(enumerate(pushes))

        async def sender() -> None:
            for i, push in queued:
                to = urls[i % len(urls)]
                at = time.perf_counter()
                async with http.post(
                    to, data=body(push), headers={"Content-Type": "application/json", **headers(push)}
                ) as answer:
                    text = await answer.text()
                    if answer.status >= 300:
                        raise Unavailable(f"POST {to} answered {answer.status}: {text[:300]}")
                sent.update(dict.fromkeys(push.ids, at))
                took.append((time.perf_counter() - at) * 1000)

        await asyncio.gather(*(sender() for _ in range(in_flight)))
    if len(took) > 1:
        print(
            f"  {len(took)} requests to {', '.join(urls)}:"
            f" p50 {percentile(took, 50):.0f} ms, max {max(took):.0f} ms each",
            file=sys.stderr,
        )
    return sent, time.perf_counter() - started


def summarise(system: str, n: int, sent: dict[str, float], arrivals: Arrivals, started: float) -> Run:
    mine = {k: t for k, t in arrivals.first.items() if k in sent}
    missing = [k for k in sent if k not in mine]
    if missing:
        print(f"{system}: {len(missing)} of {n} never arrived, e.g. {', '.join(missing[:5])}", file=sys.stderr)
    latencies = [(t - sent[k]) * 1000 for k, t in mine.items()]
    last = max(mine.values(), default=started)
    return Run(system, n, len(mine), last - started, percentile(latencies, 50), percentile(latencies, 99), 0.0, 0)


def deadline_s(n: int) -> float:
    return 120 + n / 200  # 100k alerts: at least 160/s, or the run is reported incomplete


class Profiler:
    """py-spy recording processes until stopped (each py-spy by its own PID), when --profile is given."""

    def __init__(self, out_dir: Path | None) -> None:
        self.out_dir = out_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, pids: int | list[int], name: str) -> None:
        """One py-spy per process: `name`.txt, or `name`-1.txt, `name`-2.txt ... in the order given (with
        `--split`: the API process first, then the dispatchers)."""
        if self.out_dir is None:
            return
        py_spy = shutil.which("py-spy")
        if py_spy is None:
            raise Unavailable("--profile needs py-spy: uv run --with py-spy python bench/bench_vs_alertmanager.py ...")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        pids = [pids] if isinstance(pids, int) else pids
        for i, pid in enumerate(pids, 1):
            out = self.out_dir / (f"{name}.txt" if len(pids) == 1 else f"{name}-{i}.txt")
            # --nonblocking: sampled without stopping the process, which would overstate its system calls
            cmd = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--nonblocking"]
            self.procs.append(
                subprocess.Popen([*cmd, "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs = []


async def delivery_shared(db: str, instances: int, timeout_s: float = 60) -> None:
    """Wait until `instances` notify-service processes hold every delivery partition, none more than its fair share
    (`DELIVERY_SHARE`; they rebalance on their lease renewals, every 2 s by default)."""
    conn = await asyncpg.connect(db)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            shares = {r["id"]: r["share"] for r in await conn.fetch("SELECT id, share FROM delivery_instances")}
            held = {
                r["owner"]: r["held"]
                for r in await conn.fetch(
                    "SELECT owner, count(*) AS held FROM delivery_partitions"
                    " WHERE owner IS NOT NULL AND lease_until > now() GROUP BY owner"
                )
            }
            over = {o: n for o, n in held.items() if n > fair_share(shares.get(o, 1.0), sum(shares.values()))}
            if len(held) >= instances and sum(held.values()) == PARTITIONS and not over:
                return
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"{len(held)} of {instances} notify-service instances hold {sum(held.values())} of {PARTITIONS}"
                    f" delivery partitions; over their fair share: {over}"
                )
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


HISTORY_SQL = [
    # every copy g of a delivered notification: another alert (fingerprint + g), resolved and looked at, g minutes
    # older, still within the retention period
    """
    INSERT INTO notifications (subscriber_id, org_id, channel, grp, fingerprint, status, severity, starts_at, round,
                               alert, state, attempts, next_attempt_at, window_from, created_at, delivered_at, part,
                               episode, repeated)
    SELECT n.subscriber_id, n.org_id, n.channel, n.grp || '-h' || g, n.fingerprint || '-h' || g, s.status,
           n.severity, n.starts_at - make_interval(mins => g), 0, n.alert, 'delivered', 1,
           n.next_attempt_at - make_interval(mins => g), n.window_from - make_interval(mins => g),
           n.created_at - make_interval(mins => g), n.delivered_at - make_interval(mins => g), n.part, 0, true
    FROM notifications n CROSS JOIN generate_series(1, $1) AS g CROSS JOIN (VALUES ('firing'), ('resolved')) s(status)
    WHERE n.state = 'delivered' AND n.fingerprint NOT LIKE '%-h%'
    """,
    """
    INSERT INTO delivery_attempts (org_id, subscriber_id, channel, notification_ids, fingerprints, attempt, outcome,
                                   http_status, detail, latency_ms, attempted_at)
    SELECT a.org_id, a.subscriber_id, a.channel, a.notification_ids, a.fingerprints, a.attempt, a.outcome,
           a.http_status, a.detail, a.latency_ms, a.attempted_at - make_interval(mins => g)
    FROM delivery_attempts a CROSS JOIN generate_series(1, $1) AS g
    """,
    """
    INSERT INTO alerts (org_id, fingerprint, status, starts_at, alert, event_id, event_time, episode)
    SELECT a.org_id, a.fingerprint || '-h' || g, 'resolved', a.starts_at - make_interval(mins => g), a.alert,
           a.event_id || '-h' || g, a.event_time - make_interval(mins => g), 0
    FROM alerts a CROSS JOIN generate_series(1, $1) AS g
    WHERE a.fingerprint NOT LIKE '%-h%'
    """,
]


async def write_history(db: str, copies: int) -> float:
    """Copy the delivered notifications (firing and resolved), delivery attempts and alerts `copies` times into
    notify-service's database as past history; how many notifications it now holds."""
    conn = await asyncpg.connect(db)
    try:
        started = time.perf_counter()
        for sql in HISTORY_SQL:
            await conn.execute(sql, copies)
        # as a database that has held its history for days: vacuumed and analysed (not autovacuum during the run)
        for table in ("notifications", "delivery_attempts", "alerts"):
            await conn.execute(f"VACUUM ANALYZE {table}")
        total: int = await conn.fetchval("SELECT count(*) FROM notifications")
        print(f"  history written in {time.perf_counter() - started:.0f} s: {total:,} notifications", file=sys.stderr)
        return float(total)
    finally:
        await conn.close()


# --- the two systems ---------------------------------------------------------------------------------------


@dataclass
class Bench:
    kafka: str
    admin: str
    receiver: Receiver
    am_binary: Path
    logs: Path
    profile: Profiler
    in_flight: int = 1  # table: requests in flight (senders taking the next request, `--in-flight`)
    last_arrivals: Arrivals = field(default_factory=Arrivals)

    async def alertmanager(self, load: Workload, route: dict[str, Any]) -> Run:
        config = am_config(f"{self.receiver.url}/am", **route)
        am = Alertmanager(self.am_binary, config, Path(tempfile.mkdtemp(prefix="am-", dir=self.logs)))
        am.start()
        try:
            await am.wait_ready()
            url = f"{am.url}/api/v2/alerts"
            await self._warm_up(url, load.warmup(), lambda p: p.am_body, lambda p: {})
            n, pushes = load.n, load.pushes()
            arrivals = self.receiver.begin(load.ids())
            cpu0, machine0 = cpu_seconds(am.pid), Machine.now()
            started = time.perf_counter()
            sent, push_s = await push_all(url, pushes, lambda p: p.am_body, lambda p: {}, self.in_flight)
            await arrivals.wait(n, deadline_s(n))
            run = summarise("Alertmanager", n, sent, arrivals, started)
            run.machine_busy_share = Machine.now().since(machine0).busy_share
            await asyncio.sleep(SETTLE_S)
            run.cpu_s, run.rss, run.push_s = cpu_seconds(am.pid) - cpu0, peak_rss_bytes(am.pid), push_s
            run.machine = Machine.now().since(machine0)
            self.last_arrivals = arrivals
            return run
        finally:
            am.stop()

    async def notify(
        self,
        load: Workload,
        group_by: list[str] | None = None,
        /,
        instances: int = 1,
        split: int = 0,
        beside: bool = False,
        **overrides: str,
    ) -> Run:
        """notify-service on a fresh database; with `instances` > 1, that many processes on the same database and
        consumer group (each takes its share of intake and of the delivery partitions), the requests sent to them
        in turn; with `split`, one process for the API and intake (`NOTIFY_ROLE=api`) and one that only delivers
        (`NOTIFY_ROLE=dispatcher`); with `beside` too, the first process delivers as well (`NOTIFY_ROLE=all`), beside
        the dispatcher processes. CPU and peak RSS are the sums of the processes'."""
        if split:  # the API hands its rows to the (first) dispatcher over a Unix socket, as the README says to run it
            socket_path = os.path.join(tempfile.gettempdir(), f"bench-notify-{os.getpid()}-{time.monotonic_ns()}.sock")
            role = "all" if beside else "api"
            overrides = {**overrides, "NOTIFY_ROLE": role, "DELIVERY_HANDOFF_SOCKET": socket_path}
        service, db = await self._start_notify(load.orgs, group_by, **overrides)
        services = [service]
        try:
            for _ in range(instances - 1):
                services.append(ServiceProcess("notify_service", dict(service.env)))
                services[-1].start(self.logs)
                await services[-1].wait_ready()
            if instances > 1:
                await delivery_shared(db, instances)
            urls = [f"{s.url}/v1/alerts" for s in services]
            for _ in range(split):
                services.append(ServiceProcess("notify_service", {**service.env, "NOTIFY_ROLE": "dispatcher"}))
                services[-1].start(self.logs)
                await services[-1].wait_ready()
            if split:
                await delivery_shared(db, split + int(beside))
            tokens = {org: token(org) for org in load.orgs}
            for url in urls:
                await self._warm_up(url, load.warmup(), lambda p: p.notify_body, lambda p: tokens[p.org])
            shape = (f" x{instances}" if instances > 1 else "") + (
                f" {'all' if beside else 'api'} + {split} dispatcher{'s' if split > 1 else ''}" if split else ""
            )
            system = "notify-service" + shape
            return await self._measure_notify(services, db, urls, load, system)
        finally:
            self.profile.stop()
            for s in services:
                s.stop()

    async def _measure_notify(
        self, services: list[ServiceProcess], db: str, urls: list[str], load: Workload, system: str
    ) -> Run:
        """Push the load to running notify-service processes and measure until every alert has arrived."""
        tokens = {org: token(org) for org in load.orgs}
        pids = [s.proc.pid for s in services if s.proc is not None]
        postgres = PostgresBackends(urlsplit(db).path.lstrip("/"))
        broker = kafka_broker_pid(self.kafka)
        n, pushes = load.n, load.pushes()
        arrivals = self.receiver.begin(load.ids())
        postgres.start()
        cpu0, kafka0 = sum(map(cpu_seconds, pids)), cpu_seconds(broker) if broker else 0.0
        self.profile.start(pids, f"notify-{n}-{load.run}")
        machine0 = Machine.now()
        started = time.perf_counter()
        sent, push_s = await push_all(urls, pushes, lambda p: p.notify_body, lambda p: tokens[p.org], self.in_flight)
        await arrivals.wait(n, deadline_s(n))
        run = summarise(system, n, sent, arrivals, started)
        run.machine_busy_share = Machine.now().since(machine0).busy_share
        await asyncio.sleep(SETTLE_S)
        run.cpu_s, run.push_s = sum(map(cpu_seconds, pids)) - cpu0, push_s
        run.machine = Machine.now().since(machine0)
        run.rss = sum(map(peak_rss_bytes, pids))  # several processes: the sum of their peaks (an upper bound)
        run.extra_cpu_s["Postgres"] = await postgres.stop()
        if broker:
            run.extra_cpu_s["Kafka"] = cpu_seconds(broker) - kafka0
        self.profile.stop()
        self.last_arrivals = arrivals
        return run

    async def notify_with_history(self, first: Workload, second: Workload, copies: int) -> tuple[Run, Run, float]:
        """The same notify-service measured on an empty history (`first`), then again (`second`, new alerts) after
        `copies` copies of every notification, delivery attempt and alert of the first run were written into its
        database as history (delivered and resolved, within the retention period); and the history's size."""
        service, db = await self._start_notify(first.orgs, ["..."], GROUPING_WINDOW_S="0", **LIFTED)
        try:
            url = f"{service.url}/v1/alerts"
            tokens = {org: token(org) for org in first.orgs}
            await self._warm_up(url, first.warmup(), lambda p: p.notify_body, lambda p: tokens[p.org])
            empty = await self._measure_notify([service], db, [url], first, "notify-service, empty history")
            rows = await write_history(db, copies)
            await self._warm_up(url, second.warmup(), lambda p: p.notify_body, lambda p: tokens[p.org])
            full = await self._measure_notify([service], db, [url], second, f"notify-service, {rows:,.0f} in history")
            return empty, full, rows
        finally:
            self.profile.stop()
            service.stop()

    async def _warm_up(
        self, url: str, warmup: list[Push], body: Callable[[Push], bytes], headers: Callable[[Push], dict[str, str]]
    ) -> None:
        """One alert of each organisation through the whole path first, so that connection set-up, consumer joins
        and each target's first use are not measured."""
        ids = [i for push in warmup for i in push.ids]
        arrivals = self.receiver.begin(ids)
        await push_all(url, warmup, body, headers)
        if not await arrivals.wait(len(ids), 60):
            raise Unavailable(f"the warm-up alerts sent to {url} did not reach the receiver within 60 s")

    async def _start_notify(
        self, orgs: list[str], group_by: list[str] | None = None, /, **overrides: str
    ) -> tuple[ServiceProcess, str]:
        db = await create_database(self.admin, "bench_am")
        prefix = f"bench-am-{uuid.uuid4().hex[:6]}"
        env = notify_env(self.kafka, db, prefix)
        for name in TEST_ONLY:  # notify-service's own defaults, not the tests' short windows
            env.pop(name, None)
        env.update(LOG_LEVEL="WARNING", **overrides)
        await skip_history(self.kafka, prefix)
        service = ServiceProcess("notify_service", env)
        service.start(self.logs)
        try:
            await service.wait_ready()
            await self._enterprise(orgs)
            await self._subscribe(service.url, orgs, group_by)
        except BaseException:
            service.stop()
            raise
        return service, db

    async def _enterprise(self, orgs: list[str]) -> None:
        """Each organisation moves to Enterprise, as plan-service announces it on plan.events.v1."""
        if not orgs:
            return
        producer = raw_producer(self.kafka)
        await producer.start()
        try:
            sends = [
                await producer.send(
                    PLAN_EVENTS.name, plan_changed(org, "enterprise", 1).to_json_bytes(), key=org.encode()
                )
                for org in orgs
            ]
            await asyncio.gather(*sends)
        finally:
            await producer.stop()

    async def _subscribe(self, base: str, orgs: list[str], group_by: list[str] | None) -> None:
        """A webhook subscriber per organisation, through the API (403 until the plan event is applied); `group_by`
        as Alertmanager's route (None: notify-service's default, by cluster)."""
        slots = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=base, timeout=30) as api:

            async def one(org: str) -> None:
                config = {"url": f"{self.receiver.url}/{org}"}
                body: dict[str, object] = {"type": "webhook", "name": "bench", "project_id": "proj-1", "config": config}
                if group_by is not None:
                    body["group_by"] = group_by
                deadline = time.monotonic() + 60
                async with slots:
                    while True:
                        answer = await api.post("/v1/subscribers", headers=token(org), json=body)
                        if answer.status_code == 201:
                            return
                        if answer.status_code != 403 or time.monotonic() > deadline:
                            raise Unavailable(f"subscriber for {org} refused: {answer.status_code} {answer.text}")
                        await asyncio.sleep(0.2)

            await asyncio.gather(*(one(org) for org in orgs))

    async def notify_delivery_cpu(self, n: int, targets: int) -> tuple[float, float, float]:
        """CPU seconds of notify-service's process (and its Postgres backends) to deliver n queued notifications,
        and the seconds it took."""
        run = uuid.uuid4().hex[:6]
        service, db = await self._start_notify([], GROUPING_WINDOW_S="0", **LIFTED)
        try:
            assert service.proc is not None
            pid = service.proc.pid
            await prepare(db, run, self.receiver.url, n, targets, due_in_s=2.0)
            arrivals = self.receiver.begin(f"fp-{run}-{i}" for i in range(n))
            postgres = PostgresBackends(urlsplit(db).path.lstrip("/"))
            postgres.start()
            self.profile.start(pid, f"cpu-{n}-{run}")
            cpu0 = cpu_seconds(pid)
            if not await arrivals.wait(n, deadline_s(n)):
                raise Unavailable(f"notify-service delivered {len(arrivals.first)} of {n} in {deadline_s(n):g}s")
            conn = await asyncpg.connect(db)
            try:
                postgres.exclude.add(conn.get_server_pid())
                deadline = time.monotonic() + 60
                while await conn.fetchval("SELECT count(*) FROM notifications WHERE state <> 'delivered'"):
                    if time.monotonic() > deadline:
                        raise Unavailable("notify-service did not record every delivery within 60 s")
                    await asyncio.sleep(0.05)
            finally:
                await conn.close()
            cpu = cpu_seconds(pid) - cpu0
            self.profile.stop()
            seconds = max(arrivals.first.values()) - min(arrivals.first.values())
            return cpu, await postgres.stop(), seconds
        finally:
            service.stop()


# --- modes -------------------------------------------------------------------------------------------------


TABLE_HEAD = (
    "| Alerts | System | Delivered/s | p50 | p99 | CPU s per 1k | Peak RSS |",
    "|---|---|---|---|---|---|---|",
)


def fmt_ms(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:,.0f} ms"


def row(label: str, r: Run) -> str:
    extra = ""
    if r.extra_cpu_s:
        parts = ", ".join(f"+{v / max(r.delivered, 1) * 1000:.2f} {k}" for k, v in r.extra_cpu_s.items())
        extra = f" ({parts})"
    note = "" if r.complete else f" **only {r.delivered:,} of {r.n:,} arrived within {deadline_s(r.n):g} s**"
    return (
        f"| {label} | {r.system} | {r.rate:,.0f} | {fmt_ms(r.p50_ms)} | {fmt_ms(r.p99_ms)} |"
        f" {r.cpu_per_1k():.2f}{extra} | {r.rss / 1e6:,.0f} MB |{note}"
    )


def ratio_row(label: str, ours: Run, theirs: Run) -> str:
    def q(a: float, b: float) -> str:
        return "-" if not b or math.isnan(a) or math.isnan(b) else f"{a / b:.2f}"

    cpu = q(ours.cpu_per_1k(), theirs.cpu_per_1k())
    cpu_all = q(ours.cpu_per_1k(with_extra=True), theirs.cpu_per_1k())
    return (
        f"| {label} | notify/AM | {q(ours.rate, theirs.rate)} | {q(ours.p50_ms, theirs.p50_ms)} |"
        f" {q(ours.p99_ms, theirs.p99_ms)} | {cpu} ({cpu_all} with Postgres and Kafka) | {q(ours.rss, theirs.rss)} |"
    )


MACHINE_HEAD = (
    "| Alerts | System | Machine CPU s per 1k | of which this benchmark | Cores busy | Most the cores allow |",
    "|---|---|---|---|---|---|",
)
CORES = os.cpu_count() or 1


def machine_row(label: str, r: Run) -> str:
    """What a run cost the whole machine: every process's CPU seconds per 1k alerts delivered (the system's, its
    Postgres and Kafka, this benchmark's pusher and receiver, anything else running), the share of the cores busy
    while alerts were delivered, and the rate the machine's cores would allow at that cost if all were busy."""
    if r.machine is None:
        return f"| {label} | {r.system} | - | - | - | - |"
    per_1k = r.machine.busy_s / max(r.delivered, 1) * 1000
    own = r.machine.own_s / max(r.delivered, 1) * 1000
    most = CORES * 1000 / per_1k if per_1k else math.nan
    return (
        f"| {label} | {r.system} | {per_1k:.2f} | {own:.2f} | {100 * r.machine_busy_share:.0f} % of {CORES} |"
        f" {most:,.0f}/s |"
    )


async def table(
    bench: Bench, sizes: list[int], repeat: int, split: int = 0, only: str | None = None, beside: bool = False
) -> bool:
    orgs = [f"am-{uuid.uuid4().hex[:6]}-{i}" for i in range(ORGS)]
    route = {"group_by": ["..."], "group_wait": "0s"}
    lines = list(TABLE_HEAD)
    machine = list(MACHINE_HEAD)
    complete = True
    for n in sizes:
        for rep in range(repeat):
            run = uuid.uuid4().hex[:6]
            load = Workload(run, n, orgs)
            label = f"{n:,}" + (f" #{rep + 1}" if repeat > 1 else "")
            results: dict[str, Run] = {}
            order = ("am", "notify") if rep % 2 == 0 else ("notify", "am")  # alternate who goes first
            for name in (only,) if only else order:
                print(f"[{label}] {name}: pushing {n:,} alerts in {load.requests()} requests ...", file=sys.stderr)
                if name == "am":
                    r = await bench.alertmanager(load, route)
                else:
                    # grouping off on both sides: Alertmanager group_by ['...'], the subscriber's group_by the same
                    r = await bench.notify(load, ["..."], split=split, beside=beside, GROUPING_WINDOW_S="0", **LIFTED)
                results[name] = r
                print(
                    f"[{label}] {name}: {r.delivered:,} delivered in {r.seconds:.2f} s (push {r.push_s:.2f} s)",
                    file=sys.stderr,
                )
            complete = complete and all(r.complete for r in results.values())
            lines += [row(label, r) for r in results.values()]
            machine += [machine_row(label, r) for r in results.values()]
            if len(results) == 2:
                lines.append(ratio_row(label, results["notify"], results["am"]))
    at_a_time = "one at a time" if bench.in_flight == 1 else f"{bench.in_flight} at a time"
    print(f"\ngrouping off; each system alone on the machine in turn; same alerts and requests, {at_a_time}")
    print("\n".join(lines))
    print(
        "CPU s per 1k: the system's own process; for notify-service (+ its database's Postgres backends, + the"
        " whole Kafka broker, shared with anything else running). Peak RSS: the process's VmHWM"
        + (f" (notify-service: the sum of its {split + 1} processes')." if split else ".")
    )
    print("\nThe whole machine during each run (first push -> 1 s after the last arrival)")
    print("\n".join(machine))
    print(
        "Machine CPU s per 1k: every process's (/proc/stat), of which this benchmark's own (its pusher and"
        " receiver, the same work for both systems). Cores busy: first push -> last arrival. Most the cores"
        f" allow: {CORES} cores / machine CPU s per alert, the rate if every core were busy at that cost."
    )
    return complete


async def scale(bench: Bench, sizes: list[int], repeat: int) -> bool:
    """notify-service alone, one instance beside two on the same database, grouping off as in `table`."""
    orgs = [f"sc-{uuid.uuid4().hex[:6]}-{i}" for i in range(ORGS)]
    lines = list(TABLE_HEAD)
    complete = True
    for n in sizes:
        for rep in range(repeat):
            load = Workload(uuid.uuid4().hex[:6], n, orgs)
            label = f"{n:,}" + (f" #{rep + 1}" if repeat > 1 else "")
            results: dict[str, Run] = {}
            shapes = ("one", "two", "split", "beside")
            for shape in shapes if rep % 2 == 0 else reversed(shapes):
                print(f"[{label}] notify-service {shape}: pushing {n:,} alerts ...", file=sys.stderr)
                instances, split = (2, 0) if shape == "two" else (1, int(shape in ("split", "beside")))
                r = await bench.notify(
                    load,
                    ["..."],
                    instances=instances,
                    split=split,
                    beside=shape == "beside",
                    GROUPING_WINDOW_S="0",
                    **LIFTED,
                )
                results[shape] = r
                complete = complete and r.complete
            one = results["one"]
            lines += [row(label, results[shape]) for shape in shapes]
            lines.append(
                f"| {label} | x2; api + dispatcher; all + dispatcher / x1 | "
                + "; ".join(f"{results[shape].rate / max(one.rate, 1e-9):.2f}" for shape in shapes[1:])
                + " | | | | |"
            )
    print(
        "\nnotify-service: 1 instance; 2 instances (same database and consumer group, requests sent to them in"
        " turn); 1 API-and-intake process beside 1 dispatcher process (NOTIFY_ROLE api / dispatcher, rows handed"
        " over DELIVERY_HANDOFF_SOCKET); 1 process that delivers too beside 1 dispatcher process (NOTIFY_ROLE all /"
        " dispatcher, the same socket)"
    )
    print("\n".join(lines))
    print("CPU s per 1k: the processes together (+ Postgres backends, + the Kafka broker). Peak RSS: their sum.")
    return complete


async def history(bench: Bench, n: int, copies: int) -> bool:
    """notify-service on an empty history, then the same process again after copies of the first run's records
    were written as history (n x copies x 2 notifications: firing and resolved)."""
    orgs = [f"hi-{uuid.uuid4().hex[:6]}-{i}" for i in range(ORGS)]
    first, second = Workload(uuid.uuid4().hex[:6], n, orgs), Workload(uuid.uuid4().hex[:6], n, orgs)
    print(f"[history] {n:,} alerts, then {n * copies * 2:,} notifications of history ...", file=sys.stderr)
    empty, full, rows = await bench.notify_with_history(first, second, copies)
    lines = [
        *TABLE_HEAD,
        row(f"{n:,}", empty),
        row(f"{n:,}", full),
        f"| {n:,} | with history / empty | {full.rate / max(empty.rate, 1e-9):.2f} |"
        f" {full.p50_ms / max(empty.p50_ms, 1e-9):.2f} | {full.p99_ms / max(empty.p99_ms, 1e-9):.2f} |"
        f" {full.cpu_per_1k(True) / max(empty.cpu_per_1k(True), 1e-9):.2f} (with Postgres and Kafka) | |",
    ]
    print(f"\nnotify-service, the same process before and after {rows:,.0f} notifications of history")
    print("\n".join(lines))
    return empty.complete and full.complete


async def grouped(bench: Bench, n: int, groups: int, repeat: int) -> bool:
    prefix = uuid.uuid4().hex[:6]
    orgs = [f"amg-{prefix}-{g}" for g in range(groups)]
    clusters = [f"cl-{g}" for g in range(groups)]
    window = f"{NOTIFY_WINDOW_S:g}s"
    route = {"group_by": ["cluster_id"], "group_wait": window, "group_interval": window}
    how = {
        "Alertmanager": f"group_by [cluster_id], group_wait {window}, group_interval {window}",
        "notify-service": f"default grouping (GROUPING_WINDOW_S {NOTIFY_WINDOW_S:g} s), a target's limits lifted",
    }
    lines = [
        "| Run | System | Requests sent | Most alerts in one request | Alert entries sent | Time to deliver all |",
        "|---|---|---|---|---|---|",
    ]
    complete = True
    for rep in range(repeat):
        load = Workload(uuid.uuid4().hex[:6], n, orgs, clusters)
        print(f"[grouped #{rep + 1}] {n:,} alerts in {groups} groups, one request per group ...", file=sys.stderr)
        for name in ("am", "notify") if rep % 2 == 0 else ("notify", "am"):
            if name == "am":
                r = await bench.alertmanager(load, route)
            else:
                r = await bench.notify(load, **LIFTED)  # its default grouping window
            seen = bench.last_arrivals
            complete = complete and r.complete
            done = f"{r.seconds:.1f} s" if r.complete else f"only {r.delivered:,} of {n:,} within {deadline_s(n):g} s"
            lines.append(
                f"| #{rep + 1} | {r.system} ({how[r.system]}) | {seen.requests:,} | {seen.most_per_request:,} |"
                f" {seen.entries:,} | {done} |"
            )
    print(f"\ngrouping on: {n:,} alerts in {groups} groups ({groups} organisations, one cluster each)")
    print("\n".join(lines))
    return complete


async def delivery_cpu(bench: Bench, n: int, targets: int, repeat: int) -> bool:
    lines = ["| Run | Client | CPU s per 1k requests | Requests/s |", "|---|---|---|---|"]
    for rep in range(repeat):
        print(f"[cpu #{rep + 1}] notify-service delivering {n:,} queued webhook notifications ...", file=sys.stderr)
        ours, postgres, seconds = await bench.notify_delivery_cpu(n, targets)
        bare = await bare_client(bench.receiver.url, n, targets)
        lines += [
            f"| #{rep + 1} | notify-service process (+ its Postgres backends) | {ours / n * 1000:.3f}"
            f" (+{postgres / n * 1000:.3f}) | {n / seconds:,.0f} |",
            f"| #{rep + 1} | bare aiohttp client, own process, {bare['concurrency']} in flight |"
            f" {bare['cpu_s'] / n * 1000:.3f} | {n / bare['wall_s']:,.0f} |",
            f"| #{rep + 1} | ratio notify/bare | {ours / bare['cpu_s']:.2f} | |",
        ]
    print(f"\ndelivery CPU per request: {n:,} queued webhook notifications (one alert each) to {targets} local targets")
    print("\n".join(lines))
    return True


async def bare_client(base: str, n: int, targets: int) -> dict[str, Any]:
    """The bare baseline in a process of its own (am_harness.py bare-client), so its CPU time is its own."""
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, str(HERE / "am_harness.py"), "bare-client", base, str(n), str(targets)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(deadline_s(n)):
            out, err = await child.communicate()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    if child.returncode != 0:
        raise Unavailable(f"the bare client failed:\n{err.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def main(args: argparse.Namespace) -> int:
    async with bench_infra() as (kafka, admin):
        host, _, port = kafka.split(",")[0].rpartition(":")
        pg = urlsplit(admin)
        if not port_answers(host, int(port)) or not port_answers(pg.hostname or "127.0.0.1", pg.port or 5432):
            raise Unavailable("Kafka or Postgres does not answer; start them with `make infra-up`")
        binary = go_tool("alertmanager")
        receiver = Receiver()
        await receiver.start()
        logs = Path(tempfile.mkdtemp(prefix="bench-vs-am-"))
        print(f"Alertmanager: {binary}; receiver {receiver.url}; logs {logs}", file=sys.stderr)
        bench = Bench(kafka, admin, receiver, binary, logs, Profiler(args.profile), args.in_flight)
        ok = True
        try:
            if args.mode in ("table", "all"):
                ok = await table(bench, args.sizes, args.repeat, args.split, args.only, args.beside) and ok
            if args.mode in ("scale", "all"):
                ok = await scale(bench, args.sizes[:2], args.repeat) and ok
            if args.mode == "history":
                ok = await history(bench, args.sizes[0], args.history_copies) and ok
            if args.mode in ("grouped", "all"):
                ok = await grouped(bench, args.grouped_alerts, 30, args.repeat) and ok
            if args.mode in ("cpu", "all"):
                ok = await delivery_cpu(bench, args.cpu_requests, 100, args.repeat) and ok
        finally:
            await receiver.stop()
        return 0 if ok else 1


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = ["table", "scale", "history", "grouped", "cpu", "all"]
    parser.add_argument("mode", nargs="?", default="table", choices=modes)
    parser.add_argument("--sizes", default="5000,20000,100000", help="alerts per table run, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement (the order alternates)")
    parser.add_argument(
        "--split",
        type=int,
        nargs="?",
        const=1,
        default=0,
        metavar="N",
        help="table: notify-service as an API-and-intake process beside N dispatcher processes (NOTIFY_ROLE; N=1)",
    )
    parser.add_argument(
        "--beside",
        action="store_true",
        help="table: the API-and-intake process of --split delivers too (NOTIFY_ROLE=all), beside the dispatchers"
        " (--split 1 unless given)",
    )
    parser.add_argument("--only", choices=["am", "notify"], help="table: run one system only (no ratio row)")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=1,
        help="table: requests in flight, as that many senders each taking the next request (default 1: one at a time)",
    )
    parser.add_argument("--grouped-alerts", type=int, default=20_000)
    parser.add_argument(
        "--history-copies", type=int, default=100, help="history mode: copies of the first run (x 2 notifications)"
    )
    parser.add_argument("--cpu-requests", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 alerts, 2,000 grouped, 2,000 requests")
    parser.add_argument("--profile", type=Path, help="record notify-service with py-spy into this folder")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.in_flight < 1:
        parser.error("--in-flight: at least 1")
    if args.beside and not args.split:
        args.split = 1
    if args.quick:
        args.sizes, args.repeat, args.grouped_alerts, args.cpu_requests = [1000], 1, 2000, 2000
    return args


if __name__ == "__main__":
    try:
        sys.exit(uvloop.run(main(parse(sys.argv[1:]))))
    except Unavailable as exc:
        print(f"bench_vs_alertmanager: cannot run: {exc}", file=sys.stderr)
        sys.exit(2)
