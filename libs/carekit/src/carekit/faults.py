"""The one fault taxonomy: decide by the error, never by the place (docs/faults.md).

* OUTAGE: the database or the broker is away for a while (connection lost, timeouts, serialization failure,
  deadlock, admin shutdown, too many connections, a Kafka error that says it is retriable). Wait with backoff
  and try the same record again; the service stays up. Over HTTP: 503 with Retry-After.
* PERMANENT: this record can never succeed (data error, constraint violation, text Postgres cannot store,
  too large for the topic, does not validate). Isolate that one record with its reason (dead letter or parked
  row) and go on with the others. Over HTTP: 4xx naming the field.
* UNKNOWN: anything else is a bug. It is retried a few times (POISON_ATTEMPTS) and then treated as permanent,
  so that a bug that one record triggers cannot hold up every record behind it. Over HTTP: 500 with an incident.

Every loop, consumer and HTTP handler asks `classify()`; nothing else lists exception classes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum

import asyncpg
from aiokafka import errors as kafka_errors
from asyncpg.exceptions import _base as asyncpg_base
from prometheus_client import Counter
from pydantic import ValidationError

from care_schemas.bounded import describe_validation

log = logging.getLogger(__name__)

POISON_ATTEMPTS = 3
"""How many times an unknown error (a bug) is retried on the same record before that record is isolated."""

FAULTS = Counter("care_faults_total", "Failures seen by background loops and consumers, by class", ["loop", "fault"])
ISOLATED = Counter(
    "care_records_isolated_total", "Records isolated (dead-lettered or parked) so that the rest go on", ["loop"]
)


class Fault(StrEnum):
    OUTAGE = "outage"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


class PermanentError(Exception):
    """Raised by our own code: this record (or request) can never succeed, for `reason` (naming `field`).
    The refusals a request meets (carekit.refusals) are permanent errors too; carekit.problems maps them to HTTP."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason, self.field = reason, field


class OutageError(Exception):
    """Raised by our own code: a dependency is unavailable right now; try again later."""


# Postgres SQLSTATE classes (asyncpg's exception hierarchy follows them).
_PG_OUTAGE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # 08: connection lost, cannot connect
    asyncpg.exceptions.TransactionRollbackError,  # 40: serialization failure, deadlock
    asyncpg.exceptions.OperatorInterventionError,  # 57: admin shutdown, cannot connect now, statement timeout
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, disk full, out of memory
    asyncpg.exceptions.PostgresSystemError,  # 58: I/O error on the server
    asyncpg.exceptions.LockNotAvailableError,  # 55P03: lock timeout
)
_PG_PERMANENT: tuple[type[BaseException], ...] = (
    asyncpg.DataError,  # 22: out of range, invalid text representation, NUL / character not in repertoire
    asyncpg.IntegrityConstraintViolationError,  # 23: unique, foreign key, not null, check
    asyncpg.exceptions.ProgramLimitExceededError,  # 54: a value too large for an index row, too many columns
    asyncpg_base.DataError,  # client side: a query argument asyncpg cannot encode (a date past year 9999 in UTC)
)
_KAFKA_PERMANENT: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.CorruptRecordException,
    kafka_errors.InvalidTimestampError,
)
_KAFKA_OUTAGE: tuple[type[BaseException], ...] = (
    kafka_errors.KafkaTimeoutError,  # not flagged retriable by aiokafka, but a timeout is an outage
    kafka_errors.BrokerNotAvailableError,
    kafka_errors.KafkaConnectionError,
)
_PERMANENT: tuple[type[BaseException], ...] = (
    PermanentError,
    ValidationError,
    UnicodeError,
    *_PG_PERMANENT,
    *_KAFKA_PERMANENT,
)
_OUTAGE: tuple[type[BaseException], ...] = (OutageError, *_PG_OUTAGE, *_KAFKA_OUTAGE, TimeoutError, OSError)


def classify(exc: BaseException) -> Fault:
    """Outage, permanent for this record, or unknown (a bug)."""
    fault = _classify(exc)
    if fault is Fault.UNKNOWN and exc.__cause__ is not None and exc.__cause__ is not exc:
        return _classify(exc.__cause__)  # `raise Ours(...) from cause`: the cause says what kind of failure it is
    return fault


