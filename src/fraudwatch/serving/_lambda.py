"""Run the ASGI app inside AWS Lambda, behind API Gateway (proxy integration).

Both event formats are understood: REST APIs (payload format 1.0: ``httpMethod``, ``path``,
``multiValueHeaders``...) and HTTP APIs (payload format 2.0: ``version: "2.0"``, ``rawPath``,
``rawQueryString``, ``cookies``...). The app's lifespan (model load, database) runs once on
the first invocation of a cold container and stays up for warm invocations.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message

__all__ = ["LambdaAdapter"]

log = logging.getLogger(__name__)

_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/problem+json")


def _is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return any(ct.startswith(t) for t in _TEXT_TYPES) or ct.endswith("+json")


class LambdaAdapter:
    """A Lambda handler (``adapter(event, context) -> dict``) serving an ASGI app.

    Parameters
    ----------
    app:
        The ASGI application (e.g. from :func:`fraudwatch.serving.create_app`).

    Examples
    --------
    >>> from starlette.applications import Starlette
    >>> handler = LambdaAdapter(Starlette())
    >>> handler({"httpMethod": "GET", "path": "/nope", "headers": {}}, None)["statusCode"]
    404
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lifespan_task: asyncio.Task[None] | None = None
        self._lifespan_in: asyncio.Queue[Message] | None = None
        self._lifespan_supported = True

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        """Handle one API Gateway proxy event and return the proxy response."""
        loop = self._ensure_loop()
        return loop.run_until_complete(self._handle(event))

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop

    async def _startup(self) -> None:
        if self._lifespan_task is not None or not self._lifespan_supported:
            return
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        started: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._lifespan_in = inbox
        stopped: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._stopped = stopped

        async def receive() -> Message:
            return await inbox.get()

        async def send(message: Message) -> None:
            kind = message["type"]
            if kind.startswith("lifespan.startup") and not started.done():
                started.set_result(message)
            elif kind.startswith("lifespan.shutdown") and not stopped.done():
                stopped.set_result(message)

        async def run() -> None:
            try:
                await self.app(
                    {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send
                )
            except Exception as exc:
                if not started.done():
                    started.set_exception(exc)

        await inbox.put({"type": "lifespan.startup"})
        self._lifespan_task = asyncio.get_running_loop().create_task(run())
        msg = await started
        if msg["type"] == "lifespan.startup.failed":
            self._lifespan_task = None
            raise RuntimeError(f"application startup failed: {msg.get('message', '')}")

    def shutdown(self) -> None:
        """Run the app's shutdown (closes the database and state store); for tests."""
        if self._loop is None or self._lifespan_task is None or self._lifespan_in is None:
            return

        async def stop() -> None:
            assert self._lifespan_in is not None
            assert self._lifespan_task is not None
            await self._lifespan_in.put({"type": "lifespan.shutdown"})
            await self._lifespan_task

        self._loop.run_until_complete(stop())
        self._lifespan_task = None
        self._loop.close()
        self._loop = None

    async def _handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        await self._startup()
        v2 = str(event.get("version", "1.0")) == "2.0"
        scope, body = _scope_from_event(event, v2=v2)
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        sent_body = False

        async def receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers.extend((bytes(k), bytes(v)) for k, v in message.get("headers", ()))
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.app(scope, receive, send)
        return _proxy_response(status, headers, b"".join(chunks), v2=v2)


def _scope_from_event(event: Mapping[str, Any], *, v2: bool) -> tuple[dict[str, Any], bytes]:
    ctx = event.get("requestContext") or {}
    raw_headers: dict[str, str] = {
        str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items() if v is not None
    }
    header_list: list[tuple[bytes, bytes]] = []
    if v2:
        method = str((ctx.get("http") or {}).get("method") or event.get("httpMethod") or "GET")
        path = str(event.get("rawPath") or "/")
        query = str(event.get("rawQueryString") or "")
        for k, v in raw_headers.items():
            header_list.append((k.encode("latin-1"), v.encode("latin-1")))
        cookies = event.get("cookies") or []
        if cookies:
            header_list.append((b"cookie", "; ".join(cookies).encode("latin-1")))
        source_ip = str((ctx.get("http") or {}).get("sourceIp") or "0.0.0.0")
    else:
        method = str(event.get("httpMethod") or "GET")
        path = str(event.get("path") or "/")
        multi = event.get("multiValueHeaders") or {}
        seen = set()
        for k, values in multi.items():
            for v in values or ():
                header_list.append((str(k).lower().encode("latin-1"), str(v).encode("latin-1")))
            seen.add(str(k).lower())
        for k, v in raw_headers.items():
            if k not in seen:
                header_list.append((k.encode("latin-1"), v.encode("latin-1")))
        mq = event.get("multiValueQueryStringParameters")
        if mq:
            query = urlencode([(k, v) for k, vs in mq.items() for v in (vs or ())])
        else:
            query = urlencode(event.get("queryStringParameters") or {})
        source_ip = str((ctx.get("identity") or {}).get("sourceIp") or "0.0.0.0")
    raw_body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(raw_body)
    else:
        body = raw_body.encode("utf-8") if isinstance(raw_body, str) else bytes(raw_body)
    if body and not any(k == b"content-length" for k, _ in header_list):
        header_list.append((b"content-length", str(len(body)).encode()))
    host = raw_headers.get("host", "lambda")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": raw_headers.get("x-forwarded-proto", "https"),
        "path": path,
        "raw_path": path.encode("utf-8"),
        "root_path": "",
        "query_string": query.encode("latin-1"),
        "headers": header_list,
        "client": (source_ip, 0),
        "server": (host, 443),
        "state": {},
        "aws.event": event,
    }
    return scope, body


def _proxy_response(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes, *, v2: bool
) -> dict[str, Any]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    cookies: list[str] = []
    for k, v in headers:
        name, value = k.decode("latin-1"), v.decode("latin-1")
        if v2 and name == "set-cookie":
            cookies.append(value)
            continue
        multi.setdefault(name, []).append(value)
        single[name] = value if name not in single else f"{single[name]},{value}"
    text = _is_text(single.get("content-type", ""))
    out: dict[str, Any] = {
        "statusCode": status,
        "headers": single,
        "body": body.decode("utf-8") if text else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": not text,
    }
    if v2:
        if cookies:
            out["cookies"] = cookies
    else:
        out["multiValueHeaders"] = multi
    return out
