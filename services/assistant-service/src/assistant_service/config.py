"""assistant-service settings (the knowledge part): language model, confidence threshold, rate limit."""

from __future__ import annotations

from pydantic import Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant_service.domain.answer import DEFAULT_MIN_CONFIDENCE


class AssistantSettings(BaseSettings):
    """`LLM_BASE_URL`, `LLM_API_KEY`, `LLM_MODEL` all set for model-written answers, none for extractive ones."""

    model_config = SettingsConfigDict(extra="ignore")

    llm_base_url: HttpUrl | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout_s: float = Field(default=20.0, gt=0, le=120)
    assistant_min_confidence: float = Field(default=DEFAULT_MIN_CONFIDENCE, ge=0, le=1)
    assistant_rate_per_s: float = Field(default=1.0, gt=0)
    assistant_burst: float = Field(default=10.0, ge=1)

    @model_validator(mode="after")
    def _all_or_none(self) -> AssistantSettings:
        given = {
            "LLM_BASE_URL": self.llm_base_url is not None,
            "LLM_API_KEY": self.llm_api_key is not None and bool(self.llm_api_key.get_secret_value()),
            "LLM_MODEL": bool(self.llm_model),
        }
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(k for k, v in given.items() if not v)
            raise ValueError(f"a language model needs LLM_BASE_URL, LLM_API_KEY and LLM_MODEL; missing: {missing}")
        return self

    @property
    def llm_configured(self) -> bool:
        return self.llm_base_url is not None