def _classify(exc: BaseException) -> Fault:
    if isinstance(exc, _PERMANENT):
        return Fault.PERMANENT
    if isinstance(exc, _OUTAGE):
        return Fault.OUTAGE
    if isinstance(exc, kafka_errors.KafkaError):
        # INVALID_RECORD (87) reaches us as UnknownError (aiokafka has no class for it): isolated after a few tries
        return Fault.OUTAGE if exc.retriable else Fault.UNKNOWN
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError) and not isinstance(
        exc, asyncpg.exceptions.ClientConfigurationError
    ):
        # connection closed under us, pool closing, protocol state broken by a server restart mid-statement
        return Fault.OUTAGE
    return Fault.UNKNOWN


def is_outage(exc: BaseException) -> bool:
    return classify(exc) is Fault.OUTAGE


def reason(exc: BaseException, limit: int = 1000) -> str:
    """A short, storable description of why a record failed (fields named for validation errors)."""
    if isinstance(exc, PermanentError):
        text = str(exc)
    elif isinstance(exc, ValidationError):
        text = f"does not validate: {describe_validation(exc)}"
    elif isinstance(exc, UnicodeError):
        text = "text is not valid Unicode (a lone surrogate) and cannot be stored or sent"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return storable(text)[:limit]


def storable(text: str) -> str:
    """Text Postgres and Kafka accept: NUL characters and lone surrogates are shown escaped."""
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode()
    return text


class Verdict(StrEnum):
    RETRY = "retry"
    ISOLATE = "isolate"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    fault: Fault
    reason: str

    @property
    def isolate(self) -> bool:
        return self.verdict is Verdict.ISOLATE


class Retries:
    """One loop's bookkeeping: what to do with a failure of a record, and how long to wait before the retry.

    Outages are retried forever with growing pauses; a permanent failure isolates the record at once; an unknown
    error isolates it after POISON_ATTEMPTS failures of that same record (keyed by the caller).
    """

    def __init__(self, loop: str, *, attempts: int = POISON_ATTEMPTS, base_s: float = 0.2, max_s: float = 5.0):
        self.loop, self.attempts = loop, attempts
        self._base_s, self._max_s = base_s, max_s
        self._failures: dict[Hashable, int] = {}
        self._streak = 0
        self._last_outage_log = 0.0

    def decide(self, key: Hashable, exc: BaseException) -> Decision:
        """Count this failure of `key` and say whether to retry it or isolate it."""
        fault = classify(exc)
        FAULTS.labels(self.loop, fault.value).inc()
        why = reason(exc)
        if fault is Fault.OUTAGE:
            self._log_outage(why)
            return Decision(Verdict.RETRY, fault, why)
        if fault is Fault.PERMANENT:
            self._failures.pop(key, None)
            return Decision(Verdict.ISOLATE, fault, why)
        failures = self._failures.get(key, 0) + 1
        if failures >= self.attempts:
            self._failures.pop(key, None)
            return Decision(Verdict.ISOLATE, fault, f"failed {failures} times: {why}")
        self._failures[key] = failures
        log.warning("%s: attempt %d of %d failed (%s); retrying", self.loop, failures, self.attempts, why, exc_info=exc)
        if len(self._failures) > 10_000:  # keys of records that later succeeded elsewhere; keep memory bounded
            self._failures.clear()
        return Decision(Verdict.RETRY, fault, why)

    def isolated(self, key: Hashable, why: str) -> None:
        """Count and log an isolated record."""
        ISOLATED.labels(self.loop).inc()
        log.warning("%s: isolated %s: %s", self.loop, key, why)

    def succeeded(self, key: Hashable | None = None) -> None:
        """The loop made progress: reset the pause (and the record's failure count)."""
        self._streak = 0
        if key is not None:
            self._failures.pop(key, None)

    def delay_s(self) -> float:
        """The next pause: grows with consecutive failures, up to the maximum."""
        self._streak += 1
        return float(min(self._base_s * 2 ** min(self._streak, 10), self._max_s))

    async def pause(self) -> None:
        await asyncio.sleep(self.delay_s())

    def _log_outage(self, why: str) -> None:
        now = time.monotonic()
        if now - self._last_outage_log > 10:  # an outage must not flood the log
            self._last_outage_log = now
            log.warning("%s: outage, will retry: %s", self.loop, why)
