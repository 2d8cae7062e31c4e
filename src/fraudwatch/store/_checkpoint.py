"""Checkpoint a SQLite WAL from a background thread, off the request path.

In WAL mode a commit appends pages to the ``-wal`` file; a *checkpoint* copies them into the
database file, with an ``fsync`` of both files under ``synchronous=NORMAL``. SQLite runs one
automatically inside the commit that takes the WAL past ``wal_autocheckpoint`` pages (1,000,
about 4 MB): that commit then waits for the copy and the two fsyncs, 5-35 ms measured on
the development machine's disk. The service commits on its event loop, so every request in
flight waited too.

:class:`WalCheckpointer` runs a ``PASSIVE`` checkpoint every few tens of milliseconds on a
thread and connection of its own (``sqlite3`` releases the GIL meanwhile), so the pages are
copied and synced in the background. The writer's automatic checkpoint still happens, and
still lets the next commit start the WAL file over (which keeps it at its usual size), but
finds only the few pages committed since the last background run. A ``PASSIVE`` checkpoint
never blocks a reader or a writer; it changes nothing about what a commit guarantees (see
docs/storage.md).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from fraudwatch.store._hotpath import PinnedConnection

__all__ = ["WalCheckpointer", "wal_mode"]

log = logging.getLogger("fraudwatch.store")


def wal_mode(engine: Engine) -> bool:
    """Whether ``engine`` is a SQLite database in WAL mode (a file, not ``sqlite://``)."""
    if engine.dialect.name != "sqlite":
        return False
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            row = cursor.execute("PRAGMA journal_mode").fetchone()
        finally:
            cursor.close()
    finally:
        raw.close()
    return row is not None and str(row[0]).lower() == "wal"


class WalCheckpointer:
    """Run ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval_s`` on a background thread.

    Parameters
    ----------
    engine:
        A SQLite engine in WAL mode (see :func:`wal_mode`).
    interval_s:
        Pause between two checkpoints.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fraudwatch.store import open_store
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "fw.db"
    >>> with open_store(f"sqlite:///{path}", upgrade=True) as store:
    ...     ckpt = WalCheckpointer(store.engine, interval_s=0.01)
    ...     ckpt.start()
    ...     ckpt.stop()
    ...     ckpt.failures
    0
    """

    def __init__(self, engine: Engine, *, interval_s: float = 0.05) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive; got {interval_s!r}")
        self._conn = PinnedConnection(engine)
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="fraudwatch-wal-checkpoint", daemon=True
        )
        self.runs = 0
        self.failures = 0

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread (after the checkpoint in progress, if any) and close its connection."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def checkpoint(self) -> tuple[int, int, int]:
        """Run one ``PASSIVE`` checkpoint now, on the caller's thread.

        Returns
        -------
        tuple of int
            SQLite's ``(busy, frames in the WAL, frames checkpointed)``.
        """
        cursor = self._conn.get().cursor()
        try:
            row = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            cursor.close()
        busy, frames, done = (int(v) for v in row)
        return busy, frames, done

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                try:
                    self.checkpoint()
                    self.runs += 1
                except Exception as exc:  # the writer's own checkpoints still run
                    self.failures += 1
                    if self.failures in (1, 10) or self.failures % 1000 == 0:
                        log.warning(
                            "background WAL checkpoint failed (%d so far): %s", self.failures, exc
                        )
                    self._conn.close()  # a fresh connection for the next attempt
        finally:
            self._conn.close()
