"""Score one transaction: the real-time core shared by the HTTP service and the stream.

:class:`Scorer` is a pure function of (transaction, feature state, model): the feature state
store and the model bundle are injected, the transaction carries its own timestamp, and no
clock, database or network is touched here except through the injected state store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from time import perf_counter_ns
from typing import Any, Literal, cast

from fraudwatch.errors import BundleError
from fraudwatch.features import FeatureSet, OnlineExecutor, StateSnapshot, StateStore
from fraudwatch.models import ExplainMethod, check_explain_method
from fraudwatch.registry import Bundle
from fraudwatch.rules import RuleSet, decide_one
from fraudwatch.scoring._result import DecisionName, ScoreResult
from fraudwatch.scoring.reasons import top_reasons

__all__ = ["ExplainMode", "Scorer"]

ExplainMode = Literal["flagged", "all", "none"]
_EXPLAIN = ("flagged", "all", "none")


def bundle_feature_set(bundle: Bundle) -> FeatureSet:
    """The bundle's feature set as a :class:`FeatureSet` (refuses a bundle without one)."""
    fs = bundle.feature_set
    if not isinstance(fs, FeatureSet):
        raise BundleError(
            "the bundle does not carry a fraudwatch feature set definition, so features "
            "cannot be computed for it; retrain it with `fraudwatch train`",
            version=bundle.version,
        )
    return fs


