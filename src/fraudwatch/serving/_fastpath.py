"""The hot path of ``POST /v1/score`` without FastAPI's per-request machinery.

A well-formed, authorised scoring request is parsed with pydantic's JSON parser straight from
the body bytes and answered here; this skips routing, dependency resolution and the request
and response objects (about a sixth of the CPU of a request). Anything unusual — no service
yet, a non-JSON content type, an authentication or validation problem — is handed to the
regular FastAPI route with the body replayed, so every error is produced by one code path and
the OpenAPI spec stays the route's.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from fraudwatch.serving._auth import check_scope
from fraudwatch.serving._errors import ApiError, PayloadTooLarge, error_response, response_for
from fraudwatch.serving._schemas import TransactionIn

__all__ = ["SCORE_PATH", "fast_score"]

SCORE_PATH = "/v1/score"
_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")
_WHAT = f"POST {SCORE_PATH}"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def fast_score(scope: Scope, receive: Receive, send: Send, limit: int) -> Receive | None:
    """Answer a scoring request; return ``None`` when answered, else a replaying ``receive``.

    Parameters
    ----------
    scope, receive, send:
        The ASGI call (``send`` already adds the request id header).
    limit:
        Body size limit in bytes (413 beyond).
    """
    app: Any = scope.get("app")
    svc = getattr(getattr(app, "state", None), "service", None)
    if svc is None:
        return receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # client gone: let the regular path see it
            return _replaying(b"".join(chunks), receive)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            state = scope["state"]
            state["error_kind"] = "payload_too_large"
            response = error_response(
                413, "payload_too_large", str(PayloadTooLarge(limit).detail), state["request_id"]
            )
            await response(scope, receive, send)
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    content_type = _header(scope, b"content-type")
    if content_type is not None and content_type.lower() not in _JSON_TYPES:
        return _replaying(body, receive)
    if svc.config.auth:
        authorization = _header(scope, b"authorization")
        try:
            principal = await svc.keys.authenticate(
                authorization.decode("latin-1") if authorization is not None else None
            )
            check_scope(principal, "score", _WHAT)
        except ApiError:
            return _replaying(body, receive)
    try:
        tx = TransactionIn.model_validate_json(body)
    except ValidationError:
        return _replaying(body, receive)
    state = scope["state"]
    state["route_path"] = SCORE_PATH
    try:
        out = await svc.score(tx, state["t0"])
    except Exception as exc:
        error = response_for(exc, scope)
        if error is None:
            raise
        await error(scope, receive, send)
        return None
    payload = orjson.dumps(out)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
    return None
