"""What the HTTP routes need, set on app.state in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from carekit.runtime import Runtime
from notify_service.adapters.channels.base import SendContext
from notify_service.adapters.secrets import SecretBox
from notify_service.handlers.intake import AlertIntake


@dataclass
class Deps:
    runtime: Runtime
    box: SecretBox
    ctx: SendContext
    intake: AlertIntake
    started: datetime = field(default_factory=lambda: datetime.now(UTC))


async def deps(request: Request) -> Deps:
    found: Deps = request.app.state.notify
    return found
