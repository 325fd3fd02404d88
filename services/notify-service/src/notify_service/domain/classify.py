"""One classification of every endpoint answer, shared by all channels (Alertmanager's notify style)."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from carekit.faults import storable

TIMEOUT_S = 15.0
EXCERPT = 200


class Verdict(StrEnum):
    OK = "ok"
    RETRY = "retry"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to: ok, retry later (maybe not before `retry_after_s`), or permanent."""

    verdict: Verdict
    reason: str
    status: int | None = None
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK


MIN_FRAGMENT = 4  # a secret cut off at an end of the text is masked from this many characters on


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (URL, token, key) in `text` with ****, and a secret's beginning at the end of the text
    or its end at the start (the sender cut its own answer there): no prefix or suffix of a secret gets through.

    Redact before cutting a text shorter, never after: a cut through a secret leaves a prefix no rule can find.
    """
    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    for secret in ordered:
        text = text.replace(secret, "****")
    for secret in ordered:
        for n in range(min(len(secret) - 1, len(text)), MIN_FRAGMENT - 1, -1):
            if text.endswith(secret[:n]):
                text = text[:-n] + "****"
                break
        for n in range(min(len(secret) - 1, len(text)), MIN_FRAGMENT - 1, -1):
            if text.startswith(secret[-n:]):
                text = "****" + text[n:]
                break
    return text


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _excerpt(body: str) -> str:
    """At most EXCERPT characters of an answer, on one line, storable (NUL and lone surrogates escaped). Pass text
    that is already redacted."""
    body = storable(" ".join(body.split()))
    return body[:EXCERPT] + ("..." if len(body) > EXCERPT else "")


def classify_status(
    status: int, headers: Mapping[str, str] | None = None, body: str = "", secrets: Iterable[str] = ()
) -> Outcome:
    """2xx ok; 429 and 5xx retry (honouring Retry-After); 413 and other 4xx (and 3xx: redirects are not followed)
    permanent with the reason."""
    headers = headers or {}
    said = _excerpt(redact(body, secrets))
    detail = f"HTTP {status}" + (f": {said}" if said else "")
    if 200 <= status < 300:
        return Outcome(Verdict.OK, detail, status)
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
        return Outcome(Verdict.RETRY, detail, status, retry_after)
    if status == 413:
        return Outcome(Verdict.PERMANENT, f"payload too large ({detail})", status)
    if 300 <= status < 400:
        return Outcome(Verdict.PERMANENT, f"redirect not followed ({detail})", status)
    return Outcome(Verdict.PERMANENT, detail, status)


def classify_error(exc: BaseException, secrets: Iterable[str] = ()) -> Outcome:
    """A timeout or network failure is retried; the reason names the error class, secrets redacted."""
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return Outcome(Verdict.RETRY, f"timeout after {TIMEOUT_S:g}s")
    text = _excerpt(redact(str(exc), secrets))
    return Outcome(Verdict.RETRY, f"network error: {type(exc).__name__}" + (f": {text}" if text else ""))
