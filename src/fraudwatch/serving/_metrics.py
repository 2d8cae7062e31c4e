"""Prometheus metrics of one app instance (own registry: nothing global, many apps per test).

With several uvicorn workers, ``fraudwatch serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before
the workers start; the exposition then aggregates every worker's values.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE", "STAGES", "ServiceMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

STAGES: tuple[str, ...] = ("parse", "features", "model", "reasons", "rules", "persistence")
"""Stages of one scoring request, as reported by ``fraudwatch_stage_seconds``."""

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
_STAGE_BUCKETS = (0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05)
_SCORE_BUCKETS = tuple(i / 20 for i in range(1, 21))


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ServiceMetrics:
    """The service's metrics, registered on a registry of their own.

    Examples
    --------
    >>> m = ServiceMetrics()
    >>> m.decision("allow", 0.1)
    >>> b"fraudwatch_decisions_total" in m.render()
    True
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.latency = Histogram(
            "fraudwatch_http_request_duration_seconds",
            "Time from receiving a request to sending its response.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "fraudwatch_decisions",
            "Decisions returned, by outcome (retries of a stored decision excluded).",
            ["decision"],
            registry=r,
        )
        self.scores = Histogram(
            "fraudwatch_score",
            "Model scores of decided transactions.",
            buckets=_SCORE_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "fraudwatch_errors",
            "Error responses by kind (validation_error, unauthorized, internal_error...).",
            ["kind"],
            registry=r,
        )
        self.stages = Histogram(
            "fraudwatch_stage_seconds",
            "Time spent in each stage of scoring one transaction.",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.model_info = Gauge(
            "fraudwatch_model_info",
            "The model version being served (value 1).",
            ["version"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self.replays = Counter(
            "fraudwatch_idempotent_replays",
            "Requests answered with a stored decision (retries of a transaction id).",
            registry=r,
        )
        self.reloads = Counter(
            "fraudwatch_model_reloads",
            "Model reloads, by outcome.",
            ["outcome"],
            registry=r,
        )
        self._decision_children = {
            d: self.decisions.labels(d) for d in ("allow", "review", "decline")
        }
        self._stage_children = {s: self.stages.labels(s) for s in STAGES}
        self._version: str | None = None

    def decision(self, decision: str, score: float) -> None:
        """Count one fresh decision and observe its score."""
        child = self._decision_children.get(decision)
        if child is None:
            child = self._decision_children[decision] = self.decisions.labels(decision)
        child.inc()
        self.scores.observe(score)

    def stage(self, stage: str, seconds: float) -> None:
        """Observe the duration of one stage of a request."""
        self._stage_children[stage].observe(seconds)

    def error(self, kind: str) -> None:
        """Count one error response of ``kind``."""
        self.errors.labels(kind).inc()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Observe one request's latency."""
        self.latency.labels(method, route, str(status)).observe(seconds)

    def set_model(self, version: str) -> None:
        """Publish the model version now being served."""
        if self._version is not None and self._version != version:
            if _multiprocess():  # file-backed values cannot be removed: mark it stale
                self.model_info.labels(self._version).set(0)
            else:
                self.model_info.remove(self._version)
        self._version = version
        self.model_info.labels(version).set(1)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (all workers when multiprocess)."""
        if _multiprocess():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
