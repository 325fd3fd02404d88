"""Every input of every service is bounded where it is declared: what passes validation can be stored.

Walks each service's OpenAPI document: every path and query parameter and every property of every request body.
A string without a maximum length or without the no-NUL pattern, an integer beyond a bigint, a list or a map
without a maximum size is a way for one request to reach Postgres or Kafka with what they refuse (and, before
issue 8, to answer 503 or stall a consumer). A new route with an unbounded input fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from care_schemas.bounded import INT64_MAX, INT64_MIN, NO_NUL
from tests.api.services import SERVICES, openapi

pytestmark = pytest.mark.unit
# routes whose body is read by the platform's own rules (signed Slack/Lark callbacks) or parsed alert by alert
FREE_BODIES = {"/slack/events", "/slack/interactivity", "/lark/events", "/lark/card"}


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = doc["components"]["schemas"][name]
    return schema


def problems(doc: dict[str, Any], schema: dict[str, Any], where: str, seen: set[str] | None = None) -> list[str]:
    """What is unbounded in `schema` (recursively), as `where: problem`."""
    seen = set() if seen is None else seen
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        seen = seen | {schema["$ref"]}
    schema = _resolve(doc, schema)
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += problems(doc, option, where, seen)
    kind = schema.get("type")
    if kind == "string" and "enum" not in schema and "const" not in schema:
        if schema.get("format") in ("date-time", "date"):
            pass
        elif "maxLength" not in schema:
            found.append(f"{where}: string without maxLength")
        elif schema.get("pattern") is None:
            found.append(f"{where}: string without a pattern refusing NUL ({NO_NUL})")
    elif kind == "integer":
        if not (
            schema.get("minimum", INT64_MIN - 1) >= INT64_MIN and schema.get("maximum", INT64_MAX + 1) <= INT64_MAX
        ):
            found.append(f"{where}: integer not bounded to a bigint")
    elif kind == "array":
        if "maxItems" not in schema:
            found.append(f"{where}: array without maxItems")
        found += problems(doc, schema.get("items", {}), f"{where}[]", seen)
    elif kind == "object":
        for name, sub in schema.get("properties", {}).items():
            found += problems(doc, sub, f"{where}.{name}", seen)
        extra = schema.get("additionalProperties")
        if extra is True:
            extra = {}
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                found.append(f"{where}: map without maxProperties")
            if extra:
                found += problems(doc, extra, f"{where}.*", seen)
            names = schema.get("propertyNames", {})
            if "maxLength" not in names or "pattern" not in names:
                found.append(f"{where}: map keys without maxLength and the no-NUL pattern")
    return found


def inputs(name: str) -> list[str]:
    doc: dict[str, Any] = openapi(name)  # type: ignore[assignment]
    found: list[str] = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            route = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                found += problems(doc, param["schema"], f"{route} {param['in']} {param['name']}")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body is not None and path not in FREE_BODIES:
                found += problems(doc, body, f"{route} body")
    return found


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_parameter_and_body_field_is_bounded(name: str) -> None:
    assert inputs(name) == []


def test_the_walk_finds_what_it_is_for() -> None:
    doc: dict[str, Any] = {"components": {"schemas": {}}}
    loose = {
        "type": "object",
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "string", "maxLength": 5},
            "n": {"type": "integer"},
            "xs": {"type": "array", "items": {"type": "string", "maxLength": 3, "pattern": NO_NUL}},
            "m": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    assert problems(doc, loose, "body") == [
        "body.a: string without maxLength",
        f"body.b: string without a pattern refusing NUL ({NO_NUL})",
        "body.n: integer not bounded to a bigint",
        "body.xs: array without maxItems",
        "body.m: map without maxProperties",
        "body.m.*: string without maxLength",
        "body.m: map keys without maxLength and the no-NUL pattern",
    ]
