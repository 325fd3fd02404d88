"""The repo's Prometheus alerting rules and Grafana dashboard (ops/) watch the system through the metrics the
services really export: every expression parses into metric names that exist. promtool is not installed here
(building it from the Go module takes longer than the whole suite), so this checks with a small PromQL reader."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import assistant_service.adapters.metrics
import carekit.faults
import carekit.metrics
import carekit.runtime
import notify_service.adapters.metrics
import plan_service.adapters.metrics
import ticket_service.adapters.metrics

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "care-alerts.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "connected-care.json"
SCRAPED_BY_PROMETHEUS = {"up"}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}
SERVICES_METRICS = (
    assistant_service.adapters.metrics,
    carekit.faults,
    carekit.runtime,
    carekit.metrics,
    notify_service.adapters.metrics,
    plan_service.adapters.metrics,
    ticket_service.adapters.metrics,
)


def exported() -> set[str]:
    """Every series name the services' metrics produce (the default registry holds them all once imported)."""
    names = set(SCRAPED_BY_PROMETHEUS)
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels and durations left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values and function strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    found = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word, rest = match.group(), text[match.end() :].lstrip()
        if rest.startswith("(") or word in KEYWORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        found.add(word)
    return found


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in doc["panels"] for t in panel.get("targets", [])]


def test_every_alert_is_complete_and_names_its_severity() -> None:
    found = rules()
    assert len(found) >= 10
    assert len({r["alert"] for r in found}) == len(found), "alert names are unique"
    for rule in found:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), rule["alert"]


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_every_alert_expression_uses_only_exported_metrics(rule: dict[str, Any]) -> None:
    used = metric_names(rule["expr"])
    assert used, f"{rule['alert']} selects no metric"
    assert used <= exported(), f"{rule['alert']} uses metrics nothing exports: {sorted(used - exported())}"


def test_every_dashboard_panel_uses_only_exported_metrics() -> None:
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    unknown = {name for expr in exprs for name in metric_names(expr)} - exported()
    assert not unknown, f"the dashboard queries metrics nothing exports: {sorted(unknown)}"


def test_the_rules_watch_what_the_issue_asks_for() -> None:
    watched = {name for rule in rules() for name in metric_names(rule["expr"])}
    for wanted in (
        "care_outbox_oldest_age_seconds",
        "care_outbox_backlog",
        "care_consumer_lag",
        "care_consumer_failures_total",
        "care_dead_letters_total",
        "notify_notifications_dead_lettered_total",
        "notify_messages_sent_total",
        "ticket_response_breaches_total",
    ):
        assert wanted in watched, wanted


def test_the_reader_finds_metric_names_and_would_catch_a_typo() -> None:
    expr = 'sum by (job) (rate(care_http_requests_total{status="5xx"}[5m])) / on(job) up > 0.05'
    assert metric_names(expr) == {"care_http_requests_total", "up"}
    assert "care_outbox_backlogg" not in exported()
    assert metric_names("care_outbox_backlogg > 1") - exported() == {"care_outbox_backlogg"}
