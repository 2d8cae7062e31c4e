"""Daily top-k metrics: transaction precision@k and the handbook's card precision@k.

Card precision@k (CP@k) follows the *Reproducible Machine Learning for Credit Card Fraud
Detection* handbook (Le Borgne et al.), chapters 3-5, exactly:

1. A card is *known compromised* on test day ``D`` when one of its transactions, in the
   history or in the test data, is a fraud that happened before ``D - delay`` (midnight of
   day ``D`` minus the label delay). Its transactions of day ``D`` are removed. (The handbook
   removes them when it builds the test set, counting frauds from the start of the training
   window: pass the training and delay windows as ``history`` to match it.)
2. For each test day in increasing order: every remaining card gets its highest score of
   the day, and is compromised that day if any of its transactions that day is a fraud.
   Cards already *detected* on an earlier test day (compromised and in that day's top k)
   are removed, as investigators have blocked them (``remove_detected=True``).
3. The cards are ranked by score, highest first (ties: card id ascending), the top ``k``
   taken, and the day's CP@k is the number of compromised cards among them divided by ``k``
   (by ``k`` even if fewer cards were active).
4. CP@k is the mean over the test days (days with at least one transaction after step 1).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from fraudwatch.errors import ConfigError
from fraudwatch.thresholds._checks import Interval, check_interval
from fraudwatch.thresholds._inputs import (
    day_codes,
    extract_labels,
    extract_scores,
    require_columns,
)

__all__ = [
    "card_precision_at_k",
    "card_precision_at_k_per_day",
    "known_compromised_mask",
    "precision_at_k",
    "precision_at_k_per_day",
    "remove_known_compromised",
]


def _check_k(k: int) -> None:
    check_interval("k", k, Interval(1, None, integer=True), hint="k is how many alerts per day")


def _check_delay(delay: timedelta) -> None:
    if not isinstance(delay, timedelta) or delay < timedelta(0):
        raise ConfigError(f"delay must be a non-negative timedelta (label delay); got {delay!r}")


def _scored_table(frame: pl.DataFrame, score_col: str) -> pl.DataFrame:
    """day (Int64 days since epoch), card (String), y (Boolean), score, timestamp."""
    require_columns(
        frame, ["timestamp", "card_id", "is_fraud", score_col], purpose="card precision@k"
    )
    return pl.DataFrame(
        {
            "day": day_codes(frame),
            "card": frame.get_column("card_id").cast(pl.String),
            "y": extract_labels(frame),
            "score": extract_scores(frame, score_col),
            "timestamp": frame.get_column("timestamp"),
        }
    )


def _day_start(day: pl.Expr, tz: str | None) -> pl.Expr:
    start = day.cast(pl.Int32).cast(pl.Date).cast(pl.Datetime("us"))
    return start.dt.replace_time_zone(tz) if tz else start


def known_compromised_mask(
    frame: pl.DataFrame,
    *,
    delay: timedelta = timedelta(days=7),
    history: pl.DataFrame | None = None,
) -> np.ndarray:
    """Which rows of ``frame`` belong to a card already known compromised on that row's day.

    A card is known compromised on day ``D`` when it had a fraud (in ``history`` or in
    ``frame``) strictly before midnight of ``D`` minus ``delay``.

    Parameters
    ----------
    frame:
        Transactions with ``timestamp``, ``card_id`` and ``is_fraud``.
    delay:
        Label delay: a fraud becomes known this long after its day.
    history:
        Earlier labelled transactions (``timestamp``, ``card_id``, ``is_fraud``).

    Returns
    -------
    numpy.ndarray
        Boolean mask, one value per row of ``frame``.
    """
    _check_delay(delay)
    require_columns(frame, ["timestamp", "card_id", "is_fraud"], purpose="known-card removal")
    tz = getattr(frame.schema["timestamp"], "time_zone", None)
    parts = [frame.select("timestamp", "card_id", "is_fraud")]
    if history is not None and history.height:
        require_columns(
            history, ["timestamp", "card_id", "is_fraud"], purpose="history for known cards"
        )
        parts.append(
            history.select(
                pl.col("timestamp").cast(frame.schema["timestamp"]),
                pl.col("card_id").cast(frame.schema["card_id"]),
                pl.col("is_fraud").cast(frame.schema["is_fraud"]),
            )
        )
    labelled = pl.concat(parts)
    first_fraud = (
        labelled.filter(pl.col("is_fraud").cast(pl.Float64) == 1.0)
        .group_by("card_id")
        .agg(pl.col("timestamp").min().alias("_first_fraud"))
    )
    rows = frame.select("card_id", "timestamp").with_columns(
        _day=pl.Series(day_codes(frame)), _row=pl.int_range(pl.len())
    )
    joined = rows.join(first_fraud, on="card_id", how="left").sort("_row")
    known = joined.select(
        (pl.col("_first_fraud") < _day_start(pl.col("_day"), tz) - pl.lit(delay)).fill_null(False)
    ).to_series()
    return np.asarray(known.to_numpy(), dtype=np.bool_)


def remove_known_compromised(
    frame: pl.DataFrame,
    *,
    delay: timedelta = timedelta(days=7),
    history: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Drop the rows of cards already known compromised on their day (the handbook's test set).

    See :func:`known_compromised_mask`.
    """
    mask = known_compromised_mask(frame, delay=delay, history=history)
    return frame.filter(pl.Series(~mask))


