"""Every request of every service runs on its event loop, with no hop to a worker thread.

FastAPI runs a plain `def` endpoint or dependency in a worker thread (anyio's pool of 40). A dependency that only
reads app state or checks a token then costs two thread hand-overs per request, and under load requests wait for
a free thread before their own code starts: notify-service's alert intake spent about a tenth of its samples in
them (bench/README.md). A new plain-`def` dependency fails here; blocking work belongs in the services' adapters
(asyncpg, aiohttp), never in a dependency.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from carekit_testing import TEST_JWT_SECRET
from console.app import create_app as console_app
from console.config import Settings as ConsoleSettings
from tests.api.services import SERVICES, UNREACHABLE

pytestmark = pytest.mark.unit


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def routes(app: FastAPI) -> list[tuple[str, Dependant]]:
    """Every API route as `methods path` and what FastAPI runs for it (with its routers' dependencies)."""
    found = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.append((f"{sorted(route.methods)} {route.path}", route.dependant))
        elif hasattr(route, "effective_route_contexts"):  # an included router (FastAPI >= 0.16x)
            found += [(f"{sorted(c.methods)} {c.path}", c.dependant) for c in route.effective_route_contexts()]
    return found


def on_a_thread(app: FastAPI) -> list[str]:
    """`route: function` for every endpoint or dependency FastAPI would run in a worker thread."""
    found = []
    for where, dependant in routes(app):
        for call in [dependant.call, *_calls(dependant)]:
            if call is None:
                continue
            runs = call if inspect.isfunction(call) or inspect.ismethod(call) else type(call).__call__
            if not inspect.iscoroutinefunction(runs):
                found.append(f"{where}: {getattr(call, '__qualname__', call)}")
    return sorted(set(found))


def console() -> FastAPI:
    settings = ConsoleSettings.model_validate(
        {"jwt_secret": TEST_JWT_SECRET, "console_secret_key": "console-key-0123456789-abcdefghijklmn", "http_port": 0}
    )
    return console_app(settings)


@pytest.mark.parametrize("name", [*SERVICES, "console"])
def test_no_endpoint_or_dependency_waits_for_a_worker_thread(name: str) -> None:
    if name == "console":
        app = console()
    else:
        app = SERVICES[name](UNREACHABLE["kafka_bootstrap_servers"], UNREACHABLE["database_url"], "loop")
    found = routes(app)
    assert len(found) > 5, f"{name}: only {len(found)} routes were found; the walk below would prove nothing"
    assert on_a_thread(app) == []


def test_a_plain_dependency_is_found() -> None:
    """The walk above sees a plain `def` dependency, however deep."""
    from fastapi import Depends

    def plain() -> int:
        return 1

    async def nested(value: int = Depends(plain)) -> int:
        return value

    app = FastAPI()

    @app.get("/x")
    async def endpoint(value: int = Depends(nested)) -> int:
        return value

    assert on_a_thread(app) == ["['GET'] /x: test_a_plain_dependency_is_found.<locals>.plain"]
