"""What every chat-platform adapter raises when the platform cannot be reached or refuses a call."""

from __future__ import annotations


class PlatformUnavailable(Exception):
    """A chat platform call failed; the inbound request answers 502 so the platform retries it."""
