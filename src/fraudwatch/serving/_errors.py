"""Error responses: one JSON shape, a request id on each, no stack trace ever sent.

Every error body is ``{"error": {"code", "message", "request_id", "fields"?}}``. The handlers
registered by :func:`install_error_handlers` map validation errors to 422 (malformed JSON to
400, a non-JSON body to 415), HTTP errors to their status, fraudwatch errors to 4xx/503, and
record the error kind for the metrics middleware.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from fraudwatch.errors import (
    BundleError,
    ConfigError,
    FraudwatchError,
    NotFoundError,
    StateStoreError,
    UserError,
)

__all__ = [
    "ApiError",
    "PayloadTooLarge",
    "error_response",
    "field_problems",
    "install_error_handlers",
    "request_id_of",
    "response_for",
    "status_of",
]

log = logging.getLogger(__name__)

_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An error the API returns on purpose.

    Parameters
    ----------
    status:
        HTTP status code.
    code:
        Machine-readable kind (``unauthorized``, ``not_found``...).
    message:
        What is wrong and how to fix it.
    headers:
        Extra response headers (``WWW-Authenticate`` for 401).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class PayloadTooLarge(StarletteHTTPException):
    """Raised while reading a body that exceeds the configured limit (becomes a 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"request body exceeds the {limit}-byte limit; send fewer transactions per call "
            "or raise max_body_bytes",
        )


def request_id_of(scope: Mapping[str, Any]) -> str:
    """The request id the middleware assigned to this request (``-`` outside of one)."""
    state = scope.get("state")
    if isinstance(state, Mapping):
        rid = state.get("request_id")
        if isinstance(rid, str):
            return rid
    return "-"


def _mark(scope: Mapping[str, Any], code: str) -> None:
    state = scope.get("state")
    if isinstance(state, dict):
        state["error_kind"] = code


def error_response(
    status: int,
    code: str,
    message: str,
    request_id: str,
    *,
    fields: Sequence[Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Build the JSON error response every handler returns."""
    detail: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if fields is not None:
        detail["fields"] = list(fields)
    hdrs = {"x-request-id": request_id, **(headers or {})}
    return Response(
        content=orjson.dumps({"error": detail}),
        status_code=status,
        media_type="application/json",
        headers=hdrs,
    )


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def field_problems(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Turn pydantic/FastAPI error dicts into ``{"field", "message", "type"}`` entries.

    Messages drop pydantic's ``Value error,`` prefix; a missing body is reported as such.
    """
    out: list[dict[str, str]] = []
    for e in errors:
        loc = list(e.get("loc", ()))
        ctx = e.get("ctx") or {}
        extra_field = ctx.get("field") if isinstance(ctx, Mapping) else None
        if isinstance(extra_field, str):
            loc.append(extra_field)
        msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
        kind = str(e.get("type", "value_error"))
        if kind == "missing" and loc == ["body"]:
            msg = "a JSON body is required"
        out.append({"field": _loc_to_field(loc), "message": msg, "type": kind})
    return out


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    rid = request_id_of(request.scope)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        e = next(e for e in errors if e.get("type") == "json_invalid")
        pos = e.get("loc", ("body", "?"))[-1]
        reason = (e.get("ctx") or {}).get("error", "invalid JSON")
        _mark(request.scope, "malformed_json")
        return error_response(
            400,
            "malformed_json",
            f"the request body is not valid JSON ({reason} at character {pos}); "
            "send one JSON document with Content-Type: application/json",
            rid,
        )
    if isinstance(exc.body, bytes | bytearray) and exc.body:
        _mark(request.scope, "unsupported_media_type")
        return error_response(
            415,
            "unsupported_media_type",
            "the request body must be JSON: send it with Content-Type: application/json",
            rid,
        )
    problems = field_problems(errors)
    _mark(request.scope, "validation_error")
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:10])
    if len(problems) > 10:
        summary += f"; and {len(problems) - 10} more"
    return error_response(
        422, "validation_error", f"invalid request: {summary}", rid, fields=problems
    )


async def _http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    rid = request_id_of(request.scope)
    code = _CODES.get(exc.status_code, "error")
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no endpoint at {request.url.path}; see /docs for the API"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /docs"
    _mark(request.scope, code)
    return error_response(exc.status_code, code, message, rid, headers=exc.headers)


def response_for(exc: Exception, scope: Mapping[str, Any]) -> Response | None:
    """The JSON error response for an :class:`ApiError` or a fraudwatch error, else ``None``.

    Marks the error kind for the metrics; 5xx are logged with the request id.
    """
    rid = request_id_of(scope)
    if isinstance(exc, ApiError):
        _mark(scope, exc.code)
        return error_response(exc.status, exc.code, exc.message, rid, headers=exc.headers)
    if not isinstance(exc, FraudwatchError):
        return None
    status, code = status_of(exc)
    _mark(scope, code)
    if status < 500:
        return error_response(status, code, str(exc), rid)
    state = scope.get("state")
    if isinstance(state, dict):
        state["logged"] = True
    log.error(
        "request failed: %s",
        exc,
        exc_info=exc,
        extra={"request_id": rid, "path": scope.get("path")},
    )
    message = (
        f"the online feature state is unavailable; retry shortly (request id {rid})"
        if isinstance(exc, StateStoreError)
        else f"internal error; quote request id {rid} when reporting it"
    )
    return error_response(status, code, message, rid, headers={"retry-after": "1"})


def status_of(exc: FraudwatchError) -> tuple[int, str]:
    """HTTP status and error code of a fraudwatch error."""
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, BundleError | ConfigError):
        return 409, "conflict"
    if isinstance(exc, UserError):
        return 422, "validation_error"
    if isinstance(exc, StateStoreError):
        return 503, "service_unavailable"
    return 500, "internal_error"


async def _known_error_handler(request: Request, exc: Exception) -> Response:
    response = response_for(exc, request.scope)
    if response is None:  # pragma: no cover - registered only for the two known types
        raise exc
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(ApiError, _known_error_handler)
    app.add_exception_handler(FraudwatchError, _known_error_handler)
