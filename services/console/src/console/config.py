"""console settings, validated at start-up."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, ValidationInfo, field_validator

from carekit.settings import PLACEHOLDERS, WebSettings

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# Development and test JWT keys say so in their first characters (`make up` writes `dev-...`, the tests use
# `test-...`); any other key is taken for a production one, and dev-login, which mints tokens every service
# accepts, is refused at start-up with it.
DEV_KEY_PREFIXES = ("dev-", "test-")


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


class Settings(WebSettings):
    """The console's own settings on top of the kit's HTTP and identity ones (no Kafka, no Postgres)."""

    http_port: int = Field(default=8080, ge=0, le=65535)
    public_base_url: str = Field(
        default="http://127.0.0.1:8080", description="where people reach the console (https unless loopback)"
    )
    plan_url: AnyHttpUrl = Field(default=AnyHttpUrl("http://127.0.0.1:8081"), description="plan-service base URL")
    ticket_url: AnyHttpUrl = Field(default=AnyHttpUrl("http://127.0.0.1:8082"), description="ticket-service base URL")
    notify_url: AnyHttpUrl = Field(default=AnyHttpUrl("http://127.0.0.1:8083"), description="notify-service base URL")
    console_secret_key: str = Field(min_length=32, description="signs CSRF tokens and flash messages")
    console_dev_login: bool = Field(default=False, description="enable /dev-login (development and tests only)")
    console_session_hours: float = Field(default=8.0, gt=0, le=24 * 7, description="session cookie lifetime")
    console_api_timeout_s: float = Field(default=15.0, gt=0, le=120, description="per call to a service")
    http_max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="largest form post")

    @field_validator("console_secret_key")
    @classmethod
    def _real_secret(cls, value: str) -> str:
        if value.strip().lower() in PLACEHOLDERS or len(set(value)) < 8:
            raise ValueError("is a placeholder; set a real random secret of 32+ characters")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _https_unless_loopback(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("should be the console's URL, e.g. https://care.example.com")
        if parts.scheme == "http" and not is_loopback(value):
            raise ValueError("must be https unless the console is on loopback (its session cookie is Secure)")
        return value.rstrip("/")

    @field_validator("console_dev_login")
    @classmethod
    def _dev_login_only_with_a_development_key(cls, value: bool, info: ValidationInfo) -> bool:
        secret = str(info.data.get("jwt_secret", ""))
        if value and not secret.startswith(DEV_KEY_PREFIXES):
            raise ValueError(
                "refused: JWT_SECRET looks like a production key (development keys start with 'dev-' or 'test-'), "
                "and dev-login mints tokens every service accepts"
            )
        return value

    @property
    def secure_cookies(self) -> bool:
        """Secure cookies everywhere but on loopback over plain http (a browser would never send them back)."""
        return not (is_loopback(self.public_base_url) and self.public_base_url.startswith("http://"))
