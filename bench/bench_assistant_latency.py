"""AI chat latency, end to end on real Kafka and Postgres: from a Slack mention reaching ticket-service to the
answer posted in its thread by notify-service (ticket-service -> outbox -> chat.events.v1 -> assistant-service
(extractive composer) -> outbox -> chat.events.v1 -> notify-service -> Slack Web API), p50 and p99, and how fast
ticket-service answers Slack's HTTP request (Slack's 3-second window).

The three services run as processes with the local Slack server of tests/fakes; the questions are the evaluation
set's (English and Chinese, in scope and out), each mention a new thread. The organisation's rate limit is raised
for the run (the default, 1 question a second with bursts of 10, is what the service ships with).

Run: `uv run python bench/bench_assistant_latency.py [questions] [rate_per_s]` (defaults 300 at 5/s).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import uvloop
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.assistant_stack import AssistantStack, running_stack
from tests.receivers import bench_infra
from ticket_service.domain.assistant import wants_a_ticket

EVAL = Path(__file__).resolve().parents[1] / "services/assistant-service/eval/questions.yaml"
WARMUP = 10


def questions() -> list[str]:
    found = [str(q["q"]) for q in yaml.safe_load(EVAL.read_text(encoding="utf-8"))]
    return [q for q in found if not wants_a_ticket(q)]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def one(stack: AssistantStack, channel: str, n: int, text: str) -> tuple[float, float, str]:
    """Post one mention; (HTTP answer seconds, sent-at, thread ts)."""
    ts = f"{1_800_000_000 + n}.{n:06d}"
    event = {"type": "app_mention", "user": "UBENCH", "text": f"<@UBOT> {text}", "ts": ts, "channel": channel}
    sent = time.perf_counter()
    answer = await stack.slack.post_event(stack.http, stack.ticket.url, event, f"EvBench{n}")
    if answer.status_code != 200:
        raise SystemExit(f"ticket-service answered {answer.status_code}: {answer.text}")
    return time.perf_counter() - sent, sent, ts


async def drive(stack: AssistantStack, count: int, rate: float) -> tuple[list[float], list[float], int]:
    """`count` mentions at `rate` a second; (end-to-end seconds, HTTP answer seconds, answers missing)."""
    _, channel = await stack.enterprise_channel("slack")
    pool = questions()
    tasks: list[asyncio.Task[tuple[float, float, str]]] = []
    started = time.perf_counter()
    for n in range(count + WARMUP):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(stack, channel, n, pool[n % len(pool)])))
    sent = await asyncio.gather(*tasks)
    threads = {ts: (at, n) for n, (_, at, ts) in enumerate(sent)}
    deadline = time.monotonic() + 60
    arrived: dict[str, float] = {}
    while len(arrived) < len(threads) and time.monotonic() < deadline:
        for call in stack.slack.of("chat.postMessage"):
            ts = call.payload.get("thread_ts")
            # this run's channel only: thread ts repeat across runs, and chat.events.v1 is shared
            if call.payload.get("channel") == channel and ts in threads and ts not in arrived:
                arrived[ts] = call.at
        await asyncio.sleep(0.05)
    end_to_end = [arrived[ts] - at for ts, (at, n) in threads.items() if ts in arrived and n >= WARMUP]
    http = [seconds for n, (seconds, _, _) in enumerate(sent) if n >= WARMUP]
    return end_to_end, http, len(threads) - len(arrived)


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    log_dir = Path(tempfile.mkdtemp(prefix="bench-assistant-"))
    async with bench_infra() as (kafka, admin):
        limits = {"ASSISTANT_RATE_PER_S": "1000", "ASSISTANT_BURST": "1000"}
        async with running_stack(kafka, admin, log_dir, **limits) as stack:
            end_to_end, http, missing = await drive(stack, count, rate)
    print(f"AI chat: {count} Slack mentions at {rate:g}/s (after {WARMUP} warm-up), extractive composer")
    if missing:
        print(f"  {missing} answers did not arrive within 60 s (see {log_dir})")
    ms = [s * 1000 for s in end_to_end]
    print(
        f"  mention reaches ticket-service -> answer posted in the thread: p50 {pct(ms, 50):.0f} ms, "
        f"p99 {pct(ms, 99):.0f} ms, max {max(ms):.0f} ms, mean {statistics.fmean(ms):.0f} ms (n={len(ms)})"
    )
    acks = [s * 1000 for s in http]
    print(
        f"  ticket-service's HTTP answer to Slack: p50 {pct(acks, 50):.1f} ms, p99 {pct(acks, 99):.1f} ms, "
        f"max {max(acks):.1f} ms (Slack allows 3000 ms)"
    )


if __name__ == "__main__":
    uvloop.run(main())
