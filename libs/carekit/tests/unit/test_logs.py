"""An outage must not flood the log with the same line ten times a second."""

from __future__ import annotations

import logging
import time

import pytest

from carekit.logs import Quieten

pytestmark = pytest.mark.unit


def record(msg: str, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (), None)


def test_repeated_messages_pass_once_per_window_and_then_say_how_many_were_muted() -> None:
    quiet = Quieten(window_s=0.2)
    passed = [quiet.filter(record("Unable connect to node %s")) for _ in range(50)]
    assert passed.count(True) == 1
    assert quiet.filter(record("another message")) is True
    time.sleep(0.25)
    later = record("Unable connect to node %s")
    assert quiet.filter(later) is True
    assert "(and 49 more like it" in str(later.msg)


def test_messages_of_our_own_loggers_are_never_muted() -> None:
    quiet = Quieten(window_s=60)
    assert all(quiet.filter(record("delivered %s", name="notify_service.delivery")) for _ in range(5))
