"""Schemathesis against every service's OpenAPI document, the services running as processes on real Kafka and
Postgres: every answer must be a status the operation documents, with the documented content type and a body
that matches the documented schema (the one ErrorBody for every error).

This is the shared API harness: the zero-5xx check (issue 8) joins CHECKS here (one harness, not two).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from carekit.identity import mint
from carekit.kafka import ensure_topics
from carekit_testing import TEST_JWT_SECRET, ServiceProcess, create_database
from tests.service_env import service_env

pytestmark = pytest.mark.e2e
# Response conformance. The faults engineer's zero-5xx suite adds schemathesis' `not_a_server_error` to this list.
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
ORG = f"st-{uuid.uuid4().hex[:8]}"
# Each operation is called as a customer owner and as an admin, so both the customer and the staff paths answer.
TOKENS = [mint(TEST_JWT_SECRET, sub="st-owner", org=ORG, role=r) for r in ("org_owner", "admin")]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def running(kafka_bootstrap: str, database_url: str) -> AsyncIterator[dict[str, str]]:
    """plan-, ticket- and notify-service as processes, each on a fresh database; their base URLs."""
    await ensure_topics(kafka_bootstrap)
    log_dir = Path(tempfile.mkdtemp(prefix="conformance-"))
    started: dict[str, ServiceProcess] = {}
    try:
        for name in ("plan", "ticket", "notify"):
            db = await create_database(database_url, name)
            env = service_env(f"{name}_service", kafka=kafka_bootstrap, database_url=db, group_prefix=f"st-{ORG}")
            service = started[name] = ServiceProcess(f"{name}_service", env)
            service.start(log_dir)
        for service in started.values():
            await service.wait_ready()
        yield {name: service.url for name, service in started.items()}
    finally:
        for service in started.values():
            service.stop()


def _mismatches(url: str) -> list[str]:
    """Every operation of the service's document, fuzzed as an owner and as an admin; what did not conform."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    found: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @EXAMPLES
        def call(case: Any) -> None:
            for token in TOKENS:
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        try:
            call()
        except (Exception, BaseExceptionGroup) as exc:  # a failed check: collect it, go on with the next operation
            found.append(f"{operation.label}: {str(exc).strip()[:1500]}")
    return found


@pytest.mark.parametrize("service", ["plan", "ticket", "notify"])
def test_every_answer_is_documented_and_matches_its_schema(running: dict[str, str], service: str) -> None:
    mismatches = _mismatches(running[service])
    assert not mismatches, f"{len(mismatches)} operations of {service}-service do not conform:\n" + "\n\n".join(
        mismatches
    )
