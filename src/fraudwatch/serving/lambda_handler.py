"""AWS Lambda entry point: ``fraudwatch.serving.lambda_handler.handler``.

Configure the function with the ``FRAUDWATCH_SERVICE_CONFIG`` environment variable (a JSON
object of :class:`~fraudwatch.serving.ServiceConfig` fields; use Redis state and PostgreSQL,
since Lambda instances share nothing). The app is built on the first invocation of a cold
container and reused while the container stays warm.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fraudwatch.serving._lambda import LambdaAdapter

__all__ = ["handler"]

_adapter: dict[str, LambdaAdapter] = {}


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Serve one API Gateway proxy event (REST API v1 or HTTP API v2 payload)."""
    adapter = _adapter.get("app")
    if adapter is None:
        from fraudwatch.serving._app import app_from_env

        adapter = _adapter["app"] = LambdaAdapter(app_from_env(loop_monitor_ms=0.0))
    return adapter(event, context)
