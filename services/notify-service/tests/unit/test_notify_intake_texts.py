"""The HTTP intake measures an alert against alert.events.v1 (where it falls back when Postgres cannot take it)
without encoding its event when the alert is far below the limit, and refuses the one whose event would not fit."""

from __future__ import annotations

import pytest

from care_schemas.events.alert import Alert, alert_event
from care_schemas.topics import ALERT_EVENTS
from carekit.kafka import encode
from carekit.refusals import TooLarge
from notify_service.handlers.intake import stored_text

pytestmark = pytest.mark.unit
WORST = "\x01"  # six bytes a character once escaped (\u0001)


def _annotated(alert: Alert, annotations: int, labels: int = 0) -> Alert:
    return alert.model_copy(
        update={
            "annotations": {f"a{i}": WORST * 4096 for i in range(annotations)},
            "labels": {f"l{i}": WORST * 1024 for i in range(labels)},
        }
    )


def test_a_usual_alert_is_stored_as_its_json(alert: Alert) -> None:
    event = alert_event(alert, source="/t")
    assert stored_text(event) == alert.model_dump_json()


def test_an_alert_near_the_limit_is_measured_and_taken_when_its_event_fits(alert: Alert) -> None:
    event = alert_event(_annotated(alert, 32), source="/t")
    text = stored_text(event)
    assert 4 * len(text) > ALERT_EVENTS.max_message_bytes  # not taken on the estimate: measured
    assert len(encode(event, ALERT_EVENTS)) <= ALERT_EVENTS.max_message_bytes
    assert text == event.data.model_dump_json()


def test_an_alert_whose_event_would_not_fit_the_topic_is_refused_with_its_size(alert: Alert) -> None:
    event = alert_event(_annotated(alert, 32, labels=64), source="/t")
    with pytest.raises(TooLarge) as refused:
        stored_text(event)
    assert "alert.events.v1 takes at most 1,000,000" in refused.value.reason
