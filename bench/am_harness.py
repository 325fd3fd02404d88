"""Pieces of bench_vs_alertmanager.py: the Alertmanager binary and process, the shared local receiver, and
meters that read CPU time and peak memory of processes from /proc.

`python bench/am_harness.py bare-client BASE N TARGETS` is the bare baseline of the CPU mode, run as its own
process so that its CPU time is its own: it posts N rendered webhook bodies to BASE/t<i % TARGETS> with the
delivery benchmark's client and prints {"cpu_s", "wall_s", "requests"} as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import uvloop
import yaml

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
ID_LABEL = "bench_id"  # the label that names each alert of a run, in both systems' webhook bodies
OK_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class Unavailable(Exception):
    """The benchmark cannot run here; the message says why and what to do."""


def go_tool(name: str) -> Path:
    """The cached binary of a pinned Go tool, built by scripts/go-tools.sh when missing."""
    script = ROOT / "scripts" / "go-tools.sh"
    done = subprocess.run(["bash", str(script), name], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Unavailable(f"{name} could not be installed by scripts/go-tools.sh:\n{done.stderr.strip()}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    return Path(done.stdout.strip().splitlines()[-1])


def port_answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- Alertmanager ------------------------------------------------------------------------------------------


def am_config(webhook_url: str, group_by: list[str], **timings: str) -> dict[str, Any]:
    """One route, one webhook receiver; timings not given keep Alertmanager's defaults."""
    route: dict[str, Any] = {"receiver": "bench", "group_by": group_by, **timings}
    webhook = {"url": webhook_url, "send_resolved": False}
    return {"route": route, "receivers": [{"name": "bench", "webhook_configs": [webhook]}]}