def card_precision_at_k_per_day(
    frame: pl.DataFrame,
    k: int = 100,
    *,
    delay: timedelta = timedelta(days=7),
    history: pl.DataFrame | None = None,
    remove_detected: bool = True,
    score_col: str = "score",
) -> pl.DataFrame:
    """Card precision@k of each test day (the handbook's definition; see the module doc).

    Parameters
    ----------
    frame:
        Scored test transactions: ``timestamp``, ``card_id``, ``is_fraud`` and the score.
    k:
        Cards an investigator can check per day.
    delay:
        Label delay for the known-compromised removal.
    history:
        Earlier labelled transactions (e.g. the training and delay windows).
    remove_detected:
        Remove cards detected in an earlier test day's top k (the handbook does).
    score_col:
        Name of the score column.

    Rows without a ``card_id`` are ignored.

    Returns
    -------
    polars.DataFrame
        One row per test day: ``day`` (Date), ``card_precision``, ``n_cards`` (cards ranked),
        ``n_compromised_cards`` (among them), ``n_detected`` (compromised cards in the top k),
        ``n_known_removed`` (cards removed as known compromised or detected earlier).
    """
    _check_k(k)
    _check_delay(delay)
    require_columns(frame, ["card_id"], purpose="card precision@k")
    frame = frame.filter(pl.col("card_id").is_not_null())  # a row without a card is no card
    table = _scored_table(frame, score_col)
    known = known_compromised_mask(frame, delay=delay, history=history)
    known_cards_per_day = (
        table.filter(pl.Series(known)).group_by("day").agg(pl.col("card").n_unique().alias("n"))
    )
    removed_by_day = dict(
        zip(
            known_cards_per_day.get_column("day").to_list(),
            known_cards_per_day.get_column("n").to_list(),
            strict=True,
        )
    )
    cards = (
        table.filter(pl.Series(~known))
        .group_by("day", "card")
        .agg(pl.col("score").max(), pl.col("y").any())
        # integer card codes in card-id order: the tie-break and a fast "detected" lookup
        .with_columns(code=pl.col("card").rank("dense").cast(pl.Int64) - 1)
        .sort(["day", "score", "code"], descending=[False, True, False])
    )
    days = cards.get_column("day").to_numpy()
    codes = cards.get_column("code").to_numpy()
    ys = cards.get_column("y").to_numpy().astype(bool)
    bounds = np.flatnonzero(np.diff(days)) + 1
    starts = np.concatenate(([0], bounds)).astype(np.int64)
    ends = np.concatenate((bounds, [days.size])).astype(np.int64)
    detected = np.zeros(int(codes.max()) + 1 if codes.size else 0, dtype=bool)
    rows: list[dict[str, object]] = []
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        if hi <= lo:  # no rows at all
            continue
        day_codes_ = codes[lo:hi]
        keep = ~detected[day_codes_]
        ranked_codes, ranked_y = day_codes_[keep], ys[lo:hi][keep]
        hits = ranked_codes[:k][ranked_y[:k]]
        day = int(days[lo])
        rows.append(
            {
                "day": day,
                "card_precision": hits.size / k,
                "n_cards": int(ranked_codes.size),
                "n_compromised_cards": int(ranked_y.sum()),
                "n_detected": int(hits.size),
                "n_known_removed": int(removed_by_day.get(day, 0)) + int((~keep).sum()),
            }
        )
        if remove_detected:
            detected[hits] = True
    schema = {
        "day": pl.Int64,
        "card_precision": pl.Float64,
        "n_cards": pl.Int64,
        "n_compromised_cards": pl.Int64,
        "n_detected": pl.Int64,
        "n_known_removed": pl.Int64,
    }
    out = pl.DataFrame(rows, schema=schema, orient="row")
    return out.with_columns(pl.col("day").cast(pl.Int32).cast(pl.Date))


