"""Score a whole frame of transactions: the batch path of the scoring core.

Features come from the batch executor (point-in-time correct, optionally warmed by a history),
scores from the bundle, decisions from :func:`fraudwatch.rules.decide_frame` (the vectorised
twin of the real-time decision), and reasons from the model's own contributions (TreeSHAP
for tree models), computed for flagged rows only by default because they cost about a
hundred predictions each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from fraudwatch.features import compute_batch
from fraudwatch.registry import Bundle
from fraudwatch.rules import RuleSet, decide_frame
from fraudwatch.scoring._scorer import bundle_feature_set
from fraudwatch.scoring.reasons import Reason, top_reasons_batch

__all__ = ["BatchScores", "score_frame"]

_REASON_CHUNK = 20_000
_DECISIONS = ("allow", "review", "decline")


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
    """

    scores: pl.DataFrame
    features: pl.DataFrame
    summary: dict[str, Any]

    def top_k(self, k: int) -> pl.DataFrame:
        """The ``k`` most suspicious transactions, highest score first."""
        return self.scores.sort("score", descending=True, maintain_order=True).head(k)


def _reason_columns(
    bundle: Bundle,
    feats: pl.DataFrame,
    rows: np.ndarray,
    n_reasons: int,
) -> list[list[Reason]]:
    fs = bundle_feature_set(bundle)
    names = list(bundle.feature_names)
    out: list[list[Reason]] = []
    for start in range(0, len(rows), _REASON_CHUNK):
        part = feats[rows[start : start + _REASON_CHUNK]]
        contrib = np.asarray(bundle.contributions(part), dtype=np.float64)[:, :-1]
        columns = [part.get_column(n).to_list() for n in names]
        out.extend(top_reasons_batch(contrib, names, columns, fs.phrase, k=n_reasons))
    return out


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
    n_reasons:
        Reasons per row at most.
    """
    fs = bundle_feature_set(bundle)
    feats = compute_batch(fs, data, history)
    score, anomaly = bundle.score(feats)
    extra = [c for c in feats.columns if c not in data.columns]
    frame = pl.concat([data, feats.select(extra)], how="horizontal").with_columns(
        pl.Series("score", score, dtype=pl.Float64)
    )
    decided = decide_frame(frame, bundle.thresholds, ruleset or RuleSet())
    decision = decided.get_column("decision")
    if explain == "all":
        rows = np.arange(data.height)
    elif explain == "flagged":
        rows = np.flatnonzero((decision != "allow").to_numpy())
    else:
        rows = np.array([], dtype=np.int64)
    reasons_of: list[list[Reason]] = [[] for _ in range(data.height)]
    for i, rs in zip(rows.tolist(), _reason_columns(bundle, feats, rows, n_reasons), strict=True):
        reasons_of[i] = rs
    reason_cols = {
        f"reason_{j + 1}": pl.Series(
            [rs[j].phrase if len(rs) > j else None for rs in reasons_of], dtype=pl.String
        )
        for j in range(n_reasons)
    }
    reasons_json = pl.Series(
        "reasons",
        [json.dumps([r.to_dict() for r in rs]) if rs else "[]" for rs in reasons_of],
        dtype=pl.String,
    )
    anomaly_col = pl.Series("anomaly_score", anomaly, dtype=pl.Float64).fill_nan(None)
    scores = pl.DataFrame(
        {
            "transaction_id": data.get_column("transaction_id"),
            "score": frame.get_column("score"),
            "anomaly_score": anomaly_col,
            "decision": decision,
            "decided_by": decided.get_column("decided_by"),
            "rules_fired": decided.get_column("rules_fired").list.join(";"),
            **reason_cols,
            "reasons": reasons_json,
        }
    ).with_columns(pl.lit(bundle.version, dtype=pl.String).alias("model_version"))
    return BatchScores(scores=scores, features=feats, summary=_summary(data, scores))
