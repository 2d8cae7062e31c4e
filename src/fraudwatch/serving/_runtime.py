"""Event-loop lag and garbage-collection pauses, measured inside the service.

The service answers every request from one event loop, so anything that holds the loop (a
full garbage collection, a slow callback, a machine that gives the process less CPU for a
while) delays every request queued behind it. The p99 latency of a busy service is set by
such stalls, not by the mean cost of a request. Two measurements make them visible on
``GET /metrics``:

* :class:`GcPauses` is a ``gc.callbacks`` hook that times every collection. It only appends
  ``(generation, seconds)`` to a bounded queue: a collection can start inside any
  allocation, including one made while a metric holds its lock, so the hook touches no
  metric itself.
* :class:`LoopMonitor` wakes every ``interval_s`` on the loop, observes how late it woke
  (``fraudwatch_event_loop_lag_seconds``) and moves the queued pauses into
  ``fraudwatch_gc_pause_seconds``. A stall of length *s* shows as a lag of up to *s* in the
  next wake-up; with a 10 ms interval the monitor costs about 100 wake-ups a second.

Time comes from the injected ``timer`` (``time.perf_counter`` in the service).
"""

from __future__ import annotations

import asyncio
import gc
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["GcPauses", "LoopMonitor"]


class _Observer(Protocol):
    def observe(self, amount: float) -> None: ...


class _Labelled(Protocol):
    def labels(self, *values: str) -> _Observer: ...


class GcPauses:
    """Times each garbage collection; :meth:`drain` hands the pauses over.

    Parameters
    ----------
    timer:
        Seconds, monotonic.
    keep:
        Pauses held at most between two drains (the oldest go first; :attr:`dropped` counts
        them).

    Examples
    --------
    >>> import gc
    >>> pauses = GcPauses()
    >>> pauses.install()
    >>> _ = gc.collect(0)
    >>> pauses.remove()
    >>> [gen for gen, _ in pauses.drain()][-1]
    0
    """

    def __init__(self, timer: Callable[[], float] | None = None, keep: int = 4096) -> None:
        import time

        self._timer = timer or time.perf_counter
        self._started = 0.0
        self._pauses: deque[tuple[int, float]] = deque(maxlen=keep)
        self.dropped = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._timer()
            return
        pauses = self._pauses
        if len(pauses) == pauses.maxlen:
            self.dropped += 1
        pauses.append((int(info.get("generation", -1)), self._timer() - self._started))

    def install(self) -> None:
        """Start timing collections (idempotent)."""
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        """Stop timing collections."""
        if self in gc.callbacks:
            gc.callbacks.remove(self)

    def drain(self) -> list[tuple[int, float]]:
        """The ``(generation, seconds)`` of each collection since the last drain, oldest first."""
        out: list[tuple[int, float]] = []
        pauses = self._pauses
        while pauses:
            out.append(pauses.popleft())
        return out


class LoopMonitor:
    """Observes the event loop's lag and the queued collection pauses every ``interval_s``.

    Parameters
    ----------
    lag:
        Histogram of lags (seconds).
    gc_pause:
        Histogram of pauses with one label, the generation.
    pauses:
        Where the pauses come from.
    interval_s:
        Time between two wake-ups.
    timer:
        Seconds, monotonic (the loop's ``sleep`` runs on the loop's own clock).
    """

    def __init__(
        self,
        lag: _Observer,
        gc_pause: _Labelled,
        pauses: GcPauses,
        *,
        interval_s: float,
        timer: Callable[[], float],
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive; got {interval_s!r}")
        self._lag = lag
        self._gc_pause = gc_pause
        self._pauses = pauses
        self._interval = interval_s
        self._timer = timer
        self._generations: dict[int, _Observer] = {}

    def flush(self) -> None:
        """Move the queued collection pauses into the histogram."""
        for generation, seconds in self._pauses.drain():
            child = self._generations.get(generation)
            if child is None:
                child = self._generations[generation] = self._gc_pause.labels(str(generation))
            child.observe(seconds)

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until ``stop`` is set."""
        timer, interval = self._timer, self._interval
        while not stop.is_set():
            due = timer() + interval
            await asyncio.sleep(interval)
            self._lag.observe(max(0.0, timer() - due))
            self.flush()
        self.flush()
