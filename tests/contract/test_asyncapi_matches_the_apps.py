"""The committed AsyncAPI documents (schemas/asyncapi/) say which topics each service sends and receives; this
checks them against what each app really registers on its broker, and that the broker is the one the
architecture asks for (acks=all, idempotence). No broker or database is needed: apps are built, not started."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from care_schemas import asyncapi
from carekit.kafka import BATCH_BYTES, LINGER_MS
from carekit.runtime import Runtime
from carekit_testing import TEST_JWT_SECRET

pytestmark = pytest.mark.unit
BASE: dict[str, Any] = {
    "kafka_bootstrap_servers": "127.0.0.1:9",
    "database_url": "postgresql://x@127.0.0.1:9/x",
    "jwt_secret": TEST_JWT_SECRET,
    "http_port": 0,
}


def build(service: str) -> FastAPI:
    if service == "plan-service":
        from plan_service.app import create_app as plan_app
        from plan_service.config import Settings as PlanSettings

        return plan_app(PlanSettings.model_validate(BASE))
    if service == "ticket-service":
        from ticket_service.app import create_app as ticket_app
        from ticket_service.config import Settings as TicketSettings

        return ticket_app(TicketSettings.model_validate(BASE))
    if service == "assistant-service":
        from assistant_service.app import create_app as assistant_app
        from assistant_service.config import Settings as AssistantSettings

        return assistant_app(AssistantSettings.model_validate(BASE))
    from notify_service.app import create_app as notify_app
    from notify_service.config import Settings as NotifySettings

    key = "x2nKu2yV5cS9Y2b0R8f8tq0m9m3f2c8W6c1kQm4zJ7Y="
    return notify_app(NotifySettings.model_validate({**BASE, "notify_secret_key": key}))


def registered(app: FastAPI) -> tuple[set[str], set[str]]:
    """(topics subscribed to, topics published to) on the app's broker."""
    runtime: Runtime = app.state.runtime
    received = {name for sub in runtime.broker.subscribers for name in sub.topic_names}
    sent = {pub.topic for pub in runtime.broker.publishers}
    return received, sent


@pytest.mark.parametrize("service", sorted(asyncapi.SERVICES))
def test_the_asyncapi_document_names_exactly_what_the_app_subscribes_and_publishes(service: str) -> None:
    received, sent = registered(build(service))
    spec = asyncapi.SERVICES[service]
    assert received == {t.name for t in spec["receive"]}, (
        "update SERVICES in care_schemas/asyncapi.py, then make schemas"
    )
    assert sent == {t.name for t in spec["send"]}, "update SERVICES in care_schemas/asyncapi.py, then make schemas"
    document = asyncapi.document(service)
    operations = {(op["action"], op["channel"]["$ref"].rsplit("/", 1)[1]) for op in document["operations"].values()}
    assert operations == {("receive", t) for t in received} | {("send", t) for t in sent}


@pytest.mark.parametrize("service", sorted(asyncapi.SERVICES))
def test_each_process_has_one_broker_whose_producer_waits_for_all_replicas_idempotently(service: str) -> None:
    app = build(service)
    runtime: Runtime = app.state.runtime
    options = runtime.broker._connection_kwargs  # what FastStream hands to aiokafka's producer when it connects
    assert options["acks"] == "all"
    assert options["enable_idempotence"] is True
    assert options["max_batch_size"] == BATCH_BYTES  # a request's alerts leave in one batch, not one per 16 KiB
    assert options["linger_ms"] == LINGER_MS  # and at once: nothing closes FastStream's batch before the linger
    assert all(pub.topic in {t.name for t in asyncapi.SERVICES[service]["send"]} for pub in runtime.broker.publishers)
