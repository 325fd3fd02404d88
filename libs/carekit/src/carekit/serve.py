"""Run a service's ASGI app with uvicorn from validated settings."""

from __future__ import annotations

import faulthandler
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