class Scorer:
    """Score transactions against a model bundle and an online feature state.

    One at a time (:meth:`score_one`) or a group in order (:meth:`score_many`).

    Parameters
    ----------
    bundle:
        A verified model bundle (its thresholds decide review / decline).
    store:
        The online feature state (in-process memory or Redis).
    ruleset:
        Rules and allow/deny lists; ``None`` means no rules.
    explain:
        Which transactions get reasons: ``flagged`` (review and decline: the default),
        ``all``, or ``none``.
    explainer:
        How contributions are computed: ``path`` (default; about the cost of a prediction,
        tables built when the scorer is created) or ``shap`` (TreeSHAP, about a hundred
        predictions). See ``docs/models.md``.
    n_reasons:
        Reasons per transaction at most.

    Raises
    ------
    ConfigError
        ``explainer`` is not ``path`` or ``shap``.

    Examples
    --------
    >>> scorer = Scorer(bundle, MemoryStateStore())            # doctest: +SKIP
    >>> scorer.score_one({"transaction_id": "t1", ...}).decision  # doctest: +SKIP
    'allow'
    """

    def __init__(
        self,
        bundle: Bundle,
        store: StateStore,
        ruleset: RuleSet | None = None,
        *,
        explain: ExplainMode = "flagged",
        explainer: ExplainMethod = "path",
        n_reasons: int = 3,
    ) -> None:
        if explain not in _EXPLAIN:
            raise ValueError(f"explain must be one of {', '.join(_EXPLAIN)}; got {explain!r}")
        self.explainer = check_explain_method(explainer)
        self.bundle = bundle
        self.feature_set = bundle_feature_set(bundle)
        self.store = store
        self.ruleset = ruleset if ruleset is not None else RuleSet()
        self.explain = explain
        self.n_reasons = n_reasons
        self.thresholds = bundle.thresholds
        self._online = OnlineExecutor(self.feature_set, store)
        self._names = list(bundle.feature_names)
        self._phrase = self.feature_set.phrase
        self._version = bundle.version
        self._encoder = bundle.encoder
        self._manifest = bundle.manifest
        warm = getattr(bundle.model, "leaf_tables", None)
        if explain != "none" and explainer == "path" and callable(warm):
            warm()  # build the path tables now rather than on the first flagged transaction
        bundle.model.prepare_row_scoring()  # its one-row predictor, not on the first request
        if bundle.detector is not None:
            bundle.detector.prepare_row_scoring()  # likewise the detector's one-row predictor

    @property
    def model_version(self) -> str:
        """Version of the loaded bundle."""
        return self._version

    @property
    def manifest(self) -> Mapping[str, Any]:
        """The loaded bundle's manifest."""
        return self._manifest

    def features_one(self, tx: Mapping[str, Any]) -> dict[str, Any]:
        """Compute one transaction's features and record it in the state (no scoring)."""
        return self._online.compute_and_update(tx)

    def score_one(self, tx: Mapping[str, Any]) -> ScoreResult:
        """Score one transaction and add it to its entities' feature state.

        Parameters
        ----------
        tx:
            Canonical fields; ``timestamp`` a timezone-aware datetime.

        Raises
        ------
        FeatureError
            A field the features need is invalid.
        """
        return self.score_many((tx,))[0]

    def score_many(self, txs: Sequence[Mapping[str, Any]]) -> list[ScoreResult]:
        """Score transactions in order, as :meth:`score_one` of each would, stage by stage.

        Each transaction sees the feature state left by the ones before it, exactly as with
        one :meth:`score_one` after another (the store applies them in order, in one call:
        one pipeline on Redis). The features of all of them are computed first, then every
        model prediction, then each decision and its reasons: the code and the model of each
        stage stay in the CPU caches while it runs for all of them, which is what makes a
        group cheaper per transaction than the same transactions one by one. The features
        and model timings of each result are the group's time divided by its size.

        Raises
        ------
        FeatureError
            A field of one of them is unusable; raised before the state changes (no
            transaction of the group is recorded).
        Exception
            The first error of one transaction's prediction, decision or reasons, raised
            after every transaction was recorded in the state (:meth:`score_each` returns
            each one's result or error instead).
        """
        results = self.score_each(txs)
        for r in results:
            if isinstance(r, Exception):
                raise r
        return cast(list[ScoreResult], results)

    def score_each(self, txs: Sequence[Mapping[str, Any]]) -> list[ScoreResult | Exception]:
        """:meth:`score_many`, with each transaction's own result or error, in order.

        Every transaction is recorded in the feature state, then scored; an error of one
        transaction (the state store failing on it alone, its prediction, decision or
        reasons) is returned in its place and does not stop the others.

        Raises
        ------
        FeatureError
            A field of one of them is unusable; raised before the state changes.
        """
        n = len(txs)
        if n == 0:
            return []
        t0 = perf_counter_ns()
        prepared = self._online.prepare_many(txs)  # raises before anything is recorded
        all_feats = self._online.apply_each(prepared)
        t1 = perf_counter_ns()
        encode, predict = self._encoder.transform_row, self.bundle.score_matrix
        rows: list[tuple[Any, float, float] | Exception] = []
        for feats in all_feats:
            if isinstance(feats, Exception):  # the state store failed on this one only
                rows.append(feats)
                continue
            try:
                x = encode(feats)
                scores, anomalies = predict(x, num_threads=1)
                rows.append((x, float(scores[0]), float(anomalies[0])))
            except Exception as exc:
                rows.append(exc)
        t2 = perf_counter_ns()
        shared = {"features": (t1 - t0) / 1000 / n, "model": (t2 - t1) / 1000 / n}
        out: list[ScoreResult | Exception] = []
        for tx, feats, row in zip(txs, all_feats, rows, strict=True):
            if isinstance(row, Exception):  # the store's error of this one, or its model's
                out.append(row)
                continue
            try:
                out.append(self._decide(tx, cast(dict[str, Any], feats), row, shared))
            except Exception as exc:
                out.append(exc)
        return out

    def _decide(
        self,
        tx: Mapping[str, Any],
        feats: Mapping[str, Any],
        row: tuple[Any, float, float],
        timings_us: Mapping[str, float],
    ) -> ScoreResult:
        """The decision and reasons of one scored transaction."""
        x, score, anomaly = row
        t2 = perf_counter_ns()
        merged = {**tx, **feats}
        decided = decide_one(merged, score, self.thresholds, self.ruleset)
        t3 = perf_counter_ns()
        decision: DecisionName = decided.decision
        reasons: tuple[Any, ...] = ()
        if self.explain == "all" or (self.explain == "flagged" and decision != "allow"):
            contrib = self.bundle.contributions(x, method=self.explainer)[0, :-1]
            values = [feats.get(n) for n in self._names]
            reasons = tuple(top_reasons(contrib, self._names, values, self._phrase, self.n_reasons))
        t4 = perf_counter_ns()
        return ScoreResult(
            transaction_id=str(tx["transaction_id"]),
            score=score,
            anomaly_score=None if math.isnan(anomaly) else anomaly,
            decision=decision,
            reasons=reasons,
            rules_fired=decided.rules_fired,
            decided_by=decided.decided_by,
            model_version=self._version,
            timings_us={
                **timings_us,
                "rules": (t3 - t2) / 1000,
                "reasons": (t4 - t3) / 1000,
            },
        )

    def load_snapshot(self, snapshot: StateSnapshot) -> None:
        """Warm the feature state from a snapshot of history (refuses another feature set's)."""
        self._online.load_snapshot(snapshot)

    def add_label(self, transaction_id: str, label: int, known_at: datetime) -> bool:
        """Feed a label to the label-delayed features; False if the transaction is unknown."""
        return self._online.add_label(transaction_id, label, known_at)
