"""Event-loop lag and garbage-collection pauses: the hooks, the monitor, and /metrics."""

from __future__ import annotations

import asyncio
import gc
import re
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from serving_helpers import running

from fraudwatch.serving._runtime import GcPauses, LoopMonitor


class _Recorder:
    """An observer that keeps what it saw, per label."""

    def __init__(self) -> None:
        self.seen: dict[str, list[float]] = {}

    def labels(self, *values: str) -> _Child:
        return _Child(self.seen.setdefault(",".join(values), []))

    def observe(self, amount: float) -> None:
        self.seen.setdefault("", []).append(amount)


class _Child:
    def __init__(self, into: list[float]) -> None:
        self._into = into

    def observe(self, amount: float) -> None:
        self._into.append(amount)


def _ticks(*values: float) -> Callable[[], float]:
    it: Iterator[float] = iter(values)
    return lambda: next(it)


def test_gc_pause_is_the_time_between_start_and_stop() -> None:
    pauses = GcPauses(_ticks(10.0, 10.25, 20.0, 20.5))
    pauses("start", {"generation": 1})
    pauses("stop", {"generation": 1, "collected": 0})
    pauses("start", {"generation": 2})
    pauses("stop", {"generation": 2, "collected": 3})
    assert pauses.drain() == [(1, 0.25), (2, 0.5)]
    assert pauses.drain() == []


def test_gc_pauses_are_bounded_and_count_what_they_drop() -> None:
    pauses = GcPauses(_ticks(*range(10)), keep=2)
    for gen in (0, 1, 2):
        pauses("start", {"generation": gen})
        pauses("stop", {"generation": gen})
    assert [g for g, _ in pauses.drain()] == [1, 2]
    assert pauses.dropped == 1


def test_installed_hook_times_a_real_full_collection() -> None:
    pauses = GcPauses()
    pauses.install()
    pauses.install()  # once only
    try:
        gc.collect()
    finally:
        pauses.remove()
    got = pauses.drain()
    assert [g for g, _ in got].count(2) == 1
    assert all(s >= 0 for _, s in got)
    gc.collect()
    assert pauses.drain() == []  # removed: no longer called


def test_monitor_sees_a_blocked_loop_and_publishes_pauses() -> None:
    lag, gc_pause = _Recorder(), _Recorder()
    pauses = GcPauses(_ticks(1.0, 1.003))
    pauses("start", {"generation": 2})
    pauses("stop", {"generation": 2})
    monitor = LoopMonitor(lag, gc_pause, pauses, interval_s=0.005, timer=time.perf_counter)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(monitor.run(stop))
        await asyncio.sleep(0.03)
        time.sleep(0.08)  # hold the loop, as a long collection or a slow callback would
        await asyncio.sleep(0.03)
        stop.set()
        await task

    asyncio.run(scenario())
    lags = lag.seen[""]
    assert len(lags) >= 3
    assert max(lags) >= 0.06  # the wake-up due during the block came ~70 ms late
    assert sorted(lags)[len(lags) // 2] < 0.06  # the others did not
    assert gc_pause.seen == {"2": [pytest.approx(0.003)]}


def test_monitor_refuses_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        LoopMonitor(_Recorder(), _Recorder(), GcPauses(), interval_s=0, timer=time.perf_counter)


def _histogram(text: str, name: str, labels: str = "") -> dict[str, float]:
    """``{le: cumulative count}`` plus ``count`` of one histogram in an exposition."""
    out: dict[str, float] = {}
    sep = "," if labels else ""
    for m in re.finditer(rf'{name}_bucket\{{{labels}{sep}le="([^"]+)"\}} (\S+)', text):
        out[m.group(1)] = float(m.group(2))
    m = re.search(rf"{name}_count{{{labels}}} (\S+)" if labels else rf"{name}_count (\S+)", text)
    if m:
        out["count"] = float(m.group(1))
    return out


@pytest.mark.anyio
async def test_metrics_show_loop_lag_and_full_collections(
    app_factory: Callable[..., FastAPI],
) -> None:
    async with running(app_factory(loop_monitor_ms=5)) as client:
        await asyncio.sleep(0.05)
        time.sleep(0.12)  # block the service's loop
        gc.collect()
        await asyncio.sleep(0.05)  # the monitor wakes (late) and publishes
        text = (await client.get("/metrics")).text
    lag = _histogram(text, "fraudwatch_event_loop_lag_seconds")
    assert lag["count"] >= 3
    assert lag["count"] - lag["0.1"] >= 1  # at least one wake-up more than 100 ms late
    full = _histogram(text, "fraudwatch_gc_pause_seconds", 'generation="2"')
    assert full["count"] >= 1


@pytest.mark.anyio
async def test_monitor_off_publishes_nothing(app_factory: Callable[..., FastAPI]) -> None:
    async with running(app_factory(loop_monitor_ms=0)) as client:
        gc.collect()
        await asyncio.sleep(0.03)
        text = (await client.get("/metrics")).text
    assert "fraudwatch_event_loop_lag_seconds_count" not in text
    assert "fraudwatch_gc_pause_seconds_count" not in text
