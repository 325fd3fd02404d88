"""Fixtures for notify-service tests."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

# notify_helpers sits next to this file
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from care_schemas.events.alert import Alert


@pytest.fixture
def alert() -> Alert:
    return Alert(
        fingerprint="fp-1",
        org_id="org-1",
        project_id="proj-1",
        cluster_id="cl-1",
        rule="node_memory_above_70pct_10m",
        severity="critical",
        status="firing",
        starts_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        summary="TiKV memory above 70% for 10 minutes",
        description="tikv-0 at 83%",
        labels={"instance": "tikv-0"},
        link="https://console.example/a/1",
    )
