"""Alertmanager label matchers (`=`, `!=`, `=~`, `!~`): parsing, validation and matching, as Alertmanager does.

Regular expressions are RE2 (Google's `re2`, the engine family of Alertmanager's Go `regexp`): anchored as
`^(?:...)$`, linear in time whatever the pattern, so no pattern a tenant sends can stall the service. A pattern
RE2 cannot compile (backreferences, lookarounds, a syntax error, more program than `MAX_PROGRAM_BYTES`) is refused
with the reason, never run by a backtracking engine.

Text matchers follow Alertmanager's classic parser (`pkg/labels`): `name op value`, the value bare or double-quoted
with `\\"`, `\\\\` and `\\n` escapes; a list may be wrapped in braces and separated by commas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN = 1024
MAX_PROGRAM_BYTES = 8 * 1024 * 1024  # RE2's memory budget per compiled pattern
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_CLASSIC = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s:.*?))\s*$")


class MatcherError(ValueError):
    """A matcher that cannot be parsed or run, with the reason."""


class Op(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@lru_cache(maxsize=4096)
def anchored(pattern: str) -> Any:
    """The RE2 pattern compiled as `^(?:pattern)$` (cached); MatcherError when RE2 cannot compile it."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_PROGRAM_BYTES
    for candidate in (pattern, f"^(?:{pattern})$"):  # the bare pattern first, so an error quotes what was sent
        try:
            compiled = re2.compile(candidate, options=options)
        except re2.error as exc:
            said = exc.args[0] if exc.args else exc
            detail = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
            raise MatcherError(f"invalid regular expression {pattern!r}: {detail} (RE2 syntax)") from None
    return compiled


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    op: Op = Op.EQUAL

    @property
    def is_regex(self) -> bool:
        return self.op in (Op.REGEX, Op.NOT_REGEX)

    @property
    def is_equal(self) -> bool:
        return self.op in (Op.EQUAL, Op.REGEX)

    def validate(self) -> Matcher:
        """Raise MatcherError when the name is not a label name or the regex does not compile."""
        if not LABEL_NAME.match(self.name) or len(self.name) > 128:
            raise MatcherError(f"invalid label name {self.name!r}")
        if len(self.value) > MAX_PATTERN:
            raise MatcherError(f"value of {self.name!r} is longer than {MAX_PATTERN} characters")
        if self.is_regex:
            anchored(self.value)
        return self

    def matches(self, value: str) -> bool:
        """Whether a label's value (empty when the label is absent) satisfies the matcher."""
        if self.op is Op.EQUAL:
            return value == self.value
        if self.op is Op.NOT_EQUAL:
            return value != self.value
        found = anchored(self.value).match(value) is not None
        return found if self.op is Op.REGEX else not found

    def matches_empty(self) -> bool:
        return self.op in (Op.EQUAL, Op.REGEX) and self.matches("")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op.value}"{escaped}"'

    def to_api(self) -> dict[str, Any]:
        """Alertmanager API v2 shape."""
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}

    @staticmethod
    def from_api(name: str, value: str, is_regex: bool, is_equal: bool = True) -> Matcher:
        op = {(False, True): Op.EQUAL, (False, False): Op.NOT_EQUAL, (True, True): Op.REGEX}.get(
            (is_regex, is_equal), Op.NOT_REGEX
        )
        return Matcher(name, value, op).validate()


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """A silence's or window's matchers against an alert's labels: every one must hold (absent = empty)."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def filter_matches(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Alertmanager's API filter semantics (`matchFilterLabels`): a matcher against the empty value is satisfied
    by a label that is absent (`=`, `=~`) or present (`!=`, `!~`)."""
    for m in matchers:
        present = m.name in labels
        if m.value == "" and (present if m.op in (Op.NOT_EQUAL, Op.NOT_REGEX) else not present):
            continue
        if not m.matches(labels.get(m.name, "")):
            return False
    return True


def _unquote(raw: str, whole: str) -> str:
    """The classic parser's unescaping: `\\n`, `\\"` and `\\\\`; any other backslash is literal."""
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i < len(raw) - 1:
            nxt = raw[i + 1]
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        if c == '"':
            if not quoted or i < len(raw) - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {whole}")
            quoted = False
            i += 1
            continue
        out.append(c)
        i += 1
    if quoted:
        raise MatcherError(f"matcher value contains unescaped double quote: {whole}")
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """One matcher: `alertname="Disk full"`, `severity!=info`, `cluster_id=~"cl-.*"`."""
    if text.strip().startswith("{") or text.strip().endswith("}"):
        raise MatcherError(f"unexpected open or close brace: {text}")
    found = _CLASSIC.match(text)
    if found is None:
        raise MatcherError(f"bad matcher format: {text}")
    name, op, raw = found.groups()
    if ":" in name:
        raise MatcherError(f"invalid label name {name!r}")
    return Matcher(name, _unquote(raw, raw), Op(op)).validate()


def parse_matchers(text: str) -> list[Matcher]:
    """A list: `{alertname="A", severity=~"critical|warning"}` (braces optional, commas inside quotes kept)."""
    text = text.strip().removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside = escaped = False
    for c in text:
        if c == "," and not inside:
            tokens.append("".join(token))
            token = []
            continue
        if c == '"':
            if not escaped:
                inside = not inside
            else:
                escaped = False
        elif c == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(c)
    if "".join(token).strip():
        tokens.append("".join(token))
    return [parse_matcher(t) for t in tokens]
