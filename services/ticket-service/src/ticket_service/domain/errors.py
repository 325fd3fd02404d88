"""Domain refusals; each names the rule so the caller knows what to do."""

from __future__ import annotations


class Refused(Exception):
    """A request that breaks a rule (HTTP 422)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotEntitled(Refused):
    """The organisation's plan does not include this (HTTP 403 naming the plan that would)."""


class Conflict(Refused):
    """The ticket's state does not allow this now (HTTP 409)."""


class Forbidden(Refused):
    """This role may not do this (HTTP 403)."""


class NotFound(Refused):
    """No such thing visible to the caller (HTTP 404)."""
