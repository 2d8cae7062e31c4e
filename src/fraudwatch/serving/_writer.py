"""Group commit: one thread stores the decisions queued by concurrent requests together.

A request awaits the future of its decision; the future resolves only after the transaction
holding it has committed, so a response is never sent for a decision that is not durable.
Grouping amortises the commit (one WAL append / one round trip) over every request that
arrived meanwhile, which keeps SQLite and PostgreSQL off the latency budget under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["GroupWriter", "LoopWriter"]

log = logging.getLogger(__name__)

In = TypeVar("In")
Out = TypeVar("Out")

_STOP = object()


def _resolve(fut: asyncio.Future[Any], value: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)


class GroupWriter(Generic[In, Out]):
    """Run ``write_many`` on a dedicated thread over whatever items are waiting.

    Parameters
    ----------
    write_many:
        Stores a group of items in one transaction and returns one result per item, in order.
        If it raises for a group of several, each item is retried alone so one bad item fails
        only its own request.
    max_group:
        Most items stored in one transaction.
    name:
        Thread name.
    """

    def __init__(
        self,
        write_many: Callable[[Sequence[In]], Sequence[Out]],
        *,
        max_group: int = 256,
        name: str = "fraudwatch-writer",
    ) -> None:
        self._write_many = write_many
        self._max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self._stopped = False
        self.groups = 0
        self.items = 0

    def start(self) -> None:
        """Start the writer thread."""
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, item: In) -> asyncio.Future[Out]:
        """Queue ``item``; the returned future resolves once it is committed.

        Raises
        ------
        RuntimeError
            The writer is stopped (the service is shutting down).
        """
        if self._stopped or not self._started:
            raise RuntimeError("the decision writer is not running (service shutting down)")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Out] = loop.create_future()
        self._queue.put((item, fut, loop))
        return fut

    def stop(self, timeout: float = 30.0) -> None:
        """Store what is queued, then stop the thread."""
        if not self._started or self._stopped:
            self._stopped = True
            return
        self._stopped = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            group = [first]
            while len(group) < self._max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                group.append(nxt)
            self._write_group(group)

    def _write_group(self, group: list[Any]) -> None:
        items = [g[0] for g in group]
        try:
            results = list(self._write_many(items))
            if len(results) != len(items):  # pragma: no cover - contract violation
                raise RuntimeError(f"write_many returned {len(results)} results for {len(items)}")
        except Exception as exc:
            if len(group) > 1:
                for one in group:
                    self._write_group([one])
                return
            log.error("storing a decision failed: %s", exc, exc_info=exc)
            self._deliver(group[0], None, exc)
            return
        self.groups += 1
        self.items += len(items)
        for entry, result in zip(group, results, strict=True):
            self._deliver(entry, result, None)

    @staticmethod
    def _deliver(entry: Any, value: Any, exc: BaseException | None) -> None:
        _, fut, loop = entry
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_resolve, fut, value, exc)


class LoopWriter(Generic[In, Out]):
    """Group commit on the event loop itself, for a local database (SQLite).

    Items submitted while the loop is busy are stored together by one callback: one
    transaction for every request that reached this point in the same loop iteration. The
    loop blocks for that commit (a local SQLite commit costs about as much as handing the
    work to a thread, without the GIL hand-off that a writer thread forces on every request).

    Commits are at least ``min_interval_s`` apart: an item submitted sooner after the last
    commit waits for the rest of the interval, with whatever else arrives meanwhile. A quiet
    service (requests further apart than the interval) commits each at once; a busy one
    commits groups, which costs each request at most the interval and saves a transaction
    per request (the fixed part of a SQLite commit costs more than storing one more row).

    Parameters
    ----------
    write_many:
        As for :class:`GroupWriter`.
    max_group:
        Most items stored in one transaction (a full group is committed without waiting).
    min_interval_s:
        Least time between the starts of two commits (0: commit at the next loop turn), on
        the event loop's clock.
    """

    def __init__(
        self,
        write_many: Callable[[Sequence[In]], Sequence[Out]],
        *,
        max_group: int = 256,
        min_interval_s: float = 0.0,
    ) -> None:
        self._write_many = write_many
        self._max_group = max_group
        self._min_interval = min_interval_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_flush = -math.inf
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._handle: asyncio.Handle | None = None
        self._running = False
        self.groups = 0
        self.items = 0

    def start(self) -> None:
        """Accept items."""
        self._running = True

    def submit(self, item: In) -> asyncio.Future[Out]:
        """Queue ``item``; the returned future resolves once it is committed.

        Raises
        ------
        RuntimeError
            The writer is stopped (the service is shutting down).
        """
        if not self._running:
            raise RuntimeError("the decision writer is not running (service shutting down)")
        loop = self._loop = asyncio.get_running_loop()
        fut: asyncio.Future[Out] = loop.create_future()
        self._pending.append((item, fut))
        handle = self._handle
        if handle is None:
            wait = self._last_flush + self._min_interval - loop.time()
            if wait > 0:
                self._handle = loop.call_later(wait, self._flush)
            else:
                self._handle = loop.call_soon(self._flush)
        elif len(self._pending) >= self._max_group and isinstance(handle, asyncio.TimerHandle):
            handle.cancel()  # a full group: no reason to wait
            self._handle = loop.call_soon(self._flush)
        return fut

    def stop(self, timeout: float = 30.0) -> None:
        """Refuse new items and store whatever is queued now."""
        self._running = False
        if self._handle is not None:
            self._handle.cancel()
        if self._pending:
            self._flush()

    def _flush(self) -> None:
        self._handle = None
        if self._loop is not None:
            self._last_flush = self._loop.time()
        while self._pending:
            group = self._pending[: self._max_group]
            del self._pending[: self._max_group]
            self._write_group(group)

    def _write_group(self, group: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            results = list(self._write_many([g[0] for g in group]))
        except Exception as exc:
            if len(group) > 1:
                for one in group:
                    self._write_group([one])
                return
            log.error("storing a decision failed: %s", exc, exc_info=exc)
            _resolve(group[0][1], None, exc)
            return
        self.groups += 1
        self.items += len(group)
        for (_, fut), result in zip(group, results, strict=True):
            _resolve(fut, result, None)
