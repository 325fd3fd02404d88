"""Account settings that travel with the plan: the named TAM and the organisation's time zone."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import available_timezones

from care_schemas.bounded import NOT_ZONES
from care_schemas.events.plan import Actor, ChangeReason, Tam
from plan_service.domain.model import Change, Conflict, Invalid, OrgPlan, advance


def decide_tam(state: OrgPlan, tam: Tam, actor: Actor, now: datetime) -> Change | None:
    """Assign a named TAM to an organisation whose plan includes one; None when it is already the same."""
    plan = state.catalogue_plan
    if not plan.entitlements.tam:
        raise Conflict(f"a named TAM comes with Premium; {state.org_id} is on {plan.name}. Approve Premium first")
    if state.tam == tam:
        return None
    return advance(state, reason=ChangeReason.TAM_ASSIGNED, actor=actor, now=now, tam=tam)


@cache
def _zones() -> frozenset[str]:
    # the files beside the zones on a tz path are not zones: localtime (this machine's), posixrules, Factory
    return frozenset(z for z in available_timezones() if z.lower() not in NOT_ZONES)


def valid_timezone(name: str) -> str:
    """An IANA time zone name, or Invalid saying what is expected."""
    if name not in _zones():
        raise Invalid(f"unknown time zone {name!r}; use an IANA name such as UTC, Europe/Berlin or Asia/Tokyo")
    return name


def decide_timezone(state: OrgPlan, timezone: str, actor: Actor, now: datetime) -> Change | None:
    """Set the zone used for business hours (and trial dates); None when unchanged."""
    zone = valid_timezone(timezone)
    if zone == state.timezone:
        return None
    return advance(state, reason=ChangeReason.SETTINGS_CHANGED, actor=actor, now=now, timezone=zone)
