"""What a plain-`def` FastAPI dependency costs: FastAPI runs it in a worker thread (anyio's pool of 40 threads),
an `async def` one on the event loop. One route with two chained dependencies that only read app state (as every
service's `deps` and `current_identity` did), served by uvicorn in a process of its own, once each way.

Prints requests/s one at a time and with CONCURRENCY in flight, and the server's CPU seconds per 1k requests.
tests/api/test_on_the_event_loop.py keeps every service's endpoints and dependencies on the loop.

    uv run python bench/bench_thread_hops.py [REQUESTS] [--concurrency 50] [--repeat 2]
"""


# no `from __future__ import annotations`: FastAPI must see the dependencies defined inside `app` as objects

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import aiohttp
from fastapi import Depends, FastAPI, Request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.am_harness import cpu_seconds
from carekit_testing import eventually, free_port


def app() -> FastAPI:
    """The app a server process serves: BENCH_PLAIN=1 for plain dependencies, else `async def` ones."""
    api = FastAPI()
    if os.environ.get("BENCH_PLAIN") == "1":

        def state(request: Request) -> int:
            return len(request.url.path)

        def checked(found: Annotated[int, Depends(state)]) -> int:
            return found + 1

    else:

        async def state(request: Request) -> int:  # type: ignore[misc]
            return len(request.url.path)

        async def checked(found: Annotated[int, Depends(state)]) -> int:  # type: ignore[misc]
            return found + 1

    @api.get("/x")
    async def endpoint(value: Annotated[int, Depends(checked)]) -> int:
        return value

    return api


async def load(url: str, n: int, concurrency: int) -> float:
    """Requests per second for n GETs with `concurrency` in flight (after 200 to warm up)."""
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as http:

        async def one() -> None:
            async with slots, http.get(url) as answer:
                await answer.read()
                if answer.status != 200:
                    raise SystemExit(f"GET {url} answered {answer.status}")

        for _ in range(200):
            await one()
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - started)


async def ready(url: str) -> None:
    """Until the server answers 200 (`carekit_testing.eventually`, 30 s)."""
    async with aiohttp.ClientSession() as http:

        async def answers() -> bool:
            try:
                async with http.get(url) as answer:
                    return answer.status == 200
            except aiohttp.ClientConnectionError:
                return False

        await eventually(answers, timeout_s=30)


def serve(plain: bool, port: int) -> subprocess.Popen[bytes]:
    """uvicorn serving `app` in a process of its own (stopped by the caller, by its PID)."""
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "bench.bench_thread_hops:app", "--port", str(port)]
    env = {**os.environ, "BENCH_PLAIN": "1" if plain else "0", "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.Popen([*cmd, "--log-level", "warning"], env=env)


async def one_way(plain: bool, n: int, concurrency: int) -> str:
    port = free_port()
    server = serve(plain, port)
    try:
        url = f"http://127.0.0.1:{port}/x"
        await ready(url)
        cpu0 = cpu_seconds(server.pid)
        alone = await load(url, n, 1)
        many = await load(url, n, concurrency)
        per_1k = (cpu_seconds(server.pid) - cpu0) / (2 * n + 400) * 1000
    finally:
        server.terminate()
        server.wait(timeout=10)
    kind = "plain def (worker thread)" if plain else "async def (event loop)"
    return f"| {kind} | {alone:,.0f} | {many:,.0f} | {per_1k:.3f} |"


async def main(args: argparse.Namespace) -> int:
    print(f"one route, two chained dependencies; {args.requests:,} requests each way")
    print(f"| Dependencies | req/s, 1 in flight | req/s, {args.concurrency} in flight | server CPU s per 1k |")
    print("|---|---|---|---|")
    for rep in range(args.repeat):
        for plain in (True, False) if rep % 2 == 0 else (False, True):
            print(await one_way(plain, args.requests, args.concurrency), flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("requests", type=int, nargs="?", default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=2)
    sys.exit(asyncio.run(main(parser.parse_args())))
