"""What the HTTP routes need, set on app.state in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from carekit.runtime import Runtime
from notify_service.adapters.channels.base import SendContext
from notify_service.adapters.secrets import SecretBox


@dataclass
class Deps:
    runtime: Runtime
    box: SecretBox
    ctx: SendContext


def deps(request: Request) -> Deps:
    found: Deps = request.app.state.notify
    return found
