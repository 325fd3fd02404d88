"""One error body for every HTTP answer that is not a success, and the mapping of refusals to statuses.

Every service installs it through the skeleton (carekit.bootstrap): refusals, malformed requests, bodies that
are not JSON, unknown routes and the kit's own 401/403 all answer `ErrorBody`, and the OpenAPI document
declares it for each status an operation can answer, with a bearer security scheme.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter
from starlette.exceptions import HTTPException

from care_schemas.bounded import message as bounded_message
from carekit import refusals

STATUS: dict[type[refusals.Refused], int] = {
    refusals.Unauthorized: 401,
    refusals.NotEntitled: 403,
    refusals.Forbidden: 403,
    refusals.NotFound: 404,
    refusals.Conflict: 409,
    refusals.TooLarge: 413,
    refusals.TooManyRequests: 429,
    refusals.Invalid: 422,
    refusals.UpstreamFailed: 502,
    refusals.NotConfigured: 503,
}
DESCRIPTION = {
    400: "The body cannot be decoded (not UTF-8, nested too deep)",
    401: "Missing, expired or invalid bearer token (or platform signature)",
    403: "The role may not do this, or the organisation's plan does not include it (`plan_needed` names the plan)",
    404: "Not found, or not visible to the caller",
    409: "The current state does not allow this",
    413: "The body or the list is larger than the limit",
    429: "Too many requests from the organisation; `Retry-After` says when to try again",
    422: "The request breaks a rule or does not validate; `errors` names each field",
    500: "Unexpected error; quote the incident id",
    502: "A chat platform refused or could not be reached; nothing was recorded",
    503: "A dependency (database, broker) is unavailable, or an integration is not configured; retry later",
}
SEND_JSON = "send a JSON body with Content-Type: application/json"


class FieldProblem(BaseModel):
    """One field at fault: where (`body.plan`, `query.limit`) and what is wrong with it."""

    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: `detail` says what is wrong and what to do; the other fields appear where they apply."""

    detail: str = Field(description="what is wrong and what to do about it")
    errors: list[FieldProblem] | None = Field(default=None, description="each field at fault (422)")
    plan: str | None = Field(default=None, description="the organisation's plan (403 for a plan refusal)")
    plan_needed: str | None = Field(default=None, description="the cheapest plan that includes it")
    endpoint_status: int | None = Field(default=None, description="what a remote endpoint answered (its test)")
    endpoint_answer: str | None = Field(default=None, description="the remote endpoint's answer, secrets masked")
    incident: str | None = Field(default=None, description="quote it to support (500)")


class SafeJSONResponse(JSONResponse):
    """JSON escaped to ASCII: an error that quotes a lone surrogate from the request still renders."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return SafeJSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers)


def status_of(exc: refusals.Refused) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 422


async def _refused(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, refusals.Refused)
    return refused_response(exc)


def refused_response(exc: refusals.Refused) -> JSONResponse:
    """The answer to a refusal: its status, the message, and the context it carries (plan, endpoint answer)."""
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "30"}
    if isinstance(exc, refusals.TooManyRequests):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    return error_response(status, ErrorBody(detail=exc.message, **exc.context), headers)


def problem(err: Any) -> FieldProblem:
    """One pydantic/FastAPI validation error as a field and what is wrong, with a hint when the body is wrong."""
    loc = [str(p) for p in err.get("loc", ())]
    kind = err.get("type", "")
    if kind == "json_invalid":
        at = loc[1] if len(loc) > 1 else "?"
        why = err.get("ctx", {}).get("error", "decode error")
        return FieldProblem(field="body", message=f"not valid JSON ({why} at character {at}); {SEND_JSON}")
    where = ".".join(loc) or "body"
    if where == "body" and kind == "missing":
        return FieldProblem(field="body", message=f"missing; {SEND_JSON}")
    message = bounded_message(err).removeprefix("Value error, ")
    if where == "body" and kind in ("model_attributes_type", "dict_type", "list_type", "model_type"):
        message += f" ({SEND_JSON})"
    return FieldProblem(field=where, message=message)


def malformed(problems: list[FieldProblem]) -> ErrorBody:
    said = "; ".join(f"{p.field}: {p.message}" for p in problems)
    return ErrorBody(detail=f"malformed request; fix and retry: {said}", errors=problems)


async def _malformed(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, malformed([problem(e) for e in exc.errors()[:10]]))


UNPARSABLE = "There was an error parsing the body"  # FastAPI's words for bodies it cannot even decode


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 400 and detail == UNPARSABLE:
        detail = f"malformed request; fix and retry: body: not UTF-8 JSON that can be parsed; {SEND_JSON}"
    return error_response(exc.status_code, ErrorBody(detail=detail), dict(exc.headers or {}) or None)


def install(app: FastAPI) -> None:
    """Answer every refusal and malformed request with `ErrorBody`, and document it in the OpenAPI document."""
    app.add_exception_handler(refusals.Refused, _refused)
    app.add_exception_handler(RequestValidationError, _malformed)
    app.add_exception_handler(HTTPException, _http)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route or router: the statuses it can answer beyond the common ones, as `ErrorBody`."""
    return {s: {"model": ErrorBody, "description": DESCRIPTION[s]} for s in statuses}


def documented_body(body_type: Any) -> dict[str, Any]:
    """`openapi_extra=` for a route that reads its body itself (to name fields its own way): the body's schema."""
    schema = TypeAdapter(body_type).json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}, "x-components": defs}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus, on every operation, the statuses every route can answer, all as `ErrorBody`."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in (
        ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}).items()
    ):
        schemas.setdefault(name, schema)
    schemas["ErrorBody"] = {
        k: v
        for k, v in ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").items()
        if k != "$defs"
    }
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for path_item in doc.get("paths", {}).values():
        for operation in path_item.values():
            schemas.update(operation.pop("x-components", {}))
            answers = operation.setdefault("responses", {})
            common = [422, 500, 503]
            if operation.get("security"):
                common += [401, 403]
            if "requestBody" in operation:
                common += [400, 413]
            for status in common:
                answers.setdefault(str(status), {"description": DESCRIPTION[status]})
            for status, answer in answers.items():
                declared = str(answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", ""))
                if status.startswith(("4", "5")) and (not declared or declared.endswith("HTTPValidationError")):
                    answer.update(ref)
                    answer["description"] = DESCRIPTION.get(int(status), answer.get("description", ""))
                if status == "422" and declared.endswith("HTTPValidationError"):
                    answer["content"] = ref["content"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = doc
    return doc
