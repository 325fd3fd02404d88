"""notify-service settings, validated at start-up."""

from __future__ import annotations

from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, field_validator

from carekit.settings import ServiceSettings

INTAKE_POLL_RECORDS = 4000  # most alert events the Kafka intake takes in one poll (entrypoints/consumers.py)


class Settings(ServiceSettings):
    http_port: int = Field(default=8083, ge=0, le=65535)
    consumer_group_prefix: str = "notify-service"
    external_url: str = "http://127.0.0.1:8083"
    http_max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="largest request body: 1000 Alertmanager alerts fit (413 beyond)"
    )

    notify_secret_key: str = Field(description="Fernet key (urlsafe base64 of 32 bytes) encrypting subscriber secrets")
    notify_url_allowlist: str = Field(
        default="", description="comma-separated hosts that may be http:// and private/loopback (dev and tests)"
    )

    notify_role: Literal["all", "api", "dispatcher"] = Field(
        default="all",
        description="all: HTTP API, Kafka intake and delivery in one process; api: no delivery; dispatcher: only "
        "delivery (what `python -m notify_service.dispatcher` runs), any number of them",
    )
    delivery_handoff_socket: str | None = Field(
        default=None,
        description="a Unix socket path: a dispatcher process (NOTIFY_ROLE=dispatcher) serves it and API processes"
        " of this machine (NOTIFY_ROLE=api) hand it the notifications they may send at once, as a process with both"
        " roles does in memory; unset, they reach it only through Postgres claims (NOTIFY_ROLE=all ignores it)",
    )

    # delivery pipeline
    delivery_poll_interval_s: float = Field(default=1.0, gt=0, description="longest wait between claims")
    delivery_timeout_s: float = Field(default=15.0, gt=0)
    delivery_concurrency: int = Field(default=64, ge=1)
    delivery_target_inflight: int = Field(default=16, ge=1, description="messages in flight per subscriber")
    delivery_claim_batch: int = Field(default=1000, ge=1)
    delivery_held_rows: int = Field(
        default=6000,
        ge=1,
        description="notifications a dispatcher holds in memory waiting to be sent, claimed or handed by the intake,"
        " before it takes more (what it takes then, a claim or the intake's poll, may pass it by up to"
        f" DELIVERY_CLAIM_BATCH or {INTAKE_POLL_RECORDS:,}); the rest wait in Postgres",
    )
    delivery_target_backlog: int = Field(default=1000, ge=1, description="most claimed rows one target may hold")
    delivery_lease_ttl_s: float = Field(default=10.0, gt=0, description="a partition lease runs out after this")
    delivery_lease_renew_s: float = Field(default=2.0, gt=0, description="leases are renewed this often")
    webhook_max_alerts: int = Field(default=1000, ge=1, description="most alerts in one webhook/Flashduty request")
    webhook_max_bytes: int = Field(default=1024 * 1024, ge=16 * 1024, description="largest webhook request body")
    grouping_window_s: float = Field(default=2.0, ge=0)
    retry_window_s: float = Field(default=3600.0, gt=0)
    retry_base_s: float = Field(default=1.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)
    repeat_interval_s: float = Field(default=3 * 3600.0, gt=0)
    repeat_check_interval_s: float = Field(default=30.0, gt=0)
    mute_check_interval_s: float = Field(
        default=1.0, gt=0, description="how often silences and windows that start or end are looked for"
    )
    alert_timeout_check_interval_s: float = Field(
        default=5.0, gt=0, description="how often alerts posted through the Alertmanager API are timed out"
    )

    # per-target rates (messages per second, burst)
    slack_rate_per_s: float = Field(default=1.0, gt=0)
    lark_rate_per_s: float = Field(default=5.0, gt=0)
    lark_rate_per_min: float = Field(default=100.0, gt=0)
    pagerduty_rate_per_min: float = Field(default=120.0, gt=0)
    webhook_rate_per_s: float = Field(default=50.0, gt=0)
    webhook_burst: int = Field(default=50, ge=1)
    zoom_rate_per_s: float = Field(default=1.0, gt=0)
    email_rate_per_s: float = Field(default=5.0, gt=0)

    # channel endpoints
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "alerts@connected-care.local"
    smtp_starttls: bool = False

    # ticket updates to IM
    slack_bot_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    lark_app_id: str = ""
    lark_app_secret: str = ""
    lark_api_url: str = "https://open.larksuite.com"

    # notices to organisations (issue 13)
    console_url: str = Field(default="http://127.0.0.1:8080", description="base of the console links in notices")
    sales_notice_email: str = Field(default="", description="the sales team's address for new Premium requests")
    sales_notice_chat: str = Field(
        default="", description="the sales team's channel: slack:<channel id> or lark:<chat id> (posted by the bot)"
    )

    @field_validator("notify_secret_key")
    @classmethod
    def _fernet_key(cls, value: str) -> str:
        try:
            Fernet(value.encode())
        except (ValueError, TypeError):
            raise ValueError(
                "must be a Fernet key: generate one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            ) from None
        return value

    @field_validator("sales_notice_chat")
    @classmethod
    def _chat_place(cls, value: str) -> str:
        if value and (value.partition(":")[0] not in ("slack", "lark") or not value.partition(":")[2]):
            raise ValueError("must be slack:<channel id> or lark:<chat id>")
        return value

    @property
    def sales_chat(self) -> dict[str, str] | None:
        if not self.sales_notice_chat:
            return None
        platform, _, channel = self.sales_notice_chat.partition(":")
        return {"platform": platform, "channel": channel}

    @property
    def allowlist(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.notify_url_allowlist.split(",") if h.strip())
