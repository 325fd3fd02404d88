"""Each service starts as a process: migrations applied, health and readiness answer, bad settings refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import pytest

from carekit_testing import ServiceProcess, create_database
from tests.service_env import service_env

pytestmark = pytest.mark.e2e
SERVICES = ["plan_service", "ticket_service", "notify_service", "assistant_service"]


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("module", SERVICES)
async def test_service_starts_migrates_and_reports_ready(
    module: str, kafka_bootstrap: str, database_url: str, unique: str, tmp_path: Path
) -> None:
    db = await create_database(database_url, module.split("_")[0])
    service = ServiceProcess(
        module, service_env(module, kafka=kafka_bootstrap, database_url=db, group_prefix=f"{module}-{unique}")
    )
    service.start(tmp_path)
    try:
        await service.wait_ready()
        async with httpx.AsyncClient(base_url=service.url) as client:
            health = (await client.get("/healthz")).json()
            assert health["status"] == "ok"
            assert health["loops"], "every background loop is listed"
            for name, loop in health["loops"].items():
                assert (loop["state"], loop["restarts"], loop["failing"]) == ("running", 0, False), name
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"postgres": "ok", "background": "ok"}
            assert "python_info" in (await client.get("/metrics")).text
        conn = await asyncpg.connect(db)
        try:
            names = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        finally:
            await conn.close()
        assert "kit/001_outbox_inbox_projection.sql" in names
        assert any(not n.startswith("kit/") for n in names), names
    finally:
        service.stop()
    exit_code = service.proc.returncode if service.proc else None
    assert "Application shutdown complete" in service.logs(), (
        f"SIGTERM must shut the service down gracefully (exit code {exit_code}):\n{service.logs()[-3000:]}"
    )


@pytest.mark.parametrize("module", SERVICES)
def test_service_refuses_to_start_with_a_placeholder_secret(module: str) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "HTTP_PORT": "0",
        "DATABASE_URL": "postgresql://x@127.0.0.1:9/x",
        "JWT_SECRET": "changeme",
    }
    done = subprocess.run(
        [sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "JWT_SECRET" in done.stderr
    assert "Traceback" not in done.stderr
