"""A long HTTP request takes turns with the rest of the process (carekit.turns): while it builds the events of 1,000
alerts, the process's other work (in service, its senders) runs every 25 alerts instead of waiting for the whole
request; a short request does not wait for a turn at all. A request is under way in its process's foreground until
its store ends (carekit.foreground)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from care_schemas.events.alert import Alert, AlertFiring, AlertResolved
from carekit.identity import Identity, Role
from notify_service.domain.alertmanager_in import Intake
from notify_service.handlers.delivery.dispatcher import Local
from notify_service.handlers.intake import accept_alertmanager, accept_alerts

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]
OWNER = Identity(sub="ops", org="org-1", role=Role.ORG_OWNER)


@dataclass
class Ticker:
    """Other work of the process: counts the turns of the event loop it gets."""

    turns: int = 0

    async def run(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)


@dataclass
class Store:
    """Stands for AlertIntake: notes the alerts it is handed and how many turns the ticker had got by then."""

    ticker: Ticker
    pool: None = None
    local: Local = field(default_factory=Local)
    taken: list[str] = field(default_factory=list)
    turns_before: int = -1
    under_way: bool = False

    async def accept(
        self, events: Sequence[AlertFiring | AlertResolved], texts: Mapping[str, str], source: str, also: object = None
    ) -> None:
        self.turns_before = self.ticker.turns
        self.taken = [e.data.fingerprint for e in events]
        self.under_way = self.local.foreground.busy


async def _taken(alerts: int, take: str, alert: Alert) -> Store:
    ticker = Ticker()
    running = asyncio.create_task(ticker.run())
    await asyncio.sleep(0)
    store = Store(ticker)
    batch = [alert.model_copy(update={"fingerprint": f"fp-{i}"}) for i in range(alerts)]
    started = ticker.turns
    try:
        if take == "native":
            await accept_alerts(store, OWNER, batch, "http")  # type: ignore[arg-type]
        else:
            await accept_alertmanager(store, OWNER, Intake(list(enumerate(batch)), []))  # type: ignore[arg-type]
    finally:
        running.cancel()
    store.turns_before -= started
    return store


@pytest.mark.parametrize("take", ["native", "alertmanager"])
async def test_the_rest_of_the_process_runs_while_a_long_request_is_taken(take: str, alert: Alert) -> None:
    store = await _taken(1000, take, alert)
    assert store.turns_before >= 39, (
        f"{store.turns_before} turns for the rest of the process while 1,000 alerts were taken"
    )
    assert store.taken == [f"fp-{i}" for i in range(1000)], "every alert, in order"


@pytest.mark.parametrize("take", ["native", "alertmanager"])
async def test_a_request_of_25_alerts_does_not_wait_for_a_turn(take: str, alert: Alert) -> None:
    store = await _taken(25, take, alert)
    assert store.turns_before == 0
    assert len(store.taken) == 25


@pytest.mark.parametrize("take", ["native", "alertmanager"])
async def test_a_request_is_under_way_in_its_process_until_its_store_ends(take: str, alert: Alert) -> None:
    """The recorder lets it store first (carekit.foreground, `Dispatcher.record_forever`)."""
    store = await _taken(3, take, alert)
    assert store.under_way, "under way while its alerts are stored"
    assert not store.local.foreground.busy, "no longer once answered"
