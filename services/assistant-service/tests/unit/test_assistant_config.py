"""Settings: a language model is configured whole or not at all."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from assistant_service.config import AssistantSettings

pytestmark = pytest.mark.unit


def test_no_model_means_extractive_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    settings = AssistantSettings()
    assert not settings.llm_configured
    assert 0 < settings.assistant_min_confidence < 1


def test_half_a_model_configuration_stops_start_up_naming_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "https://llm.example.com/v1")
    monkeypatch.delenv("LLM_API_KEY", raising=False)
    monkeypatch.delenv("LLM_MODEL", raising=False)
    with pytest.raises(ValidationError, match="missing: LLM_API_KEY, LLM_MODEL"):
        AssistantSettings()


def test_full_model_configuration_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BASE_URL", "https://llm.example.com/v1")
    monkeypatch.setenv("LLM_API_KEY", "sk-abc")
    monkeypatch.setenv("LLM_MODEL", "gpt-4o-mini")
    settings = AssistantSettings()
    assert settings.llm_configured
    assert "sk-abc" not in repr(settings)
