"""Score one transaction: the real-time core shared by the HTTP service and the stream.

:class:`Scorer` is a pure function of (transaction, feature state, model): the feature state
store and the model bundle are injected, the transaction carries its own timestamp, and no
clock, database or network is touched here except through the injected state store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from time import perf_counter_ns
from typing import Any, Literal

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
    """Score transactions one at a time against a model bundle and an online feature state.

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
        t0 = perf_counter_ns()
        feats = self._online.compute_and_update(tx)
        t1 = perf_counter_ns()
        x = self._encoder.transform_row(feats)
        scores, anomalies = self.bundle.score_matrix(x, num_threads=1)
        score, anomaly = float(scores[0]), float(anomalies[0])
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
                "features": (t1 - t0) / 1000,
                "model": (t2 - t1) / 1000,
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
