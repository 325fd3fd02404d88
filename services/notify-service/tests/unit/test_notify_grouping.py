"""Webhook and Flashduty grouping like Alertmanager: one request per group in its many-alert format, cut to the
subscriber's size limit; group_by settings checked as Alertmanager's."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from notify_helpers import settings, target

from care_schemas.catalogue import ChannelType
from care_schemas.events.alert import Alert, AlertStatus
from notify_service.adapters.channels import REGISTRY
from notify_service.domain.grouping import group_by_problem, group_labels

pytestmark = pytest.mark.unit


def _alerts(alert: Alert, n: int) -> list[Alert]:
    return [
        alert.model_copy(update={"fingerprint": f"fp-{i}", "labels": {"instance": f"tikv-{i}", "team": "db"}})
        for i in range(n)
    ]


def test_one_request_carries_the_groups_alerts_with_common_labels_and_group_key(alert: Alert) -> None:
    hook = dataclasses.replace(target(ChannelType.WEBHOOK, {"url": "https://hooks.example.com/x"}), group_by=None)
    rendered = REGISTRY[ChannelType.WEBHOOK].render(_alerts(alert, 3), hook, settings(), False)
    body = rendered.payload
    assert rendered.covered == 3
    assert [a["fingerprint"] for a in body["alerts"]] == ["fp-0", "fp-1", "fp-2"]
    assert body["groupLabels"] == {"cluster_id": "cl-1"}
    assert body["groupKey"] == '{}:{cluster_id="cl-1"}'
    assert body["commonLabels"]["team"] == "db"
    assert "instance" not in body["commonLabels"], "labels that differ are not common"
    assert body["status"] == "firing"


def test_an_alert_alone_has_all_its_labels_and_annotations_in_common(alert: Alert) -> None:
    hook = dataclasses.replace(target(ChannelType.WEBHOOK, {"url": "https://hooks.example.com/x"}), group_by=["..."])
    body = REGISTRY[ChannelType.WEBHOOK].render(_alerts(alert, 1), hook, settings(), False).payload
    assert body["commonLabels"] == body["alerts"][0]["labels"]
    assert body["commonLabels"]["instance"] == "tikv-0"
    assert body["commonAnnotations"] == body["alerts"][0]["annotations"]
    assert body["commonLabels"] is not body["alerts"][0]["labels"]  # a copy: changing one cannot change the other


def test_a_group_larger_than_max_alerts_is_cut_and_the_rest_follows(alert: Alert) -> None:
    hook = dataclasses.replace(target(ChannelType.FLASHDUTY, {"url": "https://api.flashcat.cloud/x"}), max_alerts=2)
    rendered = REGISTRY[ChannelType.FLASHDUTY].render(_alerts(alert, 5), hook, settings(), False)
    assert rendered.covered == 2
    assert len(rendered.payload["alerts"]) == 2


def test_a_group_over_the_byte_limit_is_cut_below_it(alert: Alert) -> None:
    big = [a.model_copy(update={"description": "x" * 4000}) for a in _alerts(alert, 50)]
    hook = target(ChannelType.WEBHOOK, {"url": "https://hooks.example.com/x"})
    cfg = settings(webhook_max_bytes=64 * 1024)
    rendered = REGISTRY[ChannelType.WEBHOOK].render(big, hook, cfg, False)
    assert 1 <= rendered.covered < 50
    assert len(orjson.dumps(rendered.payload)) <= 64 * 1024


def test_a_resolved_group_says_resolved(alert: Alert) -> None:
    resolved = [a.model_copy(update={"status": AlertStatus.RESOLVED}) for a in _alerts(alert, 2)]
    hook = target(ChannelType.WEBHOOK, {"url": "https://hooks.example.com/x"})
    assert REGISTRY[ChannelType.WEBHOOK].render(resolved, hook, settings(), False).payload["status"] == "resolved"


@pytest.mark.parametrize(
    ("group_by", "problem"),
    [
        (None, None),
        ([], None),
        (["..."], None),
        (["alertname", "cluster_id"], None),
        (["...", "alertname"], "cannot be combined"),
        (["a", "a"], "must not repeat"),
        ([f"l{i}" for i in range(21)], "at most 20"),
    ],
)
def test_group_by_is_checked_like_alertmanagers(group_by: list[str] | None, problem: str | None) -> None:
    found = group_by_problem(group_by)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_group_labels_follow_group_by() -> None:
    labels = {"alertname": "Disk", "cluster_id": "c1", "instance": "i1"}
    assert group_labels(None, labels) == {"cluster_id": "c1"}
    assert group_labels(["alertname"], labels) == {"alertname": "Disk"}
    assert group_labels(["..."], labels) == labels
    assert group_labels([], labels) == {}
