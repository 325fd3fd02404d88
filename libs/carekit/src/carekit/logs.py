"""Plain structured logging to stderr; secrets never reach it because adapters log masked values."""

from __future__ import annotations

import logging
import sys
import time


class Quieten(logging.Filter):
    """Lets one copy of a repeated message from `prefix` loggers through per window (an outage must not flood)."""

    def __init__(self, window_s: float = 30.0, prefix: str = "aiokafka") -> None:
        super().__init__()
        self.window_s, self.prefix = window_s, prefix
        self._last: dict[tuple[str, str], float] = {}
        self._muted: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.window_s:
            self._muted[key] = self._muted.get(key, 0) + 1
            return False
        self._last[key] = now
        muted = self._muted.pop(key, 0)
        if muted:
            record.msg = f"{record.msg} (and {muted} more like it in the last {self.window_s:.0f}s)"
        return True


def configure(level: str, service: str) -> None:
    """One line per record: time, level, service, logger, message; the Kafka client's retries quietened."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s"))
    handler.addFilter(Quieten())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    kafka = logging.getLogger("aiokafka")
    kafka.setLevel(max(logging.WARNING, root.level))
    quiet = Quieten()
    for name in (
        "aiokafka",
        "aiokafka.producer.sender",
        "aiokafka.consumer.group_coordinator",
        "aiokafka.consumer.fetcher",
        "aiokafka.conn",
        "aiokafka.cluster",
    ):
        logging.getLogger(name).addFilter(quiet)
