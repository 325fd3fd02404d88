"""IM bindings: what a plan allows in a bound chat place, and where ticket updates go."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from care_schemas.catalogue import Entitlements, PlanCode
from care_schemas.events.ticket import ImMode, ImPlatform, ImThread
from ticket_service.domain.tickets import needs


class BindingState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class Features:
    updates: bool
    two_way: bool

    @property
    def mode(self) -> ImMode | None:
        if self.two_way:
            return ImMode.TWO_WAY
        return ImMode.UPDATES if self.updates else None


@dataclass(frozen=True)
class Binding:
    id: str
    org_id: str
    platform: ImPlatform
    workspace: str
    channel: str
    features: Features
    state: BindingState

    @property
    def active(self) -> bool:
        return self.state is BindingState.ACTIVE

    def place(self, thread_ts: str | None = None) -> ImThread:
        return ImThread(platform=self.platform, workspace=self.workspace, channel=self.channel, thread_ts=thread_ts)


def features_for(entitlements: Entitlements) -> Features:
    """Creation + updates from `im_ticket_creation`; two-way from `im_ticket_interaction` (on top of creation)."""
    creation = entitlements.im_ticket_creation
    return Features(updates=creation, two_way=creation and entitlements.im_ticket_interaction)


def state_for(entitlements: Entitlements, plan: PlanCode) -> tuple[BindingState, str | None]:
    """Active when the plan includes IM tickets, else suspended with the reason."""
    if features_for(entitlements).updates:
        return BindingState.ACTIVE, None
    return BindingState.SUSPENDED, needs("im_ticket_creation", "IM ticket bindings", plan).message


def suspended_reason_for_new(entitlements: Entitlements, plan: PlanCode) -> str | None:
    """Why a new binding cannot be made for this plan, or None when it can."""
    state, reason = state_for(entitlements, plan)
    return reason if state is BindingState.SUSPENDED else None


def update_target(ticket_thread: ImThread | None, bindings: Sequence[Binding]) -> tuple[ImThread | None, ImMode | None]:
    """Where updates for a ticket go: its own thread if that binding allows updates, else the org's bound channel."""
    active = [b for b in bindings if b.active and b.features.updates]
    if ticket_thread is not None:
        for b in active:
            if (b.platform, b.workspace, b.channel) == (
                ticket_thread.platform,
                ticket_thread.workspace,
                ticket_thread.channel,
            ):
                return ticket_thread, b.features.mode
    if active:
        first = active[0]
        return first.place(), first.features.mode
    return None, None
