"""Score a whole frame of transactions: the batch path of the scoring core.

Features come from the batch executor (point-in-time correct, optionally warmed by a history),
scores from the bundle, decisions from :func:`fraudwatch.rules.decide_frame` (the vectorised
twin of the real-time decision), and reasons from the model's own contributions, computed for
flagged rows only by default. Contributions use the bundle model's ``path`` explanation by
default (about the cost of a prediction); ``explainer="shap"`` asks for TreeSHAP, about a
hundred times dearer.

The model matrix is encoded and scored in chunks of rows, so its memory stays bounded
whatever the number of rows; flagged rows are encoded again for their reasons. Each stage's
wall and CPU time is reported in :attr:`BatchScores.timings`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import perf_counter, process_time
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.features import compute_batch
from fraudwatch.models import ExplainMethod, check_explain_method
from fraudwatch.registry import Bundle
from fraudwatch.rules import RuleSet, decide_frame
from fraudwatch.scoring._scorer import bundle_feature_set
from fraudwatch.scoring.reasons import Reason, top_reasons_batch

__all__ = ["BatchScores", "StageTime", "score_frame"]

_SCORE_CHUNK = 250_000
_REASON_CHUNK = 20_000
_DECISIONS = ("allow", "review", "decline")


@dataclass(frozen=True)
class StageTime:
    """Time spent in one stage of :func:`score_frame`.

    Attributes
    ----------
    wall_s:
        Elapsed seconds.
    cpu_s:
        CPU seconds of the whole process (every thread) during the stage: on a busy machine
        it is the steadier measure of the work done.
    """

    wall_s: float
    cpu_s: float

    def to_dict(self) -> dict[str, float]:
        """``{"wall_s": ..., "cpu_s": ...}``."""
        return {"wall_s": self.wall_s, "cpu_s": self.cpu_s}


class _Stopwatch:
    """Accumulates wall and process CPU time per named stage."""

    def __init__(self) -> None:
        self.times: dict[str, StageTime] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall, cpu = perf_counter(), process_time()
        try:
            yield
        finally:
            before = self.times.get(name, StageTime(0.0, 0.0))
            self.times[name] = StageTime(
                before.wall_s + perf_counter() - wall, before.cpu_s + process_time() - cpu
            )


@dataclass(frozen=True)
class BatchScores:
    """The outcome of :func:`score_frame`.

    Attributes
    ----------
    scores:
        One row per input row, in input order: ``transaction_id``, ``score``,
        ``anomaly_score``, ``decision``, ``decided_by``, ``rules_fired`` (names joined by
        ``;``), ``reason_1`` .. ``reason_n`` (phrases), ``reasons`` (JSON list of
        feature/value/contribution/phrase) and ``model_version``.
    features:
        The feature table used (``transaction_id`` + features).
    summary:
        Counts by decision, flagged amount, and (with labels) fraud rates and recall.
    timings:
        Wall and CPU time per stage, in order: ``features``, ``encode``, ``model``,
        ``anomaly``, ``decisions``, ``reasons``, ``assemble``.
    """

    scores: pl.DataFrame
    features: pl.DataFrame
    summary: dict[str, Any]
    timings: Mapping[str, StageTime] = field(default_factory=dict)

    def top_k(self, k: int) -> pl.DataFrame:
        """The ``k`` most suspicious transactions, highest score first."""
        return self.scores.sort("score", descending=True, maintain_order=True).head(k)


def _scores(
    bundle: Bundle, feats: pl.DataFrame, watch: _Stopwatch
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Fraud probability and anomaly score of every row, chunk by chunk."""
    n = feats.height
    score = np.empty(n, dtype=np.float64)
    anomaly = np.full(n, np.nan, dtype=np.float64)
    for lo in range(0, n, _SCORE_CHUNK):
        with watch("encode"):
            x = bundle.encode(feats.slice(lo, _SCORE_CHUNK))
        hi = lo + x.shape[0]
        with watch("model"):
            score[lo:hi] = bundle.model.predict_proba(x)
        if bundle.detector is not None:
            with watch("anomaly"):
                anomaly[lo:hi] = bundle.detector.score(x)
    return score, anomaly


def _reasons(
    bundle: Bundle,
    feats: pl.DataFrame,
    rows: npt.NDArray[np.int64],
    n_reasons: int,
    explainer: ExplainMethod,
) -> list[list[Reason]]:
    fs = bundle_feature_set(bundle)
    names = list(bundle.feature_names)
    out: list[list[Reason]] = []
    for start in range(0, len(rows), _REASON_CHUNK):
        part = feats[rows[start : start + _REASON_CHUNK]]
        contrib = bundle.contributions(part, method=explainer)[:, :-1]
        columns = [part.get_column(n).to_list() for n in names]
        out.extend(top_reasons_batch(contrib, names, columns, fs.phrase, k=n_reasons))
    return out


def _scattered(
    name: str, n: int, rows: npt.NDArray[np.int64], values: list[str], fill: str | None
) -> pl.Series:
    """A String column of ``n`` rows holding ``fill`` except ``values`` at ``rows``."""
    column = pl.repeat(fill, n, dtype=pl.String, eager=True).alias(name)
    if rows.size:
        column.scatter(rows, pl.Series(values, dtype=pl.String))
    return column


