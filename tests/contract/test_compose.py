"""docker-compose.yml cannot run here (no Docker engine); keep it correct by checking it against the code."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "plan-service": "plan_service",
    "ticket-service": "ticket_service",
    "notify-service": "notify_service",
    "assistant-service": "assistant_service",
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def settings_fields(module: str) -> dict[str, bool]:
    """Environment name -> required, for the service's Settings class."""
    settings_cls = importlib.import_module(f"{module}.config").Settings
    return {name.upper(): field.is_required() for name, field in settings_cls.model_fields.items()}


def test_compose_runs_kafka_postgres_and_the_services() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "postgres", "mailpit", "console", *SERVICES}
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


@pytest.mark.parametrize(("name", "module"), SERVICES.items())
def test_every_service_environment_name_is_a_setting_and_every_required_setting_is_set(name: str, module: str) -> None:
    service = compose()["services"][name]
    env = set(service["environment"])
    fields = settings_fields(module)
    unknown = env - set(fields)
    missing = {n for n, required in fields.items() if required} - env
    assert not unknown, f"{name}: environment names that are not settings: {sorted(unknown)}"
    assert not missing, f"{name}: required settings missing from compose: {sorted(missing)}"
    assert service["build"]["args"]["SERVICE"] == module.split("_")[0]
    assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
    module_settings = importlib.import_module(f"{module}.config").Settings
    environment = {k: str(v) for k, v in service["environment"].items()}
    module_settings.model_validate({k.lower(): v for k, v in environment.items()})


@pytest.mark.parametrize(("name", "module"), SERVICES.items())
def test_each_service_uses_its_own_database(name: str, module: str) -> None:
    url = compose()["services"][name]["environment"]["DATABASE_URL"]
    assert url.endswith("/" + module.split("_")[0])
    created = (ROOT / "infra/compose/create-databases.sql").read_text()
    assert f"CREATE DATABASE {module.split('_')[0]};" in created


def test_the_console_is_configured_and_the_services_links_open_in_it() -> None:
    services = compose()["services"]
    console = services["console"]
    fields = settings_fields("console")
    env = {k: str(v) for k, v in console["environment"].items()}
    assert not set(env) - set(fields), "every console environment name is a setting"
    assert not {n for n, required in fields.items() if required} - set(env)
    settings = importlib.import_module("console.config").Settings.model_validate({k.lower(): v for k, v in env.items()})
    assert settings.console_dev_login, "the compose JWT secret is a development one (dev-...)"
    assert console["build"]["args"] == {"SERVICE": "console", "PACKAGE": "console", "MODULE": "console"}
    for name in ("ticket-service", "notify-service"):
        assert services[name]["environment"]["PUBLIC_BASE_URL"] == env["PUBLIC_BASE_URL"]
