"""Schemathesis against every service's OpenAPI document, the services running as processes on real Kafka and
Postgres: no request ever gets a 5xx (issue 8), valid requests (schemathesis' positive mode) and invalid ones
(negative mode: wrong types, NUL, huge integers, missing fields...); and every answer to a valid request is a
status the operation documents, with the documented content type and a body that matches the documented schema
(the one ErrorBody for every error).

Each run acts as its own fresh organisation: every `org` / `org_id` in paths, queries and bodies is set to it, so
it never touches another test's data. One harness: a new check is one more entry in CHECKS.
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
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
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
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [not_a_server_error]  # an invalid request: any documented refusal, never a server error
ORG_NAMES = {"org", "org_id"}
# integrations configured (pointing at closed local ports) so their routes answer as in production, not 503
SETTINGS = {
    "ticket": {
        "SLACK_SIGNING_SECRET": "schemathesis-signing",
        "SLACK_BOT_TOKEN": "xoxb-schemathesis",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "LARK_APP_ID": "cli_schemathesis",
        "LARK_APP_SECRET": "schemathesis-secret",
        "LARK_VERIFICATION_TOKEN": "schemathesis-token",
        "LARK_API_URL": "http://127.0.0.1:9",
    },
    "notify": {
        "NOTIFY_URL_ALLOWLIST": "",
        "DELIVERY_TIMEOUT_S": "2",
        "PAGERDUTY_EVENTS_URL": "http://127.0.0.1:9/v2/enqueue",
        "SMTP_PORT": "9",
    },
}
EXAMPLES = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
# invalid requests only need to reach each refusal path once or twice: fewer of them keeps the suite short
NEGATIVE_EXAMPLES = settings(EXAMPLES, max_examples=6)
ORG = f"st-{uuid.uuid4().hex[:8]}"
SERVICES = ["plan", "ticket", "notify", "assistant"]
# Each operation is called as a customer owner and as an admin, so both the customer and the staff paths answer.
TOKENS = [mint(TEST_JWT_SECRET, sub="st-owner", org=ORG, role=r) for r in ("org_owner", "admin")]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def running(kafka_bootstrap: str, database_url: str) -> AsyncIterator[dict[str, str]]:
    """plan-, ticket-, notify- and assistant-service as processes, each on a fresh database; their base URLs."""
    await ensure_topics(kafka_bootstrap)
    log_dir = Path(tempfile.mkdtemp(prefix="conformance-"))
    started: dict[str, ServiceProcess] = {}
    try:
        for name in SERVICES:
            db = await create_database(database_url, name)
            env = service_env(f"{name}_service", kafka=kafka_bootstrap, database_url=db, group_prefix=f"st-{ORG}")
            env |= SETTINGS.get(name, {})
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
        for mode, checks in ((GenerationMode.POSITIVE, CHECKS), (GenerationMode.NEGATIVE, NEGATIVE_CHECKS)):
            try:
                _fuzz(operation, mode, checks)
            except Unsatisfiable:  # nothing to make invalid (an operation without inputs)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # a failed check: collect it, go on with the next
                found.append(f"{operation.label} ({mode.value}): {str(exc).strip()[:1500]}")
    return found


def _fuzz(operation: Any, mode: GenerationMode, checks: list[Any]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @(EXAMPLES if mode is GenerationMode.POSITIVE else NEGATIVE_EXAMPLES)
    def call(case: Any) -> None:
        _confine(case)
        for token in TOKENS:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

    call()


def _confine(case: Any) -> None:
    """Every organisation the request names is the run's own."""
    for params in (case.path_parameters, case.query):
        for name in ORG_NAMES & set(params or {}):
            params[name] = ORG

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (ORG if k in ORG_NAMES and isinstance(v, str) else rewrite(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    if isinstance(case.body, dict | list):
        case.body = rewrite(case.body)


@pytest.mark.parametrize("service", SERVICES)
def test_every_answer_is_documented_and_matches_its_schema(running: dict[str, str], service: str) -> None:
    mismatches = _mismatches(running[service])
    assert not mismatches, f"{len(mismatches)} operations of {service}-service do not conform:\n" + "\n\n".join(
        mismatches
    )
