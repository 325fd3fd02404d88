"""notify-service settings, validated at start-up."""

from __future__ import annotations

from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, field_validator

from carekit.settings import ServiceSettings

INTAKE_POLL_RECORDS = 4000  # most alert events the Kafka intake takes in one poll (entrypoints/consumers.py)
BESIDE_SHARE = 0.2  # DELIVERY_SHARE of a process delivering beside a dispatcher process (its core serves the API)


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
        description="a Unix socket path: a dispatcher process (NOTIFY_ROLE=dispatcher) serves it, and the processes"
        " of this machine that take alerts hand it the notifications of its partitions that they may send at once: an"
        " API process (NOTIFY_ROLE=api) all of them, a process that delivers too (NOTIFY_ROLE=all) those of the"
        " partitions the dispatcher process holds (its own dispatcher takes the rest, in memory); unset, they reach"
        " it only through Postgres claims",
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
    delivery_share: float | None = Field(
        default=None,
        gt=0,
        le=64,
        description="this instance's share of the delivery partitions, relative to the other instances' (it takes"
        " ceil(64 x its share / the shares of all instances alive)); unset: 1, or 0.2 for a process that delivers"
        " beside a dispatcher process (NOTIFY_ROLE=all with DELIVERY_HANDOFF_SOCKET), whose core also serves the"
        " API and the intake",
    )
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
    def delivery_share_of_partitions(self) -> float:
        """`delivery_share`, or its default for this process's role."""
        if self.delivery_share is not None:
            return self.delivery_share
        return BESIDE_SHARE if self.notify_role == "all" and self.delivery_handoff_socket else 1.0

    @property
    def sales_chat(self) -> dict[str, str] | None:
        if not self.sales_notice_chat:
            return None
        platform, _, channel = self.sales_notice_chat.partition(":")
        return {"platform": platform, "channel": channel}

    @property
    def allowlist(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.notify_url_allowlist.split(",") if h.strip())