def card_precision_at_k(
    frame: pl.DataFrame,
    k: int = 100,
    *,
    delay: timedelta = timedelta(days=7),
    history: pl.DataFrame | None = None,
    remove_detected: bool = True,
    score_col: str = "score",
) -> float | None:
    """Card precision@k averaged over test days (the handbook's CP@k); ``None`` with no days.

    Parameters are those of :func:`card_precision_at_k_per_day`.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t = datetime(2018, 8, 8, 10, tzinfo=UTC)
    >>> df = pl.DataFrame({"timestamp": [t, t, t], "card_id": ["a", "b", "c"],
    ...                    "is_fraud": [1, 0, 0], "score": [0.9, 0.8, 0.1]})
    >>> card_precision_at_k(df, k=2)
    0.5
    """
    per_day = card_precision_at_k_per_day(
        frame,
        k,
        delay=delay,
        history=history,
        remove_detected=remove_detected,
        score_col=score_col,
    )
    if per_day.height == 0:
        return None
    return float(per_day.get_column("card_precision").mean())  # type: ignore[arg-type]


def precision_at_k_per_day(
    frame: pl.DataFrame, k: int = 100, *, score_col: str = "score"
) -> pl.DataFrame:
    """Transaction precision@k of each day: frauds among the day's ``k`` highest scores / ``k``.

    Ties are broken by row order. Returns ``day`` (Date), ``precision``, ``n_transactions``,
    ``n_fraud_in_top_k``.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t = datetime(2024, 1, 1, tzinfo=UTC)
    >>> df = pl.DataFrame({"timestamp": [t] * 3, "is_fraud": [1, 0, 1], "score": [0.9, 0.8, 0.1]})
    >>> precision_at_k_per_day(df, k=2)["precision"].to_list()
    [0.5]
    """
    _check_k(k)
    require_columns(frame, ["timestamp", "is_fraud", score_col], purpose="precision@k per day")
    table = pl.DataFrame(
        {
            "day": day_codes(frame),
            "y": extract_labels(frame),
            "score": extract_scores(frame, score_col),
        }
    ).with_row_index("_row")
    ranked = table.sort(["day", "score", "_row"], descending=[False, True, False]).with_columns(
        _rank=pl.int_range(pl.len()).over("day")
    )
    out = (
        ranked.group_by("day")
        .agg(
            n_transactions=pl.len(),
            n_fraud_in_top_k=pl.col("y").filter(pl.col("_rank") < k).sum(),
        )
        .sort("day")
        .with_columns(
            precision=pl.col("n_fraud_in_top_k") / k,
            day=pl.col("day").cast(pl.Int32).cast(pl.Date),
        )
    )
    return out.select(
        "day",
        "precision",
        pl.col("n_transactions").cast(pl.Int64),
        pl.col("n_fraud_in_top_k").cast(pl.Int64),
    )


def precision_at_k(frame: pl.DataFrame, k: int = 100, *, score_col: str = "score") -> float | None:
    """Mean over days of :func:`precision_at_k_per_day`; ``None`` for an empty frame."""
    per_day = precision_at_k_per_day(frame, k, score_col=score_col)
    if per_day.height == 0:
        return None
    return float(per_day.get_column("precision").mean())  # type: ignore[arg-type]
