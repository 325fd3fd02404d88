"""Delivery workers: claim due notifications, send, record the attempt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg
import httpx

from notify_service.adapters import repository
from notify_service.config import Settings
from notify_service.domain.alertmanager import render_webhook

log = logging.getLogger(__name__)
RETRY_S = 5.0


async def _send(client: httpx.AsyncClient, settings: Settings, due: repository.Due) -> tuple[str, int | None, str]:
    body = render_webhook(due.alert, receiver=due.subscriber_name, external_url=settings.external_url)
    try:
        response = await client.post(str(due.config["url"]), json=body)
    except httpx.HTTPError as exc:
        return "retry", None, f"network: {type(exc).__name__}"
    if 200 <= response.status_code < 300:
        return "delivered", response.status_code, "ok"
    if response.status_code == 429 or response.status_code >= 500:
        return "retry", response.status_code, f"HTTP {response.status_code}"
    return "failed", response.status_code, f"HTTP {response.status_code}"


async def deliver_due(pool: asyncpg.Pool, client: httpx.AsyncClient, settings: Settings, limit: int = 50) -> int:
    """Send one batch of due notifications; return how many were attempted."""
    async with pool.acquire() as conn, conn.transaction():
        batch = await repository.claim_due(conn, limit)
        for due in batch:
            started = time.perf_counter()
            outcome, status, detail = await _send(client, settings, due)
            await repository.record_attempt(
                conn,
                due,
                outcome=outcome,
                http_status=status,
                detail=detail,
                latency_ms=(time.perf_counter() - started) * 1000,
                retry_in_s=RETRY_S if outcome == "retry" else None,
            )
        return len(batch)


async def run_workers(pool: asyncpg.Pool, settings: Settings) -> None:
    """Deliver forever, woken by NOTIFY from intake and polling as a fallback."""
    wake = asyncio.Event()
    listener = await pool.acquire()
    await listener.add_listener("notifications", lambda *_: wake.set())
    try:
        async with httpx.AsyncClient(timeout=settings.delivery_timeout_s, follow_redirects=False) as client:
            while True:
                if await deliver_due(pool, client, settings):
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), settings.delivery_poll_interval_s)
                wake.clear()
    finally:
        await pool.release(listener)
