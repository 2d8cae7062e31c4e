"""One pure-ASGI middleware: request ids, body-size limit, latency metrics, last-resort 500.

A ``BaseHTTPMiddleware`` would cost a task and a stream per request; this is a plain
``async def __call__`` wrapping ``receive`` and ``send``.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fraudwatch.serving._errors import PayloadTooLarge, error_response
from fraudwatch.serving._fastpath import SCORE_PATH, fast_score
from fraudwatch.serving._metrics import ServiceMetrics

__all__ = ["ServiceMiddleware"]

log = logging.getLogger("fraudwatch.serving")

_CLIENT_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


class ServiceMiddleware:
    """Wrap the app: assign a request id, enforce the body limit, time and count requests.

    Parameters
    ----------
    app:
        The inner ASGI app.
    metrics:
        Where latencies and error kinds are recorded.
    max_body_bytes:
        Larger bodies get a 413 before the endpoint runs.
    timer:
        Monotonic clock in seconds (injected; ``time.perf_counter`` in production).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        max_body_bytes: int,
        timer: Callable[[], float],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.timer = timer
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = self.timer()
        given = _header(scope, b"x-request-id")
        if given is not None and _CLIENT_ID.match(given):
            rid = given.decode()
        else:  # unique per process and unguessable enough for an id, without a syscall
            rid = f"{self._prefix}{next(self._counter):016x}"
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        state["t0"] = start
        status = 500
        started = False
        rid_header = (b"x-request-id", rid.encode())
        limit = self.max_body_bytes

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0] != b"x-request-id"]
                headers.append(rid_header)
                message["headers"] = headers
            await send(message)

        try:
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                state["error_kind"] = "payload_too_large"
                response = error_response(
                    413, "payload_too_large", str(PayloadTooLarge(limit).detail), rid
                )
                await response(scope, receive, send_wrapper)
                return
            if scope.get("method") == "POST" and scope.get("path") == SCORE_PATH:
                replay = await fast_score(scope, receive, send_wrapper, limit)
                if replay is None:
                    return
                receive = replay
            received = 0

            async def receive_wrapper() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise PayloadTooLarge(limit)
                return message

            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception as exc:
            state["error_kind"] = "internal_error"
            log.error(
                "unhandled error on %s %s: %s",
                scope.get("method"),
                scope.get("path"),
                type(exc).__name__,
                exc_info=exc,
                extra={"request_id": rid},
            )
            if not started:
                response = error_response(
                    500,
                    "internal_error",
                    f"internal error; quote request id {rid} when reporting it",
                    rid,
                )
                await response(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or state.get("route_path") or "unmatched"
            self.metrics.request(scope.get("method", "-"), path, status, self.timer() - start)
            kind = state.get("error_kind")
            if kind is not None:
                self.metrics.error(kind)
            if status >= 500 and kind != "internal_error" and not state.get("logged"):
                log.error(
                    "%s %s answered %d",
                    scope.get("method"),
                    scope.get("path"),
                    status,
                    extra={"request_id": rid, "error_kind": kind},
                )
