"""The console's pure view rules: the first-response clock, the plan table, the delivery chart, channel forms,
and which form field a refusal is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from care_schemas.catalogue import ChannelType, PlanCode, catalogue
from console.adapters.api import ApiError, error_of
from console.domain.channels import choices, config_from_form, split_list
from console.domain.chart import chart
from console.domain.contacts import chat_places, contacts_body
from console.domain.countdown import due_status, local, span
from console.domain.forms import field_errors
from console.domain.plans import comparison, days_left, target_text

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_running_clock_counts_down_to_the_second_and_shows_the_due_time_in_the_org_zone() -> None:
    due = due_status(NOW + timedelta(hours=1, minutes=59, seconds=30), None, False, "Europe/Berlin", NOW)
    assert (due.state, due.text, due.live) == ("running", "1 h 59 min 30 s left", True)
    assert due.due_local == "Mon 2 Mar 2026 12:59 Europe/Berlin"


def test_the_clock_stops_at_the_first_response_saying_whether_it_was_in_time() -> None:
    due_at = NOW + timedelta(hours=2)
    met = due_status(due_at, NOW + timedelta(minutes=30), False, "UTC", NOW + timedelta(hours=5))
    missed = due_status(due_at, due_at + timedelta(minutes=10), True, "UTC", NOW + timedelta(hours=5))
    assert (met.state, met.text, met.live) == ("met", "answered 1 h 30 min 0 s before the due time", False)
    assert (missed.state, missed.text, missed.live) == ("missed", "answered 10 min 0 s after the due time", False)


def test_an_unanswered_ticket_past_its_due_time_is_overdue_and_a_billing_ticket_has_no_clock() -> None:
    overdue = due_status(NOW - timedelta(minutes=5), None, False, "UTC", NOW)
    assert (overdue.state, overdue.text, overdue.live) == ("overdue", "overdue by 5 min 0 s", True)
    breached_early = due_status(NOW + timedelta(seconds=1), None, True, "UTC", NOW)
    assert breached_early.state == "overdue"
    assert due_status(None, None, False, "UTC", NOW).state == "none"


def test_unknown_zones_fall_back_to_utc_and_long_spans_show_days() -> None:
    assert local(NOW, "Mars/Olympus") == "Mon 2 Mar 2026 10:00 UTC"
    assert span(3 * 86_400 + 5 * 3600 + 7) == "3 d 5 h"
    assert span(-42) == "42 s"


def test_the_plan_table_names_response_targets_with_their_clock() -> None:
    plans = [
        catalogue().get(code) for code in (PlanCode.BASIC, PlanCode.DEVELOPER, PlanCode.ENTERPRISE, PlanCode.PREMIUM)
    ]
    rows = {row.label: row.cells for row in comparison([p.entitlements for p in plans])}
    assert rows["S1 complete loss of production"] == ("-", "4 business hours", "1 hour (7x24)", "30 minutes (7x24)")
    assert rows["Technical tickets (unlimited)"] == ("-", "yes", "yes", "yes")
    assert rows["Named Technical Account Manager"] == ("-", "-", "-", "yes")
    assert rows["Alert channels"][0] == "E-mail"
    assert "Webhook" in rows["Alert channels"][2]
    assert target_text(None) == "-"


def test_trial_days_left_count_a_started_day() -> None:
    assert days_left(NOW + timedelta(days=29, hours=1), NOW) == 30
    assert days_left(NOW + timedelta(hours=1), NOW) == 1
    assert days_left(NOW - timedelta(seconds=1), NOW) == 0


def test_the_chart_stacks_outcomes_per_bucket_scaled_to_the_busiest() -> None:
    start = NOW - timedelta(hours=1)
    drawn = chart([(start, {"delivered": 2, "retry": 2}), (NOW, {"delivered": 1})])
    assert drawn.peak == 4
    assert drawn.totals == {"delivered": 3, "retry": 2, "dead": 0, "cancelled": 0, "resplit": 0}
    first = [b for b in drawn.bars if b.x < drawn.width / 2]
    assert [round(b.height) for b in first] == [70, 70]  # each half of the 140 px plot
    assert not drawn.empty
    assert chart([(NOW, {})]).empty


def test_channels_outside_the_plan_say_which_plan_includes_them() -> None:
    offered = {c.type: c for c in choices(["email"], "Basic")}
    assert offered["email"].allowed
    assert not offered["slack"].allowed
    assert offered["slack"].reason == "not included in the Basic plan; the Enterprise plan and above include it"


def test_an_edit_form_keeps_stored_secrets_left_empty() -> None:
    form = {"config_webhook_url": "", "config_signing_secret": " new-secret "}
    assert config_from_form(ChannelType.LARK, form, editing=True) == {"signing_secret": "new-secret"}
    assert config_from_form(ChannelType.LARK, form, editing=False) == {
        "webhook_url": "",
        "signing_secret": "new-secret",
    }
    assert split_list("a, b\nc,,") == ["a", "b", "c"]
    assert split_list(" ") is None


def test_refusals_land_beside_the_field_they_name() -> None:
    listed = ApiError(422, "malformed", fields=[("body.summary", "String should have at least 1 character")])
    assert field_errors(listed) == {"summary": "String should have at least 1 character"}
    named = ApiError(422, "Config.url: must use https (http only for allow-listed hosts)")
    assert field_errors(named) == {"config_url": "must use https (http only for allow-listed hosts)"}
    assert field_errors(ApiError(403, "technical tickets need the Developer plan")) == {}
    assert field_errors(None) == {}


def test_an_error_answer_becomes_a_sentence_never_raw_json() -> None:
    plan = error_of(
        403, b'{"detail": "needs Developer", "plan": "basic", "plan_needed": "developer"}', "ticket-service"
    )
    assert (plan.status, plan.message, plan.plan_needed) == (403, "Needs Developer", "developer")
    tested = error_of(
        422, b'{"detail": "not accepted", "endpoint_status": 404, "endpoint_answer": "HTTP 404: no hook"}', "notify"
    )
    assert (tested.message, tested.endpoint_status, tested.endpoint_answer) == ("Not accepted", 404, "no hook")
    html = error_of(502, b"<html>Bad gateway</html>", "plan-service")
    assert html.message == "plan-service answered HTTP 502; try again, or tell support if it persists"
    assert "unavailable" in error_of(503, b"", "plan-service").message


def test_contacts_left_empty_fall_back_and_unticked_kinds_are_unsubscribed_but_never_retirement() -> None:
    body = contacts_body("  ", "oncall@acme.example", "slack|T1|C9", ["ticket"])
    assert body == {
        "owner_email": None,
        "technical_email": "oncall@acme.example",
        "chat": {"platform": "slack", "workspace": "T1", "channel": "C9"},
        "unsubscribed": ["sales_request", "trial"],
    }
    assert contacts_body("", "", "", [])["unsubscribed"] == ["sales_request", "trial", "ticket"]
    assert contacts_body("", "", "", [])["chat"] is None


def test_only_active_slack_and_lark_bindings_are_offered_as_a_chat_place() -> None:
    bindings = [
        {"platform": "slack", "workspace": "T1", "channel": "C1", "name": "ops", "state": "active"},
        {"platform": "lark", "workspace": "t2", "channel": "oc_2", "name": None, "state": "suspended"},
    ]
    assert chat_places(bindings) == [("slack|T1|C1", "Slack: ops (T1 / C1)")]
