"""Pure rules: rendering within platform limits, rate limits, backoff and the retry window, URL checks,
masking, the Alertmanager payload, plan gating and the Lark signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import deque
from datetime import UTC, datetime, timedelta

import pytest
from notify_helpers import settings, target

from care_schemas.catalogue import ChannelType, PlanCode, catalogue
from care_schemas.events.alert import Alert, AlertStatus
from notify_service.adapters.channels import REGISTRY, lark, pagerduty
from notify_service.adapters.queue import Claimed
from notify_service.domain.alertmanager_in import FieldError, parse_alertmanager
from notify_service.domain.backoff import next_delay_s
from notify_service.domain.classify import Outcome, Verdict
from notify_service.domain.plans import refusal
from notify_service.domain.ratelimit import Limits, TokenBucket
from notify_service.domain.subscribers import masked
from notify_service.domain.urls import address_problem, url_problem
from notify_service.handlers.delivery.dispatcher import decide, next_message

pytestmark = pytest.mark.unit
SLACK = target(ChannelType.SLACK, {"webhook_url": "https://hooks.slack.com/services/T0/B0/abcdefghijkl"})


def many(alert: Alert, n: int) -> list[Alert]:
    return [alert.model_copy(update={"fingerprint": f"fp-{i:04d}", "summary": "x" * 60}) for i in range(n)]


def test_slack_message_stays_within_block_kit_limits_and_says_how_many_follow(alert: Alert) -> None:
    rendered = REGISTRY[ChannelType.SLACK].render(many(alert, 2000), SLACK, settings(), False)
    blocks = rendered.payload["blocks"]
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert len(blocks[0]["text"]["text"]) <= 150
    assert 100 < rendered.covered < 2000
    assert f"and {2000 - rendered.covered} more" in blocks[-1]["elements"][0]["text"]
    named = "".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert all(f"fp-{i:04d}" in named for i in range(rendered.covered))


def test_a_small_group_fits_one_slack_message_naming_every_alert(alert: Alert) -> None:
    rendered = REGISTRY[ChannelType.SLACK].render(many(alert, 12), SLACK, settings(), False)
    assert rendered.covered == 12
    assert rendered.payload["text"].startswith("12 alerts (12 firing) on cluster cl-1")


def test_zoom_and_lark_messages_stay_under_their_size_limits(alert: Alert) -> None:
    zoom_t = target(ChannelType.ZOOM, {"endpoint_url": "https://x.zoom.us/w", "verification_token": "t"})
    zoom = REGISTRY[ChannelType.ZOOM].render(many(alert, 500), zoom_t, settings(), False)
    assert len(zoom.payload["body"][0]["text"]) <= 4100
    lark_t = target(ChannelType.LARK, {"webhook_url": "https://open.larksuite.com/h", "signing_secret": "s"})
    card = REGISTRY[ChannelType.LARK].render(many(alert, 500), lark_t, settings(), False)
    assert len(json.dumps(card.payload).encode()) < 30 * 1024
    assert card.covered < 500


def test_pagerduty_event_is_cut_to_512_kb(alert: Alert) -> None:
    huge = alert.model_copy(update={"description": "d" * 600_000})
    event = pagerduty.event_for(huge, "k" * 32)
    assert len(json.dumps(event).encode()) <= 512 * 1024
    assert event["dedup_key"] == "fp-1"
    resolved = pagerduty.event_for(alert.model_copy(update={"status": AlertStatus.RESOLVED}))
    assert resolved["event_action"] == "resolve"


def test_lark_signature_matches_the_documented_scheme() -> None:
    expected = base64.b64encode(hmac.new(b"1599360473\nsecret", b"", hashlib.sha256).digest()).decode()
    assert lark.sign(1599360473, "secret") == expected


def test_token_bucket_holds_slack_to_one_message_a_second() -> None:
    now = [0.0]
    limits = Limits([TokenBucket(1.0, 1, clock=lambda: now[0])], clock=lambda: now[0])
    assert limits.wait_s() == 0
    limits.take()
    assert limits.wait_s() == pytest.approx(1.0)
    now[0] = 0.5
    assert limits.wait_s() == pytest.approx(0.5)
    limits.pause(2.0)
    assert limits.wait_s() == pytest.approx(2.0)


def test_backoff_grows_is_jittered_and_never_shorter_than_retry_after() -> None:
    delays = [next_delay_s(n, base_s=1, max_s=60, retry_after_s=None) for n in range(1, 9)]
    assert 0.5 <= delays[0] <= 1
    assert all(d <= 60 for d in delays)
    assert delays[6] >= 30
    assert next_delay_s(1, base_s=1, max_s=60, retry_after_s=7) == 7


def claimed(alert: Alert, i: int, grp: str = "s/cl-1", age_s: float = 0) -> Claimed:
    return Claimed(i, "s", "org-1", "slack", grp, 0, datetime.now(UTC) - timedelta(seconds=age_s), alert)


def test_a_retry_past_the_window_becomes_a_dead_letter(alert: Alert) -> None:
    cfg = settings(retry_window_s=60)
    fresh = decide([claimed(alert, 1)], Outcome(Verdict.RETRY, "HTTP 503"), 1.0, cfg)
    assert fresh.outcome == "retry"
    assert fresh.retry_in_s > 0
    old = decide([claimed(alert, 1, age_s=59.9)], Outcome(Verdict.RETRY, "HTTP 503", 503, 5.0), 1.0, cfg)
    assert old.outcome == "dead"
    assert "retry window" in old.detail
    assert decide([claimed(alert, 1)], Outcome(Verdict.PERMANENT, "HTTP 404"), 1.0, cfg).outcome == "dead"


def test_grouping_takes_the_whole_group_of_the_first_row_and_keeps_the_rest(alert: Alert) -> None:
    pending = deque([claimed(alert, 1), claimed(alert, 2, grp="s/cl-2"), claimed(alert, 3)])
    assert [r.id for r in next_message(pending, REGISTRY[ChannelType.SLACK])] == [1, 3]
    assert [r.id for r in pending] == [2]
    pending = deque([claimed(alert, 1), claimed(alert, 3)])
    assert [r.id for r in next_message(pending, REGISTRY[ChannelType.WEBHOOK])] == [1]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.example.com/" + "a" * 240, "at most 255"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
    ],
)
def test_subscriber_urls_that_are_refused(url: str, problem: str) -> None:
    found = url_problem(url, frozenset())
    assert found is not None
    assert problem in found


def test_private_loopback_and_link_local_addresses_are_refused_unless_allow_listed() -> None:
    for ip in ("10.0.0.1", "127.0.0.1", "169.254.169.254", "192.168.1.1", "::1", "100.64.0.1", "::ffff:127.0.0.1"):
        assert address_problem("h.example", [ip], frozenset()) is not None
    assert address_problem("h.example", ["93.184.216.34"], frozenset()) is None
    assert address_problem("127.0.0.1", ["127.0.0.1"], frozenset({"127.0.0.1"})) is None
    assert url_problem("http://127.0.0.1:8080/x", frozenset({"127.0.0.1"})) is None


def test_secrets_are_masked() -> None:
    shown = masked(
        {"webhook_url": "https://hooks.slack.com/services/T0/B0/abcdefghijkl", "signing_secret": "s3cr3t-value-99"}
    )
    assert shown == {"webhook_url": "https://hooks.slack.com/****ijkl", "signing_secret": "****e-99"}


def test_basic_plan_refuses_slack_naming_enterprise() -> None:
    basic = catalogue().get(PlanCode.BASIC)
    why = refusal(ChannelType.SLACK, basic.code, basic.entitlements)
    assert why is not None
    assert "Enterprise" in why
    assert refusal(ChannelType.EMAIL, basic.code, basic.entitlements) is None


def am_payload(**labels: str) -> dict[str, object]:
    return {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "disk full"},
                "startsAt": "2026-11-26T08:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom/graph",
                "fingerprint": "abc",
            }
        ],
    }


def test_alertmanager_payload_becomes_native_alerts() -> None:
    [alert] = parse_alertmanager(
        am_payload(alertname="DiskFull", project_id="p1", cluster_id="c1", instance="i1"), default_org="org-1"
    )
    assert (alert.org_id, alert.project_id, alert.cluster_id, alert.rule) == ("org-1", "p1", "c1", "DiskFull")
    assert alert.severity.value == "warning"
    assert alert.labels == {"instance": "i1"}
    assert alert.source == "prometheus"


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ({"alertname": "X"}, "alerts[0].labels.project_id"),
        ({"project_id": "p"}, "alerts[0].labels.alertname"),
        ({"alertname": "X", "project_id": "p", "severity": "apocalyptic"}, "alerts[0].labels.severity"),
    ],
)
def test_alertmanager_payload_errors_name_the_field(labels: dict[str, str], field: str) -> None:
    with pytest.raises(FieldError) as err:
        parse_alertmanager(am_payload(**labels), default_org="org-1")
    assert err.value.field == field


def test_alertmanager_payload_of_another_version_is_refused() -> None:
    body = am_payload(alertname="X", project_id="p")
    body["version"] = "3"
    with pytest.raises(FieldError, match="version"):
        parse_alertmanager(body, default_org="org-1")


def test_line_breaks_in_an_alert_never_reach_the_email_subject(alert: Alert) -> None:
    from email.message import EmailMessage

    odd = alert.model_copy(update={"rule": "cpu\r\nBcc: someone@example.com", "cluster_id": "cl\n1"})
    email_t = target(ChannelType.EMAIL, {"address": "ops@example.com"})
    subject = REGISTRY[ChannelType.EMAIL].render([odd], email_t, settings(), False).payload["subject"]
    assert "\n" not in subject
    assert "\r" not in subject
    EmailMessage()["Subject"] = subject  # the mail library accepts it


@pytest.mark.parametrize(
    ("channel", "config", "field"),
    [
        (ChannelType.ZOOM, {"endpoint_url": "https://x.zoom.us/w", "verification_token": "tok\r\nX-Extra: 1"}, "token"),
        (ChannelType.LARK, {"webhook_url": "https://open.larksuite.com/h", "signing_secret": "se cret"}, "secret"),
        (ChannelType.PAGERDUTY, {"integration_key": "key\n"}, "integration_key"),
    ],
)
def test_tokens_with_spaces_or_line_breaks_are_refused_naming_the_field(
    channel: ChannelType, config: dict[str, str], field: str
) -> None:
    from carekit.refusals import Invalid
    from notify_service.handlers.subscribers import _validated_config

    with pytest.raises(Invalid) as refused:
        _validated_config(channel, config)
    assert refused.value.message.startswith("config.")
    assert field in refused.value.message
    assert refused.value.message.endswith("must not contain spaces, line breaks or control characters")


def test_urls_with_spaces_or_line_breaks_are_refused() -> None:
    for url in ("https://hooks.example.com/a b", "https://hooks.example.com/a\nb", "https://hooks.example.com/\x00"):
        assert url_problem(url, frozenset()) == "must not contain spaces, line breaks or control characters"


def test_an_alertmanager_label_with_a_nul_character_is_refused_naming_the_field() -> None:
    body = {
        "version": "4",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "project_id": "p", "instance": "tikv\x00-0"},
                "startsAt": "2026-11-26T08:00:00Z",
            }
        ],
    }
    with pytest.raises(FieldError) as refused:
        parse_alertmanager(body, default_org="org-1")
    assert str(refused.value) == "alerts[0].labels.instance: must not contain NUL (\\u0000) characters"
