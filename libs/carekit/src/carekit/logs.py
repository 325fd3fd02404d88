"""Plain structured logging to stderr; secrets never reach it because adapters log masked values."""

from __future__ import annotations

import logging
import sys


def configure(level: str, service: str) -> None:
    """One line per record: time, level, service, logger, message."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
