"""One classification of every endpoint answer, shared by all channels (Alertmanager's notify style)."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

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


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret (URL, token, key) in `text` with ****."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "****")
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
    body = " ".join(body.split())
    return body[:EXCERPT] + ("..." if len(body) > EXCERPT else "")


def classify_status(
    status: int, headers: Mapping[str, str] | None = None, body: str = "", secrets: Iterable[str] = ()
) -> Outcome:
    """2xx ok; 429 and 5xx retry (honouring Retry-After); 413 and other 4xx (and 3xx: redirects are not followed)
    permanent with the reason."""
    headers = headers or {}
    said = redact(_excerpt(body), secrets)
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
    text = redact(str(exc), secrets)
    return Outcome(Verdict.RETRY, f"network error: {type(exc).__name__}" + (f": {_excerpt(text)}" if text else ""))
