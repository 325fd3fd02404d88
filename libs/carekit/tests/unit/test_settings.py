"""Settings are validated at start-up and name the variable at fault."""

from __future__ import annotations

import pytest

from carekit.settings import ServiceSettings, load_settings

pytestmark = pytest.mark.unit
GOOD = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "DATABASE_URL": "postgresql://care:care@127.0.0.1:54329/care",
    "JWT_SECRET": "a-real-random-secret-of-enough-length-42",
    "HTTP_PORT": "8099",
}


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str | None) -> None:
    for name, value in {**GOOD, **values}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_valid_environment_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch)
    settings = load_settings(ServiceSettings)
    assert settings.http_port == 8099
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"JWT_SECRET": "changeme"}, "JWT_SECRET"),
        ({"JWT_SECRET": "a" * 40}, "JWT_SECRET"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"KAFKA_BOOTSTRAP_SERVERS": None}, "KAFKA_BOOTSTRAP_SERVERS"),
    ],
    ids=["placeholder-secret", "low-entropy-secret", "not-postgres", "missing-kafka"],
)
def test_bad_configuration_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], override: dict[str, str | None], named: str
) -> None:
    set_env(monkeypatch, **override)
    with pytest.raises(SystemExit) as stopped:
        load_settings(ServiceSettings)
    assert stopped.value.code == 2
    assert named in capsys.readouterr().err
