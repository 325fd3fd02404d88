"""Refusals: requests the rules turn down. One hierarchy for every service; the HTTP layer maps each class to
its status (carekit.problems), so handlers and domain rules never name a status code.

The message says what is wrong and what to do. Faults of the system itself (an outage, a bug) are not
refusals: see carekit.faults.
"""

from __future__ import annotations

from typing import Any

from carekit.faults import PermanentError


class Refused(PermanentError):
    """A request (or record) that can never succeed as sent; `message` says why and what to do.

    A refusal is permanent in the fault taxonomy (carekit.faults): a consumer isolates the record, a route
    answers the status carekit.problems maps its class to."""

    def __init__(self, message: str, *, field: str | None = None, **context: Any) -> None:
        super().__init__(message, field=field)
        self.message = str(self)
        self.context = {k: v for k, v in context.items() if v is not None}


class Invalid(Refused):
    """The input breaks a rule (a field, a value, a combination)."""


class NotFound(Refused):
    """No such thing visible to the caller (also what another organisation's things look like)."""


class Forbidden(Refused):
    """The caller's role may not do this."""


class NotEntitled(Forbidden):
    """The organisation's plan does not include this; names the plan it is on and the cheapest that would."""

    def __init__(self, message: str, *, plan: str | None = None, plan_needed: str | None = None) -> None:
        super().__init__(message, plan=plan, plan_needed=plan_needed)


class Conflict(Refused):
    """The current state does not allow this now (already done, already pending, closed)."""


class TooManyRequests(Refused):
    """The caller asked more often than its limit allows; `retry_after_s` says when to ask again."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TooLarge(Refused):
    """The request carries more than a limit allows; send less."""


class Unauthorized(Refused):
    """No valid credentials: a missing, expired or unverifiable token, or a platform signature that fails."""


class NotConfigured(Refused):
    """This instance is not set up for the request (an integration without its settings)."""


class UpstreamFailed(Refused):
    """A platform this request had to call refused or could not be reached; nothing was recorded, retry later."""
