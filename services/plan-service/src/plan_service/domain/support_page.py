"""The support page: every Connected Care plan, the current one marked CURRENT, Premium behind sales."""

from __future__ import annotations

from typing import Any

from care_schemas.catalogue import Plan, catalogue
from plan_service.domain.model import OrgPlan

CURRENT = "CURRENT"
UPGRADE = "Upgrade"
DOWNGRADE = "Downgrade"
CONTACT_SALES = "Contact sales"


def action_for(pane: Plan, current: Plan) -> str:
    """The button on one plan's pane, given the organisation's current plan."""
    if pane.code == current.code:
        return CURRENT
    if not pane.self_service:
        return CONTACT_SALES
    if current.family == "legacy":
        # A Connected Care plan of the same rank adds the Connected features a legacy plan never had.
        return UPGRADE if pane.rank >= current.rank else DOWNGRADE
    return UPGRADE if pane.rank > current.rank else DOWNGRADE


def render(state: OrgPlan) -> dict[str, Any]:
    """The page as data: one pane per Connected Care plan, plus the legacy plan an organisation is still on."""
    current = state.catalogue_plan
    panes = [
        {
            "code": p.code.value,
            "name": p.name,
            "meant_for": p.meant_for,
            "current": p.code == current.code,
            "action": action_for(p, current),
            "entitlements": p.entitlements.model_dump(mode="json"),
        }
        for p in sorted(catalogue().connected_care(), key=lambda p: p.rank)
    ]
    page: dict[str, Any] = {"org_id": state.org_id, "current_plan": current.code.value, "plans": panes}
    if current.family == "legacy":
        page["legacy_plan"] = {
            "code": current.code.value,
            "name": current.name,
            "current": True,
            "action": CURRENT,
            "retires_at": current.retires_at.isoformat() if current.retires_at else None,
            "moves_to": catalogue().retirement_target.value,
            "entitlements": current.entitlements.model_dump(mode="json"),
        }
    return page