@dataclass
class Alertmanager:
    """An Alertmanager process on 127.0.0.1 (clustering off), stopped by its own PID."""

    binary: Path
    config: dict[str, Any]
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        if port_answers("127.0.0.1", self.port):
            raise Unavailable(f"port {self.port} on 127.0.0.1 is busy; cannot start Alertmanager there")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "alertmanager.yml"
        config.write_text(yaml.safe_dump(self.config, sort_keys=False))
        with (self.workdir / "alertmanager.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    str(self.binary),
                    f"--config.file={config}",
                    f"--storage.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",  # no gossip port, no HA settling wait
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log_tail(self) -> str:
        path = self.workdir / "alertmanager.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    async def wait_ready(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise Unavailable(f"Alertmanager exited with {self.proc.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/-/ready", timeout=2)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise Unavailable(f"Alertmanager not ready on {self.url} after {timeout_s:g}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


# --- the shared local receiver -----------------------------------------------------------------------------


@dataclass
class Arrivals:
    """What one run delivered: the first arrival of each alert (by its bench_id label, else its fingerprint),
    and how many requests and alert entries (repeats included) came."""

    expected: frozenset[str] = (
        frozenset()
    )  # what this run sent; other alerts (a warm-up, a test message) are not counted
    first: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    entries: int = 0
    most_per_request: int = 0
    dry_runs: int = 0
    unreadable: int = 0

    def take(self, at: float, body: bytes) -> None:
        try:
            doc = json.loads(body)
            alerts = doc["alerts"]
        except (ValueError, KeyError, TypeError):
            self.unreadable += 1
            return
        if doc.get("dryRun"):  # notify-service's test message when a subscriber is saved
            self.dry_runs += 1
            return
        keys = [alert.get("labels", {}).get(ID_LABEL) or alert.get("fingerprint") for alert in alerts]
        keys = [k for k in keys if k in self.expected]
        if not keys:
            return
        self.requests += 1
        self.entries += len(keys)
        self.most_per_request = max(self.most_per_request, len(keys))
        for key in keys:
            if key not in self.first:
                self.first[key] = at

    async def wait(self, count: int, timeout_s: float) -> bool:
        """True once `count` distinct alerts arrived; False at the deadline."""
        deadline = time.monotonic() + timeout_s
        while len(self.first) < count:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True


class _Http(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies, answering 200 `ok` to every request. Both systems
    send Content-Length; anything else is answered 411 and counted unreadable, so it cannot pass unseen."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's does not derive from asyncio.Transport, so no isinstance check)
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            headers = bytes(self.buf[:end]).lower().split(b"\r\n")[1:]
            length, chunked, close = 0, False, False
            for line in headers:
                name, _, value = line.partition(b":")
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = True
                elif name == b"connection" and b"close" in value:
                    close = True
            if chunked:
                self.receiver.arrivals.unreadable += 1
                self.transport.write(b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                self.transport.close()
                return
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            self.receiver.arrivals.take(time.perf_counter(), body)
            self.transport.write(OK_ANSWER)
            if close:
                self.transport.close()
                return


class Receiver:
    """The one local webhook receiver both systems post to (127.0.0.1). A bare asyncio protocol rather than an
    aiohttp app: on two shared cores its own cost competes with the systems measured, so it is kept small."""

    def __init__(self) -> None:
        self.arrivals = Arrivals()
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Http(self), "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()

    def begin(self, expected: Iterable[str]) -> Arrivals:
        """Start counting a new run, which sends the alerts named `expected`."""
        self.arrivals = Arrivals(frozenset(expected))
        return self.arrivals


# --- meters from /proc -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass(frozen=True)
class Machine:
    """The whole machine's CPU time so far, from /proc/stat (every core, every process), and this benchmark
    process's own (its pusher and receiver), to show what a run cost the machine beside what it cost the system
    measured: on a machine of few cores, the busy seconds per alert of everything that runs bound the rate."""

    busy_s: float
    idle_s: float
    own_s: float

    @staticmethod
    def now() -> Machine:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        # user nice system idle iowait irq softirq steal (guest time is already counted in user)
        busy = sum(fields[:3]) + sum(fields[5:8])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return Machine(busy / TICKS, (fields[3] + fields[4]) / TICKS, usage.ru_utime + usage.ru_stime)

    def since(self, start: Machine) -> Machine:
        return Machine(self.busy_s - start.busy_s, self.idle_s - start.idle_s, self.own_s - start.own_s)

    @property
    def busy_share(self) -> float:
        """The share of the machine's cores that were busy."""
        return self.busy_s / max(self.busy_s + self.idle_s, 1e-9)


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _cmdlines() -> Iterator[tuple[int, bytes]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                yield int(entry.name), (entry / "cmdline").read_bytes()


def kafka_broker_pid(bootstrap: str) -> int | None:
    """The local Kafka broker process listening on the bootstrap port (read from its server.properties)."""
    port = bootstrap.split(",")[0].rpartition(":")[2]
    for pid, cmd in _cmdlines():
        args = cmd.split(b"\0")
        if b"kafka.Kafka" not in args:
            continue
        props = Path(args[args.index(b"kafka.Kafka") + 1].decode())
        with contextlib.suppress(OSError, IndexError):
            if f"PLAINTEXT://127.0.0.1:{port}" in props.read_text():
                return pid
    return None


class PostgresBackends:
    """CPU time of the Postgres server processes serving one database (their titles name it), sampled every
    0.2 s so that connections opened during the run count too. `exclude` leaves out the benchmark's own."""

    def __init__(self, database: str) -> None:
        self.database = database.encode()
        self.exclude: set[int] = set()
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None

    def _sample(self) -> None:
        for pid, cmd in _cmdlines():
            words = cmd.split()
            if len(words) > 2 and words[0] == b"postgres:" and words[2] == self.database and pid not in self.exclude:
                with contextlib.suppress(OSError):
                    self._last[pid] = cpu_seconds(pid)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            self._sample()

    def start(self) -> None:
        self._sample()
        self._start = dict(self._last)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample()
        return sum(v - self._start.get(pid, 0.0) for pid, v in self._last.items() if pid not in self.exclude)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


# --- the bare client of the CPU mode, as its own process ---------------------------------------------------


def _bare_client(base: str, n: int, targets: int) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.bench_notify_delivery import CONCURRENCY, post_all, rendered_bodies

    bodies = rendered_bodies(n)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    uvloop.run(post_all(base, bodies, targets))
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - started
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(json.dumps({"cpu_s": cpu, "wall_s": wall, "requests": n, "concurrency": CONCURRENCY}))


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "bare-client":
        raise SystemExit("usage: python bench/am_harness.py bare-client BASE_URL N TARGETS")
    _bare_client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
