"""The services' apps, built from settings as they run (`create_app`), for tests that read or drive their
OpenAPI documents."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from assistant_service.app import create_app as assistant_app
from assistant_service.config import Settings as AssistantSettings
from carekit_testing import service_settings
from notify_service.app import create_app as notify_app
from notify_service.config import Settings as NotifySettings
from plan_service.app import create_app as plan_app
from plan_service.config import Settings as PlanSettings
from tests.receivers import NOTIFY_SECRET_KEY
from ticket_service.app import create_app as ticket_app
from ticket_service.config import Settings as TicketSettings

UNREACHABLE = {"kafka_bootstrap_servers": "127.0.0.1:9", "database_url": "postgresql://x@127.0.0.1:9/x"}


def plan(kafka: str, database_url: str, prefix: str) -> FastAPI:
    settings = service_settings(
        PlanSettings, database_url, kafka, consumer_group_prefix=prefix, plan_scheduler_enabled=False
    )
    return plan_app(settings)


def ticket(kafka: str, database_url: str, prefix: str) -> FastAPI:
    settings = service_settings(
        TicketSettings, database_url, kafka, consumer_group_prefix=prefix, breach_scan_interval_s=3600
    )
    return ticket_app(settings)


def notify(kafka: str, database_url: str, prefix: str) -> FastAPI:
    settings = service_settings(
        NotifySettings,
        database_url,
        kafka,
        consumer_group_prefix=prefix,
        notify_secret_key=NOTIFY_SECRET_KEY,
        notify_url_allowlist="",
        delivery_timeout_s=2,
    )
    return notify_app(settings)


def assistant(kafka: str, database_url: str, prefix: str) -> FastAPI:
    return assistant_app(service_settings(AssistantSettings, database_url, kafka, consumer_group_prefix=prefix))


SERVICES: dict[str, Callable[[str, str, str], FastAPI]] = {
    "plan": plan,
    "ticket": ticket,
    "notify": notify,
    "assistant": assistant,
}


def openapi(name: str) -> dict[str, object]:
    """The service's OpenAPI document (no connection is made to build it)."""
    app = SERVICES[name](UNREACHABLE["kafka_bootstrap_servers"], UNREACHABLE["database_url"], "openapi")
    return app.openapi()
