"""The cost of checking every string for NUL and lone surrogates when an alert event is validated.

Before issue 8 the Alert model ran a Python validator over every text field and every label (a list built per
call); now every string carries one compiled pattern checked inside pydantic-core (care_schemas.bounded).
Validates the same alert event N times both ways and prints events/s. Pure CPU: no infrastructure.

    uv run python bench/bench_validation.py [N]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from care_schemas.events.alert import Alert, alert_event, alert_event_adapter


class Before(BaseModel):
    """The Alert model as it was: plain strings, and the NUL check as a Python validator over the fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    fingerprint: str = Field(min_length=1, max_length=128)
    org_id: str = Field(min_length=1, max_length=128)
    project_id: str = Field(min_length=1, max_length=128)
    cluster_id: str | None = Field(default=None, max_length=128)
    cluster_plan: str | None = None
    rule: str = Field(min_length=1, max_length=255)
    severity: str
    status: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    summary: str = Field(min_length=1, max_length=1024)
    description: str = Field(default="", max_length=8192)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    source: str = "platform"
    link: str | None = None

    @field_validator(
        "fingerprint",
        "org_id",
        "project_id",
        "cluster_id",
        "rule",
        "summary",
        "description",
        "labels",
        "source",
        "link",
    )
    @classmethod
    def _no_nul(cls, value: object) -> object:
        texts = [*value.keys(), *value.values()] if isinstance(value, dict) else [value]
        if any(isinstance(t, str) and "\x00" in t for t in texts):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


class BeforeEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    specversion: str
    id: str
    source: str
    type: str
    time: AwareDatetime | None = None
    subject: str
    datacontenttype: str = "application/json"
    data: Before


def rate(adapter: TypeAdapter[Any], raw: bytes, n: int) -> float:
    adapter.validate_json(raw)
    started = time.perf_counter()
    for _ in range(n):
        adapter.validate_json(raw)
    return n / (time.perf_counter() - started)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    alert = Alert(
        fingerprint="a1b2c3d4",
        org_id="org-1",
        project_id="proj-1",
        cluster_id="cl-1",
        rule="node_memory_above_70pct",
        severity="critical",
        status="firing",
        starts_at=datetime(2026, 11, 26, 8, tzinfo=UTC),
        summary="TiKV memory above 70% for 10 minutes",
        description="tikv-0 at 83% " * 20,
        labels={f"label_{i}": f"value-{i}" for i in range(20)},
        annotations={"runbook_url": "https://runbooks.example/tikv-memory", "dashboard": "https://grafana.example/d/1"},
        link="https://console.example/a/1",
    )
    raw = alert_event(alert, source="/bench").to_json_bytes()
    before = rate(TypeAdapter(BeforeEvent), raw, n)
    now = rate(alert_event_adapter, raw, n)
    print(f"alert event of {len(raw)} bytes, 20 labels, validated {n} times")
    print(f"  before (Python NUL validator): {before:,.0f} events/s")
    print(
        f"  now (compiled pattern per string, surrogates refused, times bounded): {now:,.0f} events/s"
        f" ({now / before:.2f}x)"
    )


if __name__ == "__main__":
    main()
