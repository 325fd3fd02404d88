"""Silence rules as Alertmanager has them (states, updates in place, ordering, refusals) and the Alertmanager API
shapes notify-service answers with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from care_schemas.events.alert import Alert
from notify_service.domain.am_api import AlertQuery, Receiver, gettable_alert, go_duration, ts
from notify_service.domain.matchers import Matcher, Op
from notify_service.domain.silences import (
    Muting,
    Rules,
    Silence,
    SilenceRefused,
    SilenceState,
    can_update,
    check_new,
    sort_key,
)

pytestmark = pytest.mark.unit
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DISK = (Matcher("alertname", "Disk.*", Op.REGEX),)


def silence(sid: str, start: timedelta, end: timedelta, matchers: tuple[Matcher, ...] = DISK) -> Silence:
    return Silence(sid, "org-1", matchers, NOW + start, NOW + end, "ops", "swap", NOW)


def test_a_silence_is_pending_then_active_then_expired() -> None:
    s = silence("s", timedelta(minutes=10), timedelta(hours=1))
    assert s.state(NOW) is SilenceState.PENDING
    assert s.state(NOW + timedelta(minutes=10)) is SilenceState.ACTIVE
    assert s.state(NOW + timedelta(hours=1)) is SilenceState.EXPIRED
    assert s.next_change(NOW) == NOW + timedelta(minutes=10)
    assert s.next_change(NOW + timedelta(minutes=20)) == NOW + timedelta(hours=1)


def test_only_an_active_silence_mutes_and_only_what_it_matches() -> None:
    rules = Rules(
        [silence("a", -timedelta(minutes=1), timedelta(hours=1)), silence("p", timedelta(hours=2), timedelta(hours=3))],
        [],
        NOW,
    )
    assert rules.muting({"alertname": "DiskFull"}) == Muting(("a",), ())
    assert not rules.muting({"alertname": "CpuHigh"})
    assert rules.next_change() == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("matchers", "start", "end", "says"),
    [
        ((), NOW, NOW + timedelta(hours=1), "at least one matcher"),
        ((Matcher("team", "", Op.EQUAL),), NOW, NOW + timedelta(hours=1), "must not match the empty string"),
        (DISK, NOW, NOW, "start time must be before end time"),
        (DISK, NOW - timedelta(hours=2), NOW - timedelta(hours=1), "end time can't be in the past"),
    ],
)
def test_silences_alertmanager_refuses_are_refused_with_its_words(
    matchers: tuple[Matcher, ...], start: datetime, end: datetime, says: str
) -> None:
    with pytest.raises(SilenceRefused, match=says):
        check_new(list(matchers), start, end, NOW)


def test_an_active_silence_may_be_extended_in_place_but_not_given_new_matchers() -> None:
    active = silence("a", -timedelta(minutes=5), timedelta(hours=1))
    assert can_update(active, list(DISK), active.starts_at, NOW + timedelta(hours=5), NOW)
    assert not can_update(active, [Matcher("alertname", "Cpu")], active.starts_at, NOW + timedelta(hours=5), NOW)
    assert not can_update(active, list(DISK), NOW, NOW + timedelta(hours=5), NOW), "a new start is a new silence"
    expired = silence("e", -timedelta(hours=2), -timedelta(hours=1))
    assert not can_update(expired, list(DISK), expired.starts_at, NOW + timedelta(hours=1), NOW)


def test_silences_sort_active_by_end_then_pending_by_start_then_expired_latest_first() -> None:
    found = [
        silence("expired-old", -timedelta(hours=5), -timedelta(hours=4)),
        silence("pending", timedelta(hours=1), timedelta(hours=2)),
        silence("active-late", -timedelta(hours=1), timedelta(hours=9)),
        silence("expired-new", -timedelta(hours=3), -timedelta(hours=1)),
        silence("active-soon", -timedelta(hours=1), timedelta(hours=1)),
    ]
    ordered = [s.id for s in sorted(found, key=lambda s: sort_key(s, NOW))]
    assert ordered == ["active-soon", "active-late", "pending", "expired-new", "expired-old"]


def test_a_gettable_alert_has_alertmanagers_shape_and_says_what_mutes_it(alert: Alert) -> None:
    view = gettable_alert(alert, updated_at=NOW, ends_at=None, receivers=["ops"], muting=Muting(("s-1",), ("nightly",)))
    assert view["labels"]["alertname"] == alert.rule
    assert view["labels"]["instance"] == "tikv-0"
    assert view["annotations"]["summary"] == alert.summary
    assert view["endsAt"] == "0001-01-01T00:00:00.000Z"
    assert view["startsAt"] == "2026-11-26T08:00:00.000Z"
    assert view["status"] == {"state": "suppressed", "silencedBy": ["s-1"], "inhibitedBy": [], "mutedBy": ["nightly"]}
    assert view["receivers"] == [{"name": "ops"}]


def test_the_alert_filter_follows_alertmanagers_flags() -> None:
    labels = {"alertname": "DiskFull"}
    assert AlertQuery().keeps(labels, Muting())
    assert not AlertQuery(silenced=False).keeps(labels, Muting(("s",), ()))
    assert not AlertQuery(silenced=False).keeps(labels, Muting((), ("window",))), "a window counts as a silence"
    assert not AlertQuery(active=False).keeps(labels, Muting())
    assert AlertQuery(active=False).keeps(labels, Muting(("s",), ()))
    assert not AlertQuery(filters=[Matcher("alertname", "Cpu.*", Op.REGEX)]).keeps(labels, Muting())


def test_a_subscriber_is_a_receiver_of_what_its_scope_filters_and_plan_let_through(alert: Alert) -> None:
    everything = frozenset({"webhook", "slack"})
    scoped = Receiver("s1", "ops", "webhook", "proj-1", "cl-1", ["critical"], None, True)
    assert scoped.takes(alert, everything)
    assert not scoped.takes(alert, frozenset({"email"})), "the plan does not include webhooks"
    assert not Receiver("s2", "x", "webhook", "proj-2", None, None, None, True).takes(alert, everything)
    assert not Receiver("s3", "x", "webhook", "proj-1", None, ["info"], None, True).takes(alert, everything)
    assert not Receiver("s4", "x", "webhook", "proj-1", None, None, None, False).takes(alert, everything)


def test_durations_and_times_are_written_as_alertmanager_reads_them() -> None:
    assert [go_duration(s) for s in (0.3, 2, 300, 10800)] == ["300ms", "2s", "5m", "3h"]
    assert ts(datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
