"""Transactions in the making: parallel integer/float arrays, turned into a frame at the end."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

__all__ = ["NO_CITY", "NO_DEVICE", "NO_IP", "Rows"]

NO_DEVICE = -1
NO_IP = -1
NO_CITY = -1


@dataclass
class Rows:
    """A block of transactions as numpy arrays of equal length.

    ``ts`` is microseconds since the epoch (UTC). ``merchant`` and ``terminal`` index the
    population's tables; ``city`` is where a card-present payment happened (``-1`` online);
    ``device`` and ``ip`` are ``-1`` for card-present payments; ``scenario`` is 0 for legitimate
    rows and ``1 + position`` in :data:`~fraudwatch.simulate._config.SCENARIOS` otherwise.
    """

    ts: NDArray[np.int64]
    card: NDArray[np.int64]
    merchant: NDArray[np.int64]
    terminal: NDArray[np.int64]
    city: NDArray[np.int64]
    amount: NDArray[np.float64]
    device: NDArray[np.int64]
    ip: NDArray[np.int64]
    fraud: NDArray[np.int8]
    scenario: NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def empty(cls) -> Rows:
        """A block without rows."""
        i = np.empty(0, dtype=np.int64)
        return cls(
            ts=i,
            card=i,
            merchant=i,
            terminal=i,
            city=i,
            amount=np.empty(0, dtype=np.float64),
            device=i,
            ip=i,
            fraud=np.empty(0, dtype=np.int8),
            scenario=np.empty(0, dtype=np.int8),
        )

    def take(self, index: NDArray[np.int64] | NDArray[np.bool_]) -> Rows:
        """The rows selected by an index array or a boolean mask."""
        return Rows(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @classmethod
    def concat(cls, blocks: list[Rows]) -> Rows:
        """Stack blocks in order."""
        if not blocks:
            return cls.empty()
        return cls(
            **{f.name: np.concatenate([getattr(b, f.name) for b in blocks]) for f in fields(cls)}
        )
