"""Settings: the kit's, plus a language model configured whole or not at all."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from assistant_service.config import Settings
from carekit_testing import TEST_JWT_SECRET

pytestmark = pytest.mark.unit
KIT = {
    "kafka_bootstrap_servers": "127.0.0.1:9092",
    "database_url": "postgresql://care@127.0.0.1:5432/assistant",
    "jwt_secret": TEST_JWT_SECRET,
}


@pytest.fixture(autouse=True)
def _no_model_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)


def test_no_model_means_extractive_answers() -> None:
    settings = Settings.model_validate(KIT)
    assert not settings.llm_configured
    assert 0 < settings.assistant_min_confidence < 1
    assert settings.http_port == 8084


def test_half_a_model_configuration_stops_start_up_naming_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "https://llm.example.com/v1")
    with pytest.raises(ValidationError, match="missing: LLM_API_KEY, LLM_MODEL"):
        Settings.model_validate(KIT)


def test_full_model_configuration_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "https://llm.example.com/v1")
    monkeypatch.setenv("LLM_API_KEY", "sk-abc")
    monkeypatch.setenv("LLM_MODEL", "gpt-4o-mini")
    settings = Settings.model_validate(KIT)
    assert settings.llm_configured
    assert "sk-abc" not in repr(settings)


def test_the_kit_settings_are_required_too() -> None:
    with pytest.raises(ValidationError, match="jwt_secret"):
        Settings.model_validate({k: v for k, v in KIT.items() if k != "jwt_secret"})
