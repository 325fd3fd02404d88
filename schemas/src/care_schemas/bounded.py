"""Bounded types: what every event and HTTP model is built from, so that what validates can be stored and sent.

Postgres cannot store NUL characters, UTF-8 has no lone surrogates, asyncpg cannot encode an instant outside
years 1..9999 in UTC and the product has nothing before 1970: each of those, let through at the edge, used to
become a record that no consumer could ever store. The checks run inside pydantic-core (a compiled pattern per
string, no Python loop per field), once, where data comes in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, ValidationError, WithJsonSchema

NO_NUL = r"^[^\x00]*$"
"""The pattern every string carries: no NUL character. Matching it also makes pydantic-core encode the string
as UTF-8, which refuses lone surrogates ("\\ud800")."""

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

MAX_LABELS = 64
MAX_LABEL_KEY = 128
MAX_LABEL_VALUE = 1024
MAX_ANNOTATIONS = 32
MAX_ANNOTATION_VALUE = 4096


def bounded(max_length: int, *, min_length: int = 0, strip: bool = False) -> StringConstraints:
    """The constraints of every string: bounded length, no NUL characters, no lone surrogates.

    Use as `Annotated[str, bounded(255)]`.
    """
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL, strip_whitespace=strip)


def _instant_in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-01:00 is in year 10000 in UTC; 0001-01-01T00:00+01:00 in year 0
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError("must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z once converted to UTC")
    return value


def _day_in_range(value: date) -> date:
    if not EARLIEST.date() <= value <= LATEST.date():
        raise ValueError("must be between 1970-01-01 and 9999-12-31")
    return value


Timestamp = Annotated[AwareDatetime, AfterValidator(_instant_in_range)]
"""An instant with a time zone, 1970..9999 in UTC: Postgres (and asyncpg) can store it, the product means it."""

Day = Annotated[date, AfterValidator(_day_in_range)]
"""A calendar day, 1970..9999."""

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""An integer that fits a Postgres bigint."""

Id = Annotated[str, bounded(128, min_length=1)]
"""An identifier: 1-128 characters."""

LabelKey = Annotated[str, bounded(MAX_LABEL_KEY, min_length=1)]
LabelValue = Annotated[str, bounded(MAX_LABEL_VALUE)]
AnnotationValue = Annotated[str, bounded(MAX_ANNOTATION_VALUE)]


def _map_schema(entries: int, value_length: int) -> WithJsonSchema:
    """How a bounded string map reads in JSON Schema (pydantic would turn the key pattern into patternProperties)."""
    return WithJsonSchema(
        {
            "type": "object",
            "maxProperties": entries,
            "propertyNames": {"minLength": 1, "maxLength": MAX_LABEL_KEY, "pattern": NO_NUL},
            "additionalProperties": {"type": "string", "maxLength": value_length, "pattern": NO_NUL},
        }
    )


Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=MAX_LABELS), _map_schema(MAX_LABELS, MAX_LABEL_VALUE)]
"""At most 64 labels, keys of 1-128 and values of at most 1024 characters."""

Annotations = Annotated[
    dict[LabelKey, AnnotationValue],
    Field(max_length=MAX_ANNOTATIONS),
    _map_schema(MAX_ANNOTATIONS, MAX_ANNOTATION_VALUE),
]
"""At most 32 annotations (runbook_url, dashboard...), values of at most 4096 characters."""

NOT_ZONES = frozenset({"localtime", "posixrules", "factory"})
ZONE_SHAPE = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$"


def _zone_shape(value: str) -> str:
    if value.lower() in NOT_ZONES or value.split("/")[0] in ("posix", "right"):
        raise ValueError(f"{value!r} is not an IANA time zone name; use one such as UTC, Europe/Berlin or Asia/Tokyo")
    return value


TimeZoneName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=ZONE_SHAPE), AfterValidator(_zone_shape)
]
"""The shape of an IANA time zone name (`Area/Location`); "localtime", "posixrules", "Factory", paths and
empty strings are refused. Whether the zone exists is checked where it is set (plan-service)."""

MESSAGES = {
    "string_unicode": "must be valid Unicode text (no lone surrogates)",
}


def message(err: Any) -> str:
    """One pydantic error's message in our words (NUL, surrogates), without pydantic's 'Value error, '."""
    kind = err.get("type")
    if kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == NO_NUL:
        return "must not contain NUL (\\u0000) characters"
    if kind in MESSAGES:
        return MESSAGES[kind]
    return str(err.get("msg", "is invalid")).removeprefix("Value error, ")


def location(loc: tuple[Any, ...] | list[Any]) -> str:
    """`data.labels.team`, `alerts[0].startsAt`: a path a person can follow."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def describe_validation(exc: ValidationError, limit: int = 5) -> str:
    """`where: what; where: what` for the first few errors."""
    return "; ".join(f"{location(tuple(err['loc']))}: {message(err)}" for err in exc.errors()[:limit])