def _reason_columns(
    n: int, rows: npt.NDArray[np.int64], reasons: list[list[Reason]], n_reasons: int
) -> dict[str, pl.Series]:
    """``reason_1`` .. ``reason_k`` and ``reasons`` (JSON) for ``n`` rows, filled at ``rows``."""
    columns: dict[str, pl.Series] = {}
    for j in range(n_reasons):
        has = np.fromiter((len(rs) > j for rs in reasons), dtype=bool, count=len(reasons))
        phrases = [rs[j].phrase for rs in reasons if len(rs) > j]
        columns[f"reason_{j + 1}"] = _scattered(f"reason_{j + 1}", n, rows[has], phrases, None)
    has_any = np.fromiter((bool(rs) for rs in reasons), dtype=bool, count=len(reasons))
    texts = [json.dumps([r.to_dict() for r in rs]) for rs in reasons if rs]
    columns["reasons"] = _scattered("reasons", n, rows[has_any], texts, "[]")
    return columns


def _summary(data: pl.DataFrame, scores: pl.DataFrame) -> dict[str, Any]:
    counts = dict.fromkeys(_DECISIONS, 0)
    for decision, n in scores.group_by("decision").len().iter_rows():
        counts[str(decision)] = int(n)
    flagged = scores.get_column("decision") != "allow"
    summary: dict[str, Any] = {"rows": scores.height, "decisions": counts}
    if "amount" in data.columns:
        amount = data.get_column("amount")
        summary["amount_total"] = float(amount.sum())
        summary["amount_flagged"] = float(amount.filter(flagged).sum())
    if "is_fraud" in data.columns and data.get_column("is_fraud").null_count() < data.height:
        y = data.get_column("is_fraud").fill_null(0).cast(pl.Int64)
        frauds = int(y.sum())
        caught = int(y.filter(flagged).sum())
        n_flagged = int(flagged.sum())
        summary["labels"] = {
            "frauds": frauds,
            "fraud_rate": frauds / data.height if data.height else None,
            "frauds_flagged": caught,
            "recall_flagged": caught / frauds if frauds else None,
            "precision_flagged": caught / n_flagged if n_flagged else None,
        }
    return summary


def score_frame(
    bundle: Bundle,
    data: pl.DataFrame,
    *,
    history: pl.DataFrame | None = None,
    ruleset: RuleSet | None = None,
    explain: Literal["flagged", "all", "none"] = "flagged",
    explainer: ExplainMethod = "path",
    n_reasons: int = 3,
) -> BatchScores:
    """Score every row of ``data``.

    Parameters
    ----------
    bundle:
        A verified model bundle.
    data:
        Canonical transactions (validated), in any order; output keeps this order.
    history:
        Earlier transactions (labelled or not) that only warm the feature state.
    ruleset:
        Rules and lists; ``None`` means the model and thresholds alone decide.
    explain:
        Rows that get reasons: ``flagged`` (review/decline), ``all`` or ``none``.
    explainer:
        How contributions are computed: ``path`` (default; about the cost of a prediction)
        or ``shap`` (TreeSHAP for tree models, about 100x dearer). See ``docs/models.md``.
    n_reasons:
        Reasons per row at most.

    Raises
    ------
    ConfigError
        ``explainer`` is not ``path`` or ``shap``.
    """
    explainer = check_explain_method(explainer)
    watch = _Stopwatch()
    fs = bundle_feature_set(bundle)
    with watch("features"):
        feats = compute_batch(fs, data, history)
    score, anomaly = _scores(bundle, feats, watch)
    with watch("decisions"):
        extra = [c for c in feats.columns if c not in data.columns]
        frame = pl.concat([data, feats.select(extra)], how="horizontal").with_columns(
            pl.Series("score", score, dtype=pl.Float64)
        )
        decided = decide_frame(frame, bundle.thresholds, ruleset or RuleSet())
        decision = decided.get_column("decision")
        del frame
    with watch("reasons"):
        if explain == "all":
            rows = np.arange(data.height, dtype=np.int64)
        elif explain == "flagged":
            rows = np.flatnonzero((decision != "allow").to_numpy()).astype(np.int64)
        else:
            rows = np.array([], dtype=np.int64)
        reasons = _reasons(bundle, feats, rows, n_reasons, explainer)
    with watch("assemble"):
        reason_cols = _reason_columns(data.height, rows, reasons, n_reasons)
        anomaly_col = pl.Series("anomaly_score", anomaly, dtype=pl.Float64).fill_nan(None)
        scores = pl.DataFrame(
            {
                "transaction_id": data.get_column("transaction_id"),
                "score": pl.Series("score", score, dtype=pl.Float64),
                "anomaly_score": anomaly_col,
                "decision": decision,
                "decided_by": decided.get_column("decided_by"),
                "rules_fired": decided.get_column("rules_fired").list.join(";"),
                **reason_cols,
            }
        ).with_columns(pl.lit(bundle.version, dtype=pl.String).alias("model_version"))
        summary = _summary(data, scores)
    return BatchScores(scores=scores, features=feats, summary=summary, timings=dict(watch.times))
