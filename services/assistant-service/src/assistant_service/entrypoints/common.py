"""What the routes share: the handlers' dependencies, once the service has started."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assistant_service.handlers.deps import Deps
from carekit.refusals import NotConfigured


async def get_deps(request: Request) -> Deps:
    deps: Deps | None = getattr(request.app.state, "deps", None)
    if deps is None:
        raise NotConfigured("assistant-service is starting; retry shortly")
    return deps


AppDeps = Annotated[Deps, Depends(get_deps)]
