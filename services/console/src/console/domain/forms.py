"""Which form field an API's refusal is about, so the page can show the message beside it."""

from __future__ import annotations

import re
from typing import Protocol

NAMED = re.compile(r"^(config\.[a-z_]+|[a-z_]+): ", re.IGNORECASE)  # the page starts it with a capital


class Refusal(Protocol):
    message: str
    fields: list[tuple[str, str]]


def _input_name(api_field: str) -> str:
    """`body.summary` -> `summary`; `body.config.url` -> `config_url` (the form's input names)."""
    parts = [p for p in api_field.split(".") if p not in ("body", "query", "path")]
    return "_".join(p for p in parts if not p.isdigit())


def field_errors(error: Refusal | None) -> dict[str, str]:
    """Input name -> message, from the refusal's field list or a message that starts with `field: `."""
    if error is None:
        return {}
    found = {_input_name(f): m for f, m in error.fields if f}
    named = NAMED.match(error.message)
    if named and not found:
        found[_input_name(named.group(1).lower())] = error.message[named.end() :]
    return found
