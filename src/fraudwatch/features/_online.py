"""The online executor: features of one transaction at a time, from a state store.

``compute(tx)`` reads the state of the transaction's entities and computes its features;
``update(tx)`` records it; ``compute_and_update(tx)`` does both as one atomic store step (one
round trip on Redis). The feature math lives in :mod:`fraudwatch.features._online_math`,
shared by every store; the parity tests prove it equal to
:func:`~fraudwatch.features.compute_batch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import polars as pl

from fraudwatch.errors import FeatureError, PartialStateError, StateStoreError
from fraudwatch.features._featureset import FeatureSet
from fraudwatch.features._online_math import (
    Tx,
    Value,
    compile_jobs,
    request_builder,
    run_jobs,
    value_names,
)
from fraudwatch.features._plan import StatePlan
from fraudwatch.features.state._base import States, StateStore, TxRequest
from fraudwatch.features.state._memory import MemoryStateStore
from fraudwatch.features.state._snapshot import StateSnapshot

__all__ = ["OnlineExecutor", "PreparedTxs", "Value"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class PreparedTxs:
    """Transactions checked by :meth:`OnlineExecutor.prepare_many`, ready to be applied."""

    __slots__ = ("parsed", "requests")

    def __init__(self, parsed: list[Tx], requests: list[TxRequest]) -> None:
        self.parsed = parsed
        self.requests = requests


class OnlineExecutor:
    """Features of one transaction at a time, over a :class:`StateStore`.

    Parameters
    ----------
    fs:
        The feature set.
    store:
        Where entity state lives; an in-process :class:`MemoryStateStore` when omitted.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> from fraudwatch.features import FeatureSet, Feature
    >>> ex = OnlineExecutor(FeatureSet((Feature("count", "card", window="1h"),)))
    >>> tx = {"transaction_id": "t1", "timestamp": datetime(2024, 1, 1, tzinfo=UTC),
    ...       "card_id": "c1", "amount": 10.0}
    >>> ex.compute_and_update(tx)
    {'tx_count_card_1h': 0.0}
    >>> ex.compute({**tx, "transaction_id": "t2"})
    {'tx_count_card_1h': 1.0}
    """

    def __init__(self, fs: FeatureSet, store: StateStore | None = None) -> None:
        self.fs = fs
        self.store: StateStore = store if store is not None else MemoryStateStore()
        self.plan = StatePlan.from_feature_set(fs)
        self._jobs = compile_jobs(fs, self.plan)
        self._template: dict[str, Value] = dict.fromkeys(fs.names)
        delay = fs.label_delay
        self._label_delay_us = delay // _ONE_US if delay is not None else 0
        self._builders = [request_builder(spec) for spec in self.plan.specs]
        self._names = value_names(self.plan)
        self._needs_amount = any(s.needs_amount for s in self.plan.specs)

    # ------------------------------------------------------------------ requests
    def _request(self, tx: Tx, read: bool, write: bool) -> TxRequest:
        ents = tuple([build(tx) for build in self._builders])
        if write and self._needs_amount and tx.amount is None:
            raise FeatureError(f"transaction {tx.tx_id!r}: amount is missing")
        label = tx.raw.get("is_fraud")
        if label is not None and label not in (0, 1):
            raise FeatureError(f"transaction {tx.tx_id!r}: is_fraud must be 0 or 1; got {label!r}")
        return TxRequest(
            tx.now,
            tx.tx_id,
            ents,
            read,
            write,
            None if label is None else int(label),
            tx.now + self._label_delay_us,
        )

    def _features(self, tx: Tx, states: States) -> dict[str, Value]:
        return run_jobs(self._jobs, self._template, tx, states)

    # ------------------------------------------------------------------ public API
    def compute(self, tx: Mapping[str, Any]) -> dict[str, Value]:
        """The features of ``tx`` from the current state (the state is not changed).

        Raises
        ------
        FeatureError
            A field is unusable (no id, naive timestamp, NaN amount, no card...).
        """
        t = Tx(tx, self._names)
        states = self.store.execute(self.plan, [self._request(t, True, False)])[0]
        return self._features(t, cast(States, states))

    def update(self, tx: Mapping[str, Any]) -> None:
        """Record ``tx`` in the state (with its label when it carries ``is_fraud``).

        A carried label counts as known at ``timestamp + label delay`` of the set.
        """
        t = Tx(tx, self._names)
        self.store.execute(self.plan, [self._request(t, False, True)])

    def compute_and_update(self, tx: Mapping[str, Any]) -> dict[str, Value]:
        """Compute the features of ``tx`` and record it, as one atomic store step."""
        t = Tx(tx, self._names)
        states = self.store.execute(self.plan, [self._request(t, True, True)])[0]
        return self._features(t, cast(States, states))

    def compute_and_update_many(self, txs: Iterable[Mapping[str, Any]]) -> list[dict[str, Value]]:
        """:meth:`compute_and_update` of each transaction in order, in one store call.

        On Redis the transactions travel in one pipeline; each still sees the state left by
        the ones before it. Same as ``apply(prepare_many(txs))``.
        """
        return self.apply(self.prepare_many(txs))

    def prepare_many(self, txs: Iterable[Mapping[str, Any]]) -> PreparedTxs:
        """Check and convert transactions for :meth:`apply`; the state is not touched.

        Raises
        ------
        FeatureError
            A field of one of them is unusable (no transaction is recorded then).
        """
        parsed = [Tx(tx, self._names) for tx in txs]
        return PreparedTxs(parsed, [self._request(t, True, True) for t in parsed])

    def apply(self, prepared: PreparedTxs) -> list[dict[str, Value]]:
        """Compute and record prepared transactions in order, in one store call.

        Raises
        ------
        StateStoreError
            The store failed (:class:`~fraudwatch.errors.PartialStateError` when only some
            of them failed: the others are recorded; :meth:`apply_each` says which).
        """
        results = self.store.execute(self.plan, prepared.requests)
        return [
            self._features(t, cast(States, s))
            for t, s in zip(prepared.parsed, results, strict=True)
        ]

    def apply_each(self, prepared: PreparedTxs) -> list[dict[str, Value] | StateStoreError]:
        """:meth:`apply`, with each transaction's features or its own store error.

        A transaction the store failed on (and only that one) gets its error; the others
        are recorded and get their features. A failure of the whole call is raised.
        """
        try:
            return list(self.apply(prepared))
        except PartialStateError as exc:
            out: list[dict[str, Value] | StateStoreError] = []
            for t, s in zip(prepared.parsed, exc.results, strict=True):
                if isinstance(s, StateStoreError):
                    out.append(s)
                else:
                    out.append(self._features(t, cast(States, s)))
            return out

    def add_label(self, transaction_id: str, label: int, known_at: datetime) -> bool:
        """Record that ``transaction_id`` is fraud (1) or not (0), known from ``known_at``.

        Returns False when the transaction is unknown to the state (never recorded, or older
        than the label retention); the label is then ignored.

        Raises
        ------
        FeatureError
            ``label`` is not 0/1 or ``known_at`` has no time zone.
        """
        if label not in (0, 1):
            raise FeatureError(f"label of {transaction_id!r} must be 0 or 1; got {label!r}")
        if known_at.tzinfo is None or known_at.utcoffset() is None:
            raise FeatureError(
                f"known_at {known_at.isoformat()} has no time zone; attach one (tzinfo=UTC)"
            )
        if not self.plan.label_retention_us:
            return False
        return self.store.add_label(
            self.plan, str(transaction_id), int(label), (known_at - _EPOCH) // _ONE_US
        )

    def load_snapshot(self, snapshot: StateSnapshot) -> None:
        """Load a snapshot of history into the store, after checking it fits this set.

        Raises
        ------
        FeatureError
            The snapshot was built for another feature set.
        """
        if snapshot.plan.id != self.plan.id:
            raise FeatureError(
                f"the snapshot was built for feature set {snapshot.feature_set_hash[:12]}, "
                f"not this one ({self.fs.hash[:12]}); build it with build_snapshot(fs, history) "
                "using the same feature set"
            )
        self.store.load_snapshot(snapshot)

    def replay(self, data: pl.DataFrame, *, batch_size: int = 512) -> pl.DataFrame:
        """Run ``data`` through :meth:`compute_and_update` in time order (stable).

        Labels carried in ``is_fraud`` become known ``label delay`` after each transaction's
        timestamp. Returns the same layout as :func:`~fraudwatch.features.compute_batch`:
        ``transaction_id`` and every feature, in ``data``'s row order.
        """
        order = data.with_row_index("__fw_i__").sort("timestamp", maintain_order=True)
        rows = order.to_dicts()
        results: list[dict[str, Value]] = []
        for i in range(0, len(rows), batch_size):
            results.extend(self.compute_and_update_many(rows[i : i + batch_size]))
        positions = order["__fw_i__"].to_list()
        ordered: list[dict[str, Value]] = [{} for _ in rows]
        for pos, row, feats in zip(positions, rows, results, strict=True):
            ordered[pos] = {"transaction_id": str(row["transaction_id"]), **feats}
        schema: dict[str, pl.DataType] = {"transaction_id": pl.String()}
        for f in self.fs:
            schema[f.name] = pl.String() if f.categorical else pl.Float64()
        return pl.DataFrame(ordered, schema=schema, orient="row")
