"""Summaries of simulated (or any labelled) transactions per fraud scenario."""

from __future__ import annotations

import polars as pl

from fraudwatch.errors import MissingColumnsError

__all__ = ["scenario_stats"]

_NEEDED = ("card_id", "is_fraud", "fraud_scenario")


def scenario_stats(df: pl.DataFrame) -> pl.DataFrame:
    """Count transactions, fraudulent transactions and cards per ``fraud_scenario``.

    Parameters
    ----------
    df:
        Transactions with ``card_id``, ``is_fraud`` and ``fraud_scenario``.

    Returns
    -------
    polars.DataFrame
        One row per scenario (``legit`` first, then by number of fraudulent transactions)
        with ``transactions``, ``fraud_transactions``, ``cards`` (distinct cards),
        ``share_of_fraud`` (its share of all fraudulent transactions; 0 for ``legit``) and
        ``share_of_transactions``.

    Raises
    ------
    MissingColumnsError
        A needed column is absent.

    Examples
    --------
    >>> df = pl.DataFrame({"card_id": ["a", "a", "b"], "is_fraud": [0, 1, 1],
    ...                    "fraud_scenario": ["legit", "card_testing", "card_testing"]})
    >>> scenario_stats(df)["share_of_fraud"].to_list()
    [0.0, 1.0]
    """
    missing = [c for c in _NEEDED if c not in df.columns]
    if missing:
        raise MissingColumnsError(
            missing, df.columns, hint="scenario_stats needs labelled transactions"
        )
    total = df.height
    fraud_total = int(df["is_fraud"].cast(pl.Int64).sum()) if total else 0
    out = (
        df.group_by("fraud_scenario")
        .agg(
            pl.len().cast(pl.Int64).alias("transactions"),
            pl.col("is_fraud").cast(pl.Int64).sum().alias("fraud_transactions"),
            pl.col("card_id").n_unique().cast(pl.Int64).alias("cards"),
        )
        .with_columns(
            (pl.col("fraud_transactions") / max(fraud_total, 1)).alias("share_of_fraud"),
            (pl.col("transactions") / max(total, 1)).alias("share_of_transactions"),
        )
        .sort(
            [pl.col("fraud_scenario") != "legit", "fraud_transactions", "fraud_scenario"],
            descending=[False, True, False],
        )
    )
    return out
