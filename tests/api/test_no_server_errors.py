"""schemathesis against every service's OpenAPI document, each service a real process on a fresh database: valid
and invalid requests (NUL, surrogates, huge integers, wrong types, missing fields) never get a 5xx.

Each run acts as its own fresh organisation (every `org`/`org_id` in paths, queries and bodies is set to it), as
a customer owner and as staff, so it never touches another test's data. Bounded: a few examples per operation and
mode, no deadline. More checks are one line: add them to CHECKS (e.g. `response_schema_conformance`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from care_schemas.topics import ALERT_EVENTS, PLAN_EVENTS, TICKET_EVENTS
from carekit_testing import TEST_JWT_SECRET, ServiceProcess, bearer, commit_group_at_end, create_database
from tests.service_env import service_env

pytestmark = pytest.mark.e2e
CHECKS = [not_a_server_error]
EXAMPLES = 5  # per operation and generation mode
ORG_NAMES = {"org", "org_id"}
SERVICES = {
    "plan_service": {"PLAN_SCHEDULER_ENABLED": "false"},
    "ticket_service": {
        "SLACK_SIGNING_SECRET": "schemathesis-signing",
        "SLACK_BOT_TOKEN": "xoxb-schemathesis",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "LARK_APP_ID": "cli_schemathesis",
        "LARK_APP_SECRET": "schemathesis-secret",
        "LARK_VERIFICATION_TOKEN": "schemathesis-token",
        "LARK_API_URL": "http://127.0.0.1:9",
    },
    "notify_service": {
        "NOTIFY_URL_ALLOWLIST": "",
        "DELIVERY_TIMEOUT_S": "2",
        "PAGERDUTY_EVENTS_URL": "http://127.0.0.1:9/v2/enqueue",
        "SMTP_PORT": "9",
    },
}
GROUPS = {
    "ticket_service": [(".plans", PLAN_EVENTS)],
    "notify_service": [(".intake", ALERT_EVENTS), (".plans", PLAN_EVENTS), (".tickets", TICKET_EVENTS)],
}


@pytest.fixture(scope="module")
def running(
    request: pytest.FixtureRequest, kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    """The three services as processes, each on a fresh database with fresh consumer groups."""
    started: dict[str, ServiceProcess] = {}
    log_dir = tmp_path_factory.mktemp("schemathesis")
    try:
        for module, extra in SERVICES.items():
            prefix = f"st-{module}-{int(time.time() * 1000)}"
            db = asyncio.run(create_database(database_url, module.split("_")[0]))
            for suffix, topic in GROUPS.get(module, []):
                asyncio.run(commit_group_at_end(kafka_bootstrap, prefix + suffix, topic))
            env = service_env(module, kafka=kafka_bootstrap, database_url=db, group_prefix=prefix) | extra
            started[module] = ServiceProcess(module, env)
            started[module].start(Path(log_dir))
        for service in started.values():
            asyncio.run(service.wait_ready())
        yield started
    finally:
        for service in started.values():
            service.stop()


def _confine(case: schemathesis.Case, org: str) -> None:
    """Every organisation the request names is the run's own."""
    for name in ORG_NAMES & set(case.path_parameters or {}):
        case.path_parameters[name] = org  # type: ignore[index]
    for name in ORG_NAMES & set(case.query or {}):
        case.query[name] = org  # type: ignore[index]

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (org if k in ORG_NAMES and isinstance(v, str) else rewrite(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    if isinstance(case.body, dict | list):
        case.body = rewrite(case.body)


def _run(schema: Any, url: str, headers: dict[str, str], org: str) -> list[str]:
    """Every operation, valid and invalid examples; the failures, one line each."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                _confine(case, org)
                response = case.call(base_url=url, headers=headers, timeout=30)
                case.validate_response(response, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:  # nothing to make invalid (an operation without inputs): nothing to test there
                continue
            except Exception as exc:  # one line per failing operation, then go on with the next
                failures.append(f"{operation.label} ({mode.value}): {str(exc).splitlines()[0][:300]}")
    return failures


@pytest.mark.parametrize("module", sorted(SERVICES))
@pytest.mark.parametrize("role", ["org_owner", "admin"])
def test_no_request_gets_a_server_error(running: dict[str, ServiceProcess], module: str, role: str) -> None:
    service = running[module]
    org = f"st-{module.split('_')[0]}-{role}-{int(time.time() * 1000)}"
    doc = httpx.get(f"{service.url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    failures = _run(schema, service.url, bearer(TEST_JWT_SECRET, org, role), org)
    errors = [line for line in service.logs().splitlines() if " ERROR " in line][-20:]
    assert failures == [], "\n".join(failures) + "\n--- errors in the service log ---\n" + "\n".join(errors)
