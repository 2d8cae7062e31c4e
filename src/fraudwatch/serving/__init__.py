"""The real-time decision service (FastAPI): scoring, cases, feedback, metrics, AWS adapters.

Build the app with :func:`create_app` (nothing is created at import time) and serve it with
uvicorn, or run ``fraudwatch serve``. See docs/api.md and docs/operations.md.
"""

from __future__ import annotations

from fraudwatch.serving._app import CONFIG_ENV, app_from_env, config_from_env, create_app
from fraudwatch.serving._auth import KeyCache, Principal
from fraudwatch.serving._config import ServiceConfig
from fraudwatch.serving._errors import ApiError
from fraudwatch.serving._lambda import LambdaAdapter
from fraudwatch.serving._metrics import STAGES, ServiceMetrics
from fraudwatch.serving._protocols import Clock, ScoreResultLike, ScorerLike, system_clock
from fraudwatch.serving._schemas import ScoreResponse, TransactionIn
from fraudwatch.serving._service import DecisionService, ScorerFactory

__all__ = [
    "CONFIG_ENV",
    "STAGES",
    "ApiError",
    "Clock",
    "DecisionService",
    "KeyCache",
    "LambdaAdapter",
    "Principal",
    "ScoreResponse",
    "ScoreResultLike",
    "ScorerFactory",
    "ScorerLike",
    "ServiceConfig",
    "ServiceMetrics",
    "TransactionIn",
    "app_from_env",
    "config_from_env",
    "create_app",
    "system_clock",
]
