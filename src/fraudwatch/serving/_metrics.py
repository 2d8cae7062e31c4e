"""Prometheus metrics of one app instance (own registry: nothing global, many apps per test).

With several uvicorn workers, ``fraudwatch serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before
the workers start; the exposition then aggregates every worker's values.
"""

from __future__ import annotations

import math
import os
import time
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics import _get_use_created
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

__all__ = ["CONTENT_TYPE", "STAGES", "LoopHistogram", "ServiceMetrics"]

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
_GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)
_PAUSE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
_MAX_REQUEST_SERIES = 1024
"""Label children of the request histogram kept at hand (looked up, not rebuilt)."""


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class _Observer(Protocol):
    def observe(self, amount: float) -> None: ...


class _LoopChild:
    """One label set of a :class:`LoopHistogram`."""

    __slots__ = ("_bounds", "counts", "created", "total")

    def __init__(self, bounds: list[float]) -> None:
        self._bounds = bounds
        self.counts = [0] * len(bounds)
        self.total = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        """Count ``amount`` in the first bucket whose upper bound is at least ``amount``."""
        self.counts[bisect_left(self._bounds, amount)] += 1
        self.total += amount


class LoopHistogram:
    """A Prometheus histogram observed from one thread (the event loop): no locks.

    ``prometheus_client``'s ``Histogram`` takes two locks and scans its buckets in Python on
    every observation; the service makes eight per request, all on the event loop. This
    one bisects into a list and is exported by its own collector, with the same samples
    (``_bucket``, ``_count``, ``_sum`` and ``_created`` per label set). With several workers
    (``PROMETHEUS_MULTIPROC_DIR``) the service keeps ``prometheus_client``'s file-backed
    histograms instead, which aggregate across processes.

    Parameters
    ----------
    name, documentation, labelnames, buckets:
        As for ``prometheus_client.Histogram`` (``+Inf`` is added).
    registry:
        Where to register the collector.

    Examples
    --------
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> reg = CollectorRegistry()
    >>> h = LoopHistogram("t_seconds", "Time.", ["stage"], buckets=(0.1, 1.0), registry=reg)
    >>> h.labels("parse").observe(0.5)
    >>> b't_seconds_bucket{le="1.0",stage="parse"} 1.0' in generate_latest(reg)
    True
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        bounds = sorted(float(b) for b in buckets)
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        self._name = name
        self._doc = documentation
        self._labelnames = tuple(labelnames)
        self._bounds = bounds
        self._children: dict[tuple[str, ...], _LoopChild] = {}
        registry.register(self)

    def labels(self, *values: str) -> _LoopChild:
        """The child of one label set (created on first use)."""
        if len(values) != len(self._labelnames):
            raise ValueError(f"{self._name} takes labels {self._labelnames}; got {values}")
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = _LoopChild(self._bounds)
        return child

    def observe(self, amount: float) -> None:
        """Observe ``amount`` (a histogram without labels)."""
        self.labels().observe(amount)

    def describe(self) -> list[Metric]:
        """The family, without samples (for the registry's name checks)."""
        return [HistogramMetricFamily(self._name, self._doc, labels=self._labelnames)]

    def collect(self) -> list[Metric]:
        """The current samples."""
        family = HistogramMetricFamily(self._name, self._doc, labels=self._labelnames)
        les = [floatToGoString(b) for b in self._bounds]  # type: ignore[no-untyped-call]
        created = _get_use_created()
        for values, child in list(self._children.items()):
            cumulative, buckets = 0, []
            for le, n in zip(les, child.counts, strict=True):
                cumulative += n
                buckets.append((le, float(cumulative)))
            family.add_metric(list(values), buckets, child.total)
            if created:
                labels = dict(zip(self._labelnames, values, strict=True))
                family.samples.append(Sample(f"{self._name}_created", labels, child.created))
        return [family]


def _histogram(
    name: str,
    documentation: str,
    labelnames: Sequence[str],
    buckets: Sequence[float],
    registry: CollectorRegistry,
) -> Any:
    """A :class:`LoopHistogram`, or ``prometheus_client``'s in multiprocess mode."""
    if _multiprocess():
        return Histogram(name, documentation, labelnames, buckets=buckets, registry=registry)
    return LoopHistogram(name, documentation, labelnames, buckets=buckets, registry=registry)


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
        self.latency = _histogram(
            "fraudwatch_http_request_duration_seconds",
            "Time from receiving a request to sending its response.",
            ["method", "route", "status"],
            _LATENCY_BUCKETS,
            r,
        )
        self.decisions = Counter(
            "fraudwatch_decisions",
            "Decisions returned, by outcome (retries of a stored decision excluded).",
            ["decision"],
            registry=r,
        )
        self.scores = _histogram(
            "fraudwatch_score", "Model scores of decided transactions.", (), _SCORE_BUCKETS, r
        )
        self.errors = Counter(
            "fraudwatch_errors",
            "Error responses by kind (validation_error, unauthorized, internal_error...).",
            ["kind"],
            registry=r,
        )
        self.stages = _histogram(
            "fraudwatch_stage_seconds",
            "Time spent in each stage of scoring one transaction.",
            ["stage"],
            _STAGE_BUCKETS,
            r,
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
        self.loop_lag = _histogram(
            "fraudwatch_event_loop_lag_seconds",
            "How late the event loop ran a timer (sampled; a stall delays every queued request).",
            (),
            _PAUSE_BUCKETS,
            r,
        )
        self.gc_pause = _histogram(
            "fraudwatch_gc_pause_seconds",
            "Duration of each garbage collection, by generation (2: full collection).",
            ["generation"],
            _PAUSE_BUCKETS,
            r,
        )
        self.groups = _histogram(
            "fraudwatch_score_group_size",
            "Single-transaction requests decided together (one per group).",
            (),
            _GROUP_BUCKETS,
            r,
        )
        self._decision_children = {
            d: self.decisions.labels(d) for d in ("allow", "review", "decline")
        }
        self._stage_children: dict[str, _Observer] = {s: self.stages.labels(s) for s in STAGES}
        self._scorer_stages = [
            (s, self._stage_children[s]) for s in ("features", "model", "reasons", "rules")
        ]
        self._request_children: dict[tuple[str, str, int], _Observer] = {}
        self._version: str | None = None

    def decision(self, decision: str, score: float) -> None:
        """Count one fresh decision and observe its score."""
        child = self._decision_children.get(decision)
        if child is None:
            child = self._decision_children[decision] = self.decisions.labels(decision)
        child.inc()
        self.scores.observe(score)

    def group(self, size: int) -> None:
        """Observe the size of one group of requests decided together."""
        self.groups.observe(size)

    def stage(self, stage: str, seconds: float) -> None:
        """Observe the duration of one stage of a request."""
        self._stage_children[stage].observe(seconds)

    def scorer_stages(self, timings_us: Mapping[str, float]) -> None:
        """Observe the stages the scorer timed (``features``, ``model``, ... in µs)."""
        for stage, child in self._scorer_stages:
            us = timings_us.get(stage)
            if us is not None:
                child.observe(us / 1e6)

    def error(self, kind: str) -> None:
        """Count one error response of ``kind``."""
        self.errors.labels(kind).inc()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Observe one request's latency."""
        key = (method, route, status)
        child = self._request_children.get(key)
        if child is None:
            if len(self._request_children) >= _MAX_REQUEST_SERIES:  # pragma: no cover
                self._request_children.clear()  # bounded: method/route come from the client
            child = self._request_children[key] = self.latency.labels(method, route, str(status))
        child.observe(seconds)

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
