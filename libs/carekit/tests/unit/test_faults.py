"""The one fault taxonomy: each class of failure, and what a loop and an HTTP caller get for it."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import errors as kafka_errors
from asyncpg.exceptions import _base as asyncpg_base
from pydantic import BaseModel, ValidationError

from carekit.faults import (
    POISON_ATTEMPTS,
    Fault,
    OutageError,
    PermanentError,
    Retries,
    classify,
    reason,
    storable,
)
from carekit.refusals import TooLarge

pytestmark = pytest.mark.unit


class Strict(BaseModel):
    n: int


def _validation_error() -> ValidationError:
    try:
        Strict.model_validate({"n": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


def _surrogate_error() -> UnicodeEncodeError:
    try:
        "\ud800".encode()
    except UnicodeEncodeError as exc:
        return exc
    raise AssertionError("unreachable")


def _date_overflow() -> BaseException:
    """What asyncpg raises for a query argument it cannot encode (a date in year 0 once converted to UTC)."""
    return asyncpg_base.DataError("invalid input for query argument $6: datetime(1, 1, 1) (date value out of range)")


OUTAGES = [
    ConnectionResetError("reset by peer"),
    TimeoutError(),
    TimeoutError(),
    OSError("network unreachable"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.SerializationError("could not serialize access"),
    asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.TooManyConnectionsError("too many clients already"),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.exceptions.InternalClientError("protocol state broken"),
    kafka_errors.KafkaConnectionError("no broker"),
    kafka_errors.NotLeaderForPartitionError(),
    kafka_errors.RequestTimedOutError(),
    kafka_errors.KafkaTimeoutError(),
    kafka_errors.NotEnoughReplicasError(),
    OutageError("payments API away"),
]
PERMANENT = [
    asyncpg.exceptions.DatetimeFieldOverflowError("date/time field value out of range"),
    asyncpg.exceptions.NumericValueOutOfRangeError("bigint out of range"),
    asyncpg.exceptions.StringDataRightTruncationError("value too long for type character varying(10)"),
    asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00"),
    asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.exceptions.NotNullViolationError("null value in column"),
    asyncpg.exceptions.CheckViolationError("new row violates check constraint"),
    asyncpg.exceptions.ForeignKeyViolationError("violates foreign key constraint"),
    asyncpg.exceptions.ProgramLimitExceededError("index row size exceeds maximum"),
    _date_overflow(),
    _surrogate_error(),
    _validation_error(),
    kafka_errors.MessageSizeTooLargeError(),
    kafka_errors.RecordTooLargeError(),
    kafka_errors.RecordListTooLargeError(),
    PermanentError("no such plan", field="plan"),
    TooLarge("too big"),
]
UNKNOWN = [
    kafka_errors.for_code(87)(),  # INVALID_RECORD: aiokafka has no class for it; isolated after POISON_ATTEMPTS
    KeyError("tam"),
    ValueError("'gold' is not a valid PlanCode"),
    RuntimeError("changed concurrently"),
    asyncpg.exceptions.UndefinedColumnError("column does not exist"),
    kafka_errors.IllegalStateError(),
    asyncpg.exceptions.ClientConfigurationError("bad dsn"),
]


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
def test_an_outage_is_waited_out(exc: BaseException) -> None:
    assert classify(exc) is Fault.OUTAGE


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: type(e).__name__)
def test_a_failure_no_retry_can_fix_is_permanent_for_its_record(exc: BaseException) -> None:
    assert classify(exc) is Fault.PERMANENT


@pytest.mark.parametrize("exc", UNKNOWN, ids=lambda e: type(e).__name__)
def test_anything_else_is_a_bug(exc: BaseException) -> None:
    assert classify(exc) is Fault.UNKNOWN


def test_an_error_raised_from_an_outage_is_an_outage() -> None:
    wrapped = RuntimeError("could not load the subscriber")
    wrapped.__cause__ = ConnectionRefusedError("refused")
    assert classify(wrapped) is Fault.OUTAGE


def test_retries_isolate_a_permanent_failure_at_once_and_a_bug_after_a_few_attempts() -> None:
    retries = Retries("test-loop")
    assert retries.decide("rec-1", asyncpg.exceptions.CheckViolationError("x")).isolate
    bug = KeyError("tam")
    verdicts = [retries.decide("rec-2", bug).isolate for _ in range(POISON_ATTEMPTS)]
    assert verdicts == [False] * (POISON_ATTEMPTS - 1) + [True]
    assert retries.decide("rec-2", bug).isolate is False, "the count starts again after an isolation"
    outage = ConnectionResetError("reset")
    assert not any(retries.decide("rec-3", outage).isolate for _ in range(50)), "an outage is never isolated"


def test_a_success_in_between_resets_a_records_count() -> None:
    retries = Retries("test-loop")
    for _ in range(POISON_ATTEMPTS - 1):
        assert not retries.decide("rec", KeyError("x")).isolate
    retries.succeeded("rec")
    assert not retries.decide("rec", KeyError("x")).isolate


def test_pauses_grow_and_are_capped_and_start_again_after_progress() -> None:
    retries = Retries("test-loop", base_s=0.1, max_s=1.0)
    delays = [retries.delay_s() for _ in range(8)]
    assert delays == sorted(delays)
    assert delays[-1] == 1.0
    assert delays[0] == pytest.approx(0.2)
    retries.succeeded()
    assert retries.delay_s() == pytest.approx(0.2)


def test_a_reason_names_the_field_and_is_storable() -> None:
    assert reason(_validation_error()) == (
        "does not validate: n: Input should be a valid integer, unable to parse string as an integer"
    )
    assert "\x00" not in reason(ValueError("bad\x00value"))
    assert reason(ValueError("x" * 5000), limit=100) == ("ValueError: " + "x" * 5000)[:100]
    assert storable("a\x00b\ud800c") == "a\\u0000b\\ud800c"
    storable("a\x00b\ud800c").encode()  # encodes: no lone surrogate left


def test_reason_of_a_permanent_error_names_its_field() -> None:
    assert reason(PermanentError("must be before 9999", field="starts_at")) == "starts_at: must be before 9999"
