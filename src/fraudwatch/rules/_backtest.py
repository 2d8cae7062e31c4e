"""Backtest: how each rule and list would have done on labelled history.

One pass over the data computes, for every check (disabled rules included, so a rule
can be judged before it goes live), its hits, precision, recall, the fraud amount it
catches and how it overlaps with the model's flags; a last row sums up the enabled
review and decline checks together.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from fraudwatch.errors import ConfigError, DataValidationError, MissingColumnsError
from fraudwatch.rules._decide import ThresholdsLike
from fraudwatch.rules._ruleset import Rule, RuleSet

__all__ = ["BACKTEST_SCHEMA", "TOTAL_ROW", "backtest_rules"]

TOTAL_ROW: Final = "(total)"
"""Name of the summary row: enabled review and decline checks (lists included) together."""

BACKTEST_SCHEMA: Final[dict[str, pl.DataType]] = {
    "rule": pl.String(),
    "source": pl.String(),
    "action": pl.String(),
    "priority": pl.Int64(),
    "enabled": pl.Boolean(),
    "hits": pl.Int64(),
    "hit_rate": pl.Float64(),
    "frauds": pl.Int64(),
    "false_positives": pl.Int64(),
    "precision": pl.Float64(),
    "recall": pl.Float64(),
    "fraud_amount": pl.Float64(),
    "fraud_amount_share": pl.Float64(),
    "unique_hits": pl.Int64(),
    "model_overlap": pl.Int64(),
    "model_overlap_rate": pl.Float64(),
    "missed_by_model": pl.Int64(),
    "frauds_missed_by_model": pl.Int64(),
    "fraud_amount_missed_by_model": pl.Float64(),
}
"""Columns of the backtest table (documented in docs/rules.md)."""


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or not den:
        return None
    return float(num) / float(den)


def _validate(
    frame: pl.LazyFrame,
    label_column: str,
    amount_column: str,
    score_column: str,
    thresholds: ThresholdsLike | None,
) -> None:
    schema = frame.collect_schema()
    needed = [label_column, amount_column]
    if thresholds is not None:
        needed.append(score_column)
    missing = [c for c in needed if c not in schema]
    if missing:
        hint = "a backtest needs labelled transactions (is_fraud 0/1) with their amount"
        if score_column in missing:
            hint += "; the score column is needed to compare with the model (or drop --model)"
        raise MissingColumnsError(missing, schema.names(), hint=hint)
    if not schema[amount_column].is_numeric():
        raise ConfigError(f"column '{amount_column}' is {schema[amount_column]}, not numeric")
    label = pl.col(label_column)
    checks = frame.select(
        label.is_null().sum().alias("nulls"),
        (label.is_not_null() & ~label.cast(pl.Int64, strict=False).is_in([0, 1]))
        .sum()
        .alias("bad"),
        (
            pl.col(score_column).cast(pl.Float64).is_nan().sum()
            if thresholds is not None
            else pl.lit(0)
        ).alias("nan"),
    ).collect()
    nulls, bad, nan = checks.row(0)
    if nulls:
        raise DataValidationError(
            f"{nulls} row(s) have no label in '{label_column}'; drop unlabelled rows (e.g. "
            "the most recent days, whose labels are not known yet) before a backtest"
        )
    if bad:
        raise DataValidationError(
            f"{bad} row(s) have a label other than 0 or 1 in '{label_column}'; use 1 for "
            "fraud and 0 for legitimate"
        )
    if nan:
        raise ValueError(f"{nan} score(s) are NaN; check the model and its input features")


def backtest_rules(
    ruleset: RuleSet,
    frame: pl.DataFrame | pl.LazyFrame,
    thresholds: ThresholdsLike | None = None,
    *,
    score_column: str = "score",
    label_column: str = "is_fraud",
    amount_column: str = "amount",
) -> pl.DataFrame:
    """Measure every rule and list on labelled transactions.

    Parameters
    ----------
    ruleset:
        The rules to judge (disabled rules are measured too).
    frame:
        Transactions with the features the rules read, the label and the amount, and a
        score column when ``thresholds`` is given.
    thresholds:
        The model's thresholds: a transaction is *flagged by the model* when its score is
        ``>= thresholds.review``. ``None`` leaves the model columns null.
    score_column, label_column, amount_column:
        Column names.

    Returns
    -------
    pl.DataFrame
        One row per check in precedence order, then the ``(total)`` row; columns as in
        :data:`BACKTEST_SCHEMA` (see docs/rules.md). Ratios with a zero denominator are
        null.

    Raises
    ------
    MissingColumnsError
        The label, amount or (with thresholds) score column is absent.
    DataValidationError
        A label is null or not 0/1.
    RuleError
        A field a rule reads is missing or has the wrong type.

    Examples
    --------
    >>> from fraudwatch.rules import load_rules
    >>> rs = load_rules("rules: [{name: big, condition: amount > 100, action: review}]")
    >>> df = pl.DataFrame({"amount": [50.0, 150.0, 300.0], "is_fraud": [0, 1, 0]})
    >>> backtest_rules(rs, df).select("rule", "hits", "precision", "recall").row(0)
    ('big', 2, 0.5, 1.0)
    """
    checks: tuple[Rule, ...] = ruleset.checks
    lazy = ruleset.prepare_frame(frame, checks)
    _validate(lazy, label_column, amount_column, score_column, thresholds)

    hits = [f"__fw_hit_{i}" for i in range(len(checks))]
    fraud = pl.col(label_column).cast(pl.Int64) == 1
    amount = pl.col(amount_column).cast(pl.Float64)
    with_model = thresholds is not None
    flag = (
        (pl.col(score_column).cast(pl.Float64) >= thresholds.review).fill_null(False)
        if thresholds is not None
        else pl.lit(False)
    )
    enabled_hits = [pl.col(h) for r, h in zip(checks, hits, strict=True) if r.enabled]
    flagging = [
        pl.col(h)
        for r, h in zip(checks, hits, strict=True)
        if r.enabled and r.action in ("review", "decline")
    ]
    total_hit = pl.any_horizontal(flagging) if flagging else pl.lit(False)
    n_enabled = (
        pl.sum_horizontal([h.cast(pl.Int32) for h in enabled_hits])
        if enabled_hits
        else pl.lit(0, dtype=pl.Int32)
    )
    prepared = lazy.select(
        [r.condition.to_polars().alias(h) for r, h in zip(checks, hits, strict=True)]
        + [fraud.alias("__fw_fraud"), amount.alias("__fw_amount"), flag.alias("__fw_flag")]
    ).with_columns(total_hit.alias("__fw_total"), n_enabled.alias("__fw_n"))
    f, amt, fl, n_hits = (
        pl.col("__fw_fraud"),
        pl.col("__fw_amount"),
        pl.col("__fw_flag"),
        pl.col("__fw_n"),
    )

    def metrics(h: pl.Expr, key: str, own: pl.Expr | None) -> list[pl.Expr]:
        out = [
            h.sum().alias(f"{key}:hits"),
            (h & f).sum().alias(f"{key}:frauds"),
            pl.when(h & f).then(amt).otherwise(0.0).sum().alias(f"{key}:fraud_amount"),
            (h & fl).sum().alias(f"{key}:overlap"),
            (h & f & ~fl).sum().alias(f"{key}:frauds_missed"),
            pl.when(h & f & ~fl).then(amt).otherwise(0.0).sum().alias(f"{key}:amount_missed"),
        ]
        if own is not None:
            out.append((h & ((n_hits - own) == 0)).sum().alias(f"{key}:unique"))
        return out

    aggs: list[pl.Expr] = [
        pl.len().alias("n"),
        f.sum().alias("total_frauds"),
        pl.when(f).then(amt).otherwise(0.0).sum().alias("total_fraud_amount"),
    ]
    for rule, h in zip(checks, hits, strict=True):
        own = pl.col(h).cast(pl.Int32) if rule.enabled else pl.lit(0, dtype=pl.Int32)
        aggs += metrics(pl.col(h), h, own)
    aggs += metrics(pl.col("__fw_total"), "__fw_total", None)
    stats: dict[str, Any] = prepared.select(aggs).collect().row(0, named=True)

    n = stats["n"]
    total_frauds = stats["total_frauds"]
    total_amount = stats["total_fraud_amount"]
    rows: list[dict[str, Any]] = []
    entries: list[tuple[str, str, str | None, int | None, bool, str]] = [
        (r.name, r.source, r.action, r.priority, r.enabled, h)
        for r, h in zip(checks, hits, strict=True)
    ]
    entries.append((TOTAL_ROW, "total", None, None, True, "__fw_total"))
    for name, source, action, priority, enabled, key in entries:
        n_hit = int(stats[f"{key}:hits"] or 0)
        frauds = int(stats[f"{key}:frauds"] or 0)
        overlap = int(stats[f"{key}:overlap"] or 0)
        unique = stats.get(f"{key}:unique")
        rows.append(
            {
                "rule": name,
                "source": source,
                "action": action,
                "priority": priority,
                "enabled": enabled,
                "hits": n_hit,
                "hit_rate": _ratio(n_hit, n),
                "frauds": frauds,
                "false_positives": n_hit - frauds,
                "precision": _ratio(frauds, n_hit),
                "recall": _ratio(frauds, total_frauds),
                "fraud_amount": float(stats[f"{key}:fraud_amount"] or 0.0),
                "fraud_amount_share": _ratio(stats[f"{key}:fraud_amount"], total_amount),
                "unique_hits": None if unique is None else int(unique),
                "model_overlap": overlap if with_model else None,
                "model_overlap_rate": _ratio(overlap, n_hit) if with_model else None,
                "missed_by_model": n_hit - overlap if with_model else None,
                "frauds_missed_by_model": (
                    int(stats[f"{key}:frauds_missed"] or 0) if with_model else None
                ),
                "fraud_amount_missed_by_model": (
                    float(stats[f"{key}:amount_missed"] or 0.0) if with_model else None
                ),
            }
        )
    return pl.DataFrame(rows, schema=BACKTEST_SCHEMA)
