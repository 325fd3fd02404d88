"""The support page marks CURRENT and sends Premium to sales; TAM and time zone rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from care_schemas.catalogue import PlanCode
from care_schemas.events.plan import Actor, ChangeReason, Tam
from plan_service.domain import account, support_page
from plan_service.domain.model import Conflict, Invalid, OrgPlan

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 2, tzinfo=UTC)
STAFF = Actor(sub="sam", role="sales")


def org(plan: PlanCode) -> OrgPlan:
    return OrgPlan(org_id="org-1", plan=plan, since=NOW, version=1)


@pytest.mark.parametrize(
    ("current", "actions"),
    [
        (PlanCode.BASIC, ["CURRENT", "Upgrade", "Upgrade", "Contact sales"]),
        (PlanCode.DEVELOPER, ["Downgrade", "CURRENT", "Upgrade", "Contact sales"]),
        (PlanCode.ENTERPRISE, ["Downgrade", "Downgrade", "CURRENT", "Contact sales"]),
        (PlanCode.PREMIUM, ["Downgrade", "Downgrade", "Downgrade", "CURRENT"]),
        (PlanCode.LEGACY_ENTERPRISE, ["Downgrade", "Downgrade", "Upgrade", "Contact sales"]),
    ],
)
def test_support_page_actions_per_current_plan(current: PlanCode, actions: list[str]) -> None:
    page = support_page.render(org(current))
    assert [p["code"] for p in page["plans"]] == ["basic", "developer", "enterprise", "premium"]
    assert [p["action"] for p in page["plans"]] == actions
    assert [p["current"] for p in page["plans"]] == [a == "CURRENT" for a in actions]
    assert all("technical_tickets" in p["entitlements"] for p in page["plans"])


def test_support_page_of_a_legacy_org_shows_its_plan_and_when_it_retires() -> None:
    page = support_page.render(org(PlanCode.LEGACY_PREMIUM))
    assert page["legacy_plan"]["action"] == "CURRENT"
    assert page["legacy_plan"]["retires_at"] == "2026-01-15T00:00:00+00:00"
    assert page["legacy_plan"]["moves_to"] == "basic"


def test_tam_is_assigned_only_on_a_plan_that_includes_one() -> None:
    tam = Tam(name="Tia Tam", email="tia@vendor.example")
    change = account.decide_tam(org(PlanCode.PREMIUM), tam, STAFF, NOW)
    assert change is not None
    assert (change.after.tam, change.reason, change.after.plan) == (tam, ChangeReason.TAM_ASSIGNED, PlanCode.PREMIUM)
    assert account.decide_tam(change.after, tam, STAFF, NOW) is None
    with pytest.raises(Conflict, match="a named TAM comes with Premium"):
        account.decide_tam(org(PlanCode.ENTERPRISE), tam, STAFF, NOW)


def test_time_zone_must_be_an_iana_name() -> None:
    change = account.decide_timezone(org(PlanCode.BASIC), "Europe/Berlin", STAFF, NOW)
    assert change is not None
    assert (change.after.timezone, change.reason) == ("Europe/Berlin", ChangeReason.SETTINGS_CHANGED)
    assert account.decide_timezone(change.after, "Europe/Berlin", STAFF, NOW) is None
    with pytest.raises(Invalid, match="use an IANA name such as"):
        account.decide_timezone(org(PlanCode.BASIC), "CEST", STAFF, NOW)
