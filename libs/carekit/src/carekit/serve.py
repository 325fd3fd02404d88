"""Run a service's ASGI app with uvicorn from validated settings."""

from __future__ import annotations

import faulthandler
import gc
import signal

import uvicorn
from fastapi import FastAPI

from carekit.logs import configure
from carekit.settings import WebSettings


def serve(app: FastAPI, settings: WebSettings, service: str) -> None:
    """Block serving HTTP; SIGTERM shuts down gracefully through the lifespan."""
    configure(settings.log_level, service)
    # `kill -USR1 <pid>` writes every thread's stack to stderr (the log): how to see where a stuck process is
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    tune_gc()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        # uvloop and httptools (C) rather than asyncio's loop and h11 (pure Python): the same code spends about a
        # sixth less CPU per alert delivered and parses requests faster (bench/README.md, "event loop")
        loop="uvloop",
        http="httptools",
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


# Python collects cycles among new objects every 700 allocations by default, and every 100 of those collections
# walks the whole heap. A service allocating a few hundred objects per request paid for that on every request:
# delivery spent 0.18-0.21 CPU s per 1k webhook requests with the defaults and 0.10-0.13 with these, and the
# longest intake request of a 5k run fell from 108-118 ms to 33-44 ms (bench/README.md, "garbage collector").
# A full collection still runs about every 10M allocations, so cyclic garbage cannot pile up.
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Leave what importing and building the app made (modules, classes, models, routes: it lives as long as the
    process) out of every collection, and collect young objects less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
