"""assistant-service settings, validated at start-up: the kit's, the language model, the threshold, the rate limit."""

from __future__ import annotations

from typing import Self

from pydantic import Field, HttpUrl, SecretStr, model_validator

from assistant_service.domain.answer import DEFAULT_MIN_CONFIDENCE
from carekit.settings import ServiceSettings


class Settings(ServiceSettings):
    """`LLM_BASE_URL`, `LLM_API_KEY`, `LLM_MODEL` all set for model-written answers, none for extractive ones."""

    http_port: int = Field(default=8084, ge=0, le=65535)
    consumer_group_prefix: str = "assistant-service"
    http_max_body_bytes: int = Field(
        default=128 * 1024, ge=1024, description="largest request body: an article of 20,000 characters fits"
    )
    docs_base_url: str = Field(
        default="http://127.0.0.1", description="where the articles' paths (/docs/support/...) are published"
    )

    llm_base_url: HttpUrl | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout_s: float = Field(default=20.0, gt=0, le=120)
    assistant_min_confidence: float = Field(default=DEFAULT_MIN_CONFIDENCE, ge=0, le=1)
    assistant_rate_per_s: float = Field(default=1.0, gt=0, description="questions per second per organisation")
    assistant_burst: float = Field(default=10.0, ge=1, description="questions an organisation may ask at once")
    articles_poll_interval_s: float = Field(
        default=2.0, gt=0, le=60, description="how often an instance looks for article changes it was not woken for"
    )

    @model_validator(mode="after")
    def _all_or_none(self) -> Self:
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
