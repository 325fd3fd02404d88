"""Pure rules: rendering within platform limits, rate limits, backoff and the retry window, URL checks,
masking, the Alertmanager payload, plan gating and the Lark signature."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from notify_helpers import settings, target

from care_schemas.catalogue import ChannelType, PlanCode, catalogue
from care_schemas.events.alert import Alert, AlertStatus
from notify_service.adapters.channels import REGISTRY, lark, pagerduty
from notify_service.adapters.queue import Claimed
from notify_service.domain.alertmanager import render_alert
from notify_service.domain.alertmanager_in import FieldError, parse_alertmanager
from notify_service.domain.backoff import next_delay_s
from notify_service.domain.classify import EXCERPT, MIN_FRAGMENT, Outcome, Verdict, classify_status, redact
from notify_service.domain.plans import refusal
from notify_service.domain.ratelimit import Limits, TokenBucket
from notify_service.domain.subscribers import masked
from notify_service.domain.text import line
from notify_service.domain.urls import address_problem, url_problem
from notify_service.handlers.delivery.backlog import Backlog
from notify_service.handlers.delivery.dispatcher import decide

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


def backlog(rows: list[Claimed], channel: ChannelType) -> Backlog:
    pending = Backlog(REGISTRY[channel].groups)
    pending.extend(rows)
    return pending


def test_grouping_takes_the_whole_group_of_the_first_row_and_keeps_the_rest(alert: Alert) -> None:
    pending = backlog([claimed(alert, 1), claimed(alert, 2, grp="s/cl-2"), claimed(alert, 3)], ChannelType.SLACK)
    assert [r.id for r in pending.take()] == [1, 3]
    assert [r.id for r in pending] == [2]
    assert len(pending) == 1
    pending = backlog([claimed(alert, 1), claimed(alert, 3)], ChannelType.PAGERDUTY)
    assert [r.id for r in pending.take()] == [1]


def test_a_channel_that_does_not_group_sends_in_claim_order_across_groups(alert: Alert) -> None:
    rows = [claimed(alert, 1), claimed(alert, 2, grp="s/cl-2"), claimed(alert, 3), claimed(alert, 4, grp="s/cl-2")]
    pending = backlog(rows, ChannelType.PAGERDUTY)
    assert [pending.take()[0].id for _ in range(4)] == [1, 2, 3, 4]
    assert not pending


def test_rows_put_back_go_first_and_take_later_rows_of_their_group_with_them(alert: Alert) -> None:
    pending = backlog([claimed(alert, 1), claimed(alert, 2), claimed(alert, 3, grp="s/cl-2")], ChannelType.SLACK)
    first = pending.take()
    assert [r.id for r in first] == [1, 2]
    pending.append(claimed(alert, 4))  # claimed while the message was on its way, same group
    pending.put_back(first[1:])  # the message could hold only the first row
    assert [r.id for r in pending] == [2, 4, 3]
    assert [r.id for r in pending.take()] == [2, 4]
    pdu = backlog([claimed(alert, 5), claimed(alert, 6)], ChannelType.PAGERDUTY)
    pdu.put_back(pdu.take())
    assert [r.id for r in pdu] == [5, 6]


def test_rows_of_partitions_handed_over_leave_the_backlog(alert: Alert) -> None:
    rows = [dataclasses.replace(claimed(alert, i, grp=f"s/cl-{i % 2}"), part=i % 3) for i in range(1, 7)]
    pending = backlog(rows, ChannelType.SLACK)
    assert sorted(r.id for r in pending.drop({0})) == [3, 6]
    assert sorted(r.id for r in pending) == [1, 2, 4, 5]
    assert len(pending) == 4


def test_with_every_alert_its_own_group_each_message_carries_one_alert_in_claim_order(alert: Alert) -> None:
    # webhook subscribers with group_by ['...'] (Alertmanager's "every alert alone")
    pending = backlog([claimed(alert, i, grp=f"s/{i}") for i in range(1000)], ChannelType.WEBHOOK)
    assert [[r.id for r in pending.take()] for _ in range(1000)] == [[i] for i in range(1000)]
    assert not pending


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
    intake = parse_alertmanager(
        am_payload(alertname="DiskFull", project_id="p1", cluster_id="c1", instance="i1"), default_org="org-1"
    )
    assert intake.refused == []
    [(_, alert)] = intake.accepted
    assert (alert.org_id, alert.project_id, alert.cluster_id, alert.rule) == ("org-1", "p1", "c1", "DiskFull")
    assert alert.severity.value == "warning"
    assert alert.labels == {"instance": "i1"}
    assert alert.source == "prometheus"


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ({"alertname": "X"}, "alerts[0].labels.project_id"),
        ({"project_id": "p"}, "alerts[0].labels.alertname"),
        ({"alertname": "X", "project_id": "p" * 200}, "alerts[0].labels.project_id"),
    ],
)
def test_an_alertmanager_alert_is_refused_alone_naming_the_field(labels: dict[str, str], field: str) -> None:
    body = am_payload(**labels)
    good = am_payload(alertname="Fine", project_id="p")["alerts"]
    body["alerts"] = [*body["alerts"], *good]  # type: ignore[misc]
    intake = parse_alertmanager(body, default_org="org-1")
    [refusal] = intake.refused
    assert refusal.index == 0
    assert refusal.reason.startswith(f"{field}: ")
    assert [(i, a.rule) for i, a in intake.accepted] == [(1, "Fine")]


@pytest.mark.parametrize(
    ("spelling", "severity"),
    [
        ("page", "critical"),
        ("Error", "critical"),
        ("high", "critical"),
        ("P1", "critical"),
        ("warn", "warning"),
        ("medium", "warning"),
        ("low", "info"),
        ("notice", "info"),
        ("none", "info"),
        ("apocalyptic", "warning"),
        (" CRITICAL ", "critical"),
    ],
)
def test_severity_spellings_map_to_the_three_and_the_senders_label_is_kept(spelling: str, severity: str) -> None:
    intake = parse_alertmanager(am_payload(alertname="X", project_id="p", severity=spelling), default_org="org-1")
    [(_, alert)] = intake.accepted
    assert alert.severity.value == severity
    assert alert.labels["severity"] == spelling
    assert render_alert(alert)["labels"]["severity"] == spelling, "receivers downstream see the sender's spelling"


def test_every_annotation_is_kept_and_shown_with_the_runbook_as_a_link() -> None:
    body = am_payload(alertname="DiskFull", project_id="p")
    body["alerts"][0]["annotations"] = {  # type: ignore[index]
        "summary": "disk full",
        "description": "95% used",
        "runbook_url": "https://runbooks.example/disk",
        "dashboard": "https://grafana.example/d/1",
        "owner": "storage team",
    }
    [(_, alert)] = parse_alertmanager(body, default_org="org-1").accepted
    assert alert.annotations == {
        "runbook_url": "https://runbooks.example/disk",
        "dashboard": "https://grafana.example/d/1",
        "owner": "storage team",
    }
    assert (alert.summary, alert.description) == ("disk full", "95% used")
    slack = line(alert, markdown=True)
    assert "<https://runbooks.example/disk|runbook_url>" in slack
    assert slack.index("runbook_url") < slack.index("dashboard"), "the runbook comes first"
    assert "[runbook_url](https://runbooks.example/disk)" in line(alert, style="markdown")
    assert "owner: storage team" in line(alert)
    assert render_alert(alert)["annotations"]["runbook_url"] == "https://runbooks.example/disk"
    event = pagerduty.event_for(alert)
    assert {"href": "https://runbooks.example/disk", "text": "Runbook"} in event["links"]
    assert event["payload"]["custom_details"]["annotations"]["owner"] == "storage team"


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
    [refused] = parse_alertmanager(body, default_org="org-1").refused
    assert refused.reason == "alerts[0].labels.instance: must not contain NUL (\\u0000) characters"


@pytest.mark.parametrize("length", [8, 16, 40, 120, 199, 200, 201, 300])
@pytest.mark.parametrize("where", ["straddling", "cut-by-sender", "starting-cut"])
def test_no_prefix_or_suffix_of_a_secret_reaches_the_reason(length: int, where: str) -> None:
    """The issue's fifth case: the answer was cut to 200 characters before redaction, so a secret echoed across the
    cut reached the delivery log, dead letters and logs minus its last characters."""
    secret = ("Zq7" + uuid.uuid4().hex * 10)[:length]
    if where == "straddling":
        # padded with a character no secret here holds: a random secret with "eeee" in it matched "e" padding
        body = "." * (EXCERPT - length // 2) + secret + " tail"
    elif where == "cut-by-sender":  # the endpoint echoed the secret and cut its own answer inside it
        body = "echo: " + secret[: max(MIN_FRAGMENT, length - 3)]
    else:
        body = secret[-max(MIN_FRAGMENT, length - 3) :] + " was refused"
    outcome = classify_status(400, {}, body, [secret])
    fragments = {secret[i : i + MIN_FRAGMENT] for i in range(len(secret) - MIN_FRAGMENT + 1)}
    assert not any(f in outcome.reason for f in fragments), outcome.reason
    assert "****" in outcome.reason


def test_redaction_still_leaves_the_rest_of_the_answer() -> None:
    assert redact("invalid token abcdefgh1234 for team", ["abcdefgh1234"]) == "invalid token **** for team"
    assert redact("no secret here", ["abcdefgh1234"]) == "no secret here"


@pytest.mark.parametrize(
    "address",
    [
        "2002:a00:1::",  # 6to4 embedding 10.0.0.1
        "2002:7f00:1::",  # 6to4 embedding 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 embedding 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::a00:1",  # local-use NAT64
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo
        "::ffff:10.0.0.1",  # IPv4-mapped
        "::10.0.0.1",  # IPv4-compatible
    ],
)
def test_an_address_that_embeds_a_non_global_ipv4_is_refused(address: str) -> None:
    assert address_problem("hooks.example.com", [address], frozenset()) is not None


def test_public_addresses_still_pass_the_guard() -> None:
    public = ["2606:4700::1111", "8.8.8.8", "192.0.0.9", "2001:1::1", "2001:4:112::1"]
    assert address_problem("hooks.example.com", public, frozenset()) is None


@pytest.mark.parametrize(
    "address",
    [
        "2002:808:808::",  # 6to4, though it embeds 8.8.8.8: refused as a whole (deprecated, RFC 7526)
        "2001:2::1",  # benchmarking, inside 2001::/23 but outside its global exceptions
        "192.0.0.8",  # IETF protocol assignments, outside 192.0.0.9 and 192.0.0.10
        "100::1",  # discard-only
        "198.18.0.1",  # benchmarking
    ],
)
def test_the_guard_reads_the_special_purpose_registries_the_same_on_every_python(address: str) -> None:
    # CPython before 3.11.10 answered `is_global` differently for each of these (pyenv's 3.11.7 and Debian's
    # 3.11.2 with its security fixes disagree on the first two): the guard does not ask it
    assert address_problem("hooks.example.com", [address], frozenset()) is not None
