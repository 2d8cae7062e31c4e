"""Tests of the batch executor: point-in-time convention, windows, labels, bad input."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from feat_streams import T0, frame, mismatches, random_stream, streams, tx
from hypothesis import given, settings

from fraudwatch.errors import FeatureError, MissingColumnsError
from fraudwatch.features import Feature, FeatureSet, compute_batch, default_feature_set

COUNT_1H = FeatureSet((Feature("count", "card", window="1h"),))
SUM_1H = FeatureSet((Feature("sum", "card", "amount", "1h"),))


def _col(fs: FeatureSet, rows: list[dict[str, object]], name: str | None = None) -> list[object]:
    out = compute_batch(fs, frame(rows))
    return out[name or fs.names[0]].to_list()


def test_transaction_is_not_inside_its_own_window() -> None:
    """Check that a card's first transaction sees a count of 0 and the second sees 1."""
    assert _col(COUNT_1H, [tx(0), tx(1)]) == [0.0, 1.0]


def test_window_excludes_its_start() -> None:
    """Check that a transaction exactly one window earlier is outside the window."""
    assert _col(COUNT_1H, [tx(0), tx(60), tx(60 + 1e-6 * 60)]) == [0.0, 0.0, 1.0]


def test_ties_follow_input_order() -> None:
    """Check that among equal timestamps only the rows given earlier count."""
    rows = [tx(5, amount=1.0), tx(5, amount=2.0), tx(5, amount=4.0)]
    assert _col(SUM_1H, rows) == [0.0, 1.0, 3.0]


def test_unsorted_input_is_sorted_stably_and_returned_in_order() -> None:
    """Check that unsorted rows give the same features as sorted ones, in input order."""
    fs = default_feature_set()
    data = random_stream(3, 300, unsorted=True)
    shuffled = compute_batch(fs, data)
    ordered = compute_batch(fs, data.sort("timestamp", maintain_order=True))
    assert shuffled["transaction_id"].to_list() == data["transaction_id"].to_list()
    back = ordered.join(shuffled.select("transaction_id"), on="transaction_id", how="right")
    assert mismatches(fs, shuffled, back.select(shuffled.columns)) == []


def test_history_warms_state_without_output_rows() -> None:
    """Check that history rows count in windows but produce no output rows."""
    history = frame([tx(0, transaction_id="h1"), tx(10, transaction_id="h2")])
    data = frame([tx(20, transaction_id="d1")])
    out = compute_batch(COUNT_1H, data, history=history)
    assert out["transaction_id"].to_list() == ["d1"]
    assert out["tx_count_card_1h"].to_list() == [2.0]


def test_history_sharing_ids_with_data_is_refused() -> None:
    """Check that overlapping history and data raise a FeatureError naming an id."""
    rows = [tx(0, transaction_id="same")]
    with pytest.raises(FeatureError, match=r"share 1 transaction id.*'same'"):
        compute_batch(COUNT_1H, frame(rows), history=frame(rows))


def test_fraud_rate_waits_for_the_label_delay() -> None:
    """Check that a fraud counts in the terminal rate only once its label is known."""
    fs = FeatureSet((Feature("fraud_rate", "terminal", window="1d", delay="1d"),))
    day = 24 * 60
    rows = [
        tx(0, terminal_id="T", is_fraud=1),
        tx(day - 1, terminal_id="T", is_fraud=0),
        tx(day, terminal_id="T", is_fraud=0),
        tx(2 * day - 1, terminal_id="T", is_fraud=0),
        tx(2 * day, terminal_id="T", is_fraud=0),
    ]
    got = _col(fs, rows)
    assert got[0] is None  # nothing older than the delay yet
    assert got[1] is None
    assert got[2] == 1.0  # the fraud at 0 is now known: 1 fraud of 1 transaction
    assert got[3] == 0.5  # transactions 0 and day-1 are in (t-2d, t-1d]
    assert got[4] == 0.0  # the fraud left the window


def test_unknown_labels_count_as_not_fraud() -> None:
    """Check that a null label is a transaction but not a fraud."""
    fs = FeatureSet((Feature("fraud_rate", "terminal", window="1d", delay="1h"),))
    rows = [tx(0, terminal_id="T", is_fraud=None), tx(0, terminal_id="T", is_fraud=1)]
    rows.append(tx(120, terminal_id="T"))
    assert _col(fs, rows)[2] == 0.5


def test_fraud_rate_needs_labels_somewhere() -> None:
    """Check that label features without any is_fraud column raise MissingColumnsError."""
    fs = FeatureSet((Feature("fraud_rate", "terminal", window="1d", delay="1d"),))
    with pytest.raises(MissingColumnsError, match=r"is_fraud.*labelled history"):
        compute_batch(fs, frame([tx(0, terminal_id="T")]))


def test_labels_may_come_from_history_only() -> None:
    """Check that unlabelled data uses the labels of its history."""
    fs = FeatureSet((Feature("fraud_rate", "terminal", window="1d", delay="1h"),))
    history = frame([tx(0, terminal_id="T", is_fraud=1, transaction_id="h")])
    data = frame([tx(120, terminal_id="T", transaction_id="d")])
    assert compute_batch(fs, data, history=history)["fraud_rate_terminal_1d_delay1h"][0] == 1.0


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"amount": float("nan")}, "transaction 't1'.*amount is NaN"),
        ({"amount": -3.0}, "transaction 't1'.*negative"),
        ({"amount": None}, "transaction 't1'.*amount is missing"),
        ({"card_id": None}, "transaction 't1'.*card_id is missing"),
        ({"latitude": 95.0, "longitude": 1.0}, "transaction 't1'.*latitude is out of range"),
        ({"is_fraud": 2}, "transaction 't1'.*is_fraud is not 0 or 1"),
    ],
)
def test_bad_values_name_the_transaction(change: dict[str, object], match: str) -> None:
    """Check that unusable values raise a FeatureError naming the transaction."""
    fs = default_feature_set()
    rows = [
        tx(0, terminal_id="T", is_fraud=0),
        tx(1, **{"transaction_id": "t1", "terminal_id": "T", "is_fraud": 0, **change}),
    ]
    data = frame(rows).with_columns(
        pl.col(c).cast(pl.Float64) for c in ("latitude", "longitude") if c in change
    )
    with pytest.raises(FeatureError, match=match):
        compute_batch(fs.available_for(data.columns)[0], data)


def test_missing_columns_are_named() -> None:
    """Check that a missing input column raises MissingColumnsError with a hint."""
    fs = FeatureSet((Feature("novel", "card", "device", "365d"),))
    with pytest.raises(MissingColumnsError, match=r"device_id.*available_for"):
        compute_batch(fs, frame([tx(0)]))


def test_naive_timestamps_are_refused() -> None:
    """Check that timestamps without a time zone raise a FeatureError with the fix."""
    data = frame([tx(0)]).with_columns(pl.col("timestamp").dt.replace_time_zone(None))
    with pytest.raises(FeatureError, match="no time zone"):
        compute_batch(COUNT_1H, data)


def test_missing_entity_key_gives_null_features() -> None:
    """Check that a row without a device gets null device features and is not counted."""
    fs = FeatureSet((Feature("distinct", "device", "card", "24h"),))
    rows = [
        tx(0, device_id="D"),
        tx(1, device_id=None, card_id="c2"),
        tx(2, device_id="D", card_id="c3"),
    ]
    assert _col(fs, rows) == [0.0, None, 1.0]


def test_novelty_forgets_after_its_horizon() -> None:
    """Check that a merchant unused for longer than the horizon is new again."""
    fs = FeatureSet((Feature("novel", "card", "merchant", "1d"),))
    day = 24 * 60
    rows = [tx(0, merchant_id="M"), tx(10, merchant_id="M"), tx(10 + day, merchant_id="M")]
    rows.append(tx(20 + day, merchant_id=None))
    assert _col(fs, rows) == [1.0, 0.0, 1.0, None]


def test_card_age_restarts_after_a_long_silence() -> None:
    """Check that card age counts from the first transaction after a silence >= horizon."""
    fs = FeatureSet((Feature("age", "card", window="2d"),))
    day = 24 * 60
    rows = [tx(0), tx(day), tx(3 * day), tx(4 * day)]
    assert _col(fs, rows) == [0.0, 1.0, 0.0, 1.0]


def test_zscore_floors_the_standard_deviation() -> None:
    """Check that constant earlier amounts give a finite z-score (std floored at 1)."""
    fs = FeatureSet((Feature("zscore", "card", "amount", "30d"),))
    rows = [tx(0, amount=0.1), tx(1, amount=0.1), tx(2, amount=0.1), tx(3, amount=5.1)]
    got = _col(fs, rows)
    assert got[:2] == [None, None]
    assert got[2] == pytest.approx(0.0, abs=1e-12)
    assert got[3] == pytest.approx(5.0)


def test_ratio_to_mean_is_null_without_history_or_zero_mean() -> None:
    """Check that the amount ratio is null when the card's mean is missing or 0."""
    fs = FeatureSet((Feature("ratio_to_mean", "card", "amount", "30d"),))
    rows = [tx(0, amount=0.0), tx(1, amount=3.0), tx(2, amount=6.0)]
    assert _col(fs, rows) == [None, None, 4.0]


def test_speed_uses_the_previous_located_transaction() -> None:
    """Check that distance and speed skip transactions without a location."""
    fs = FeatureSet(
        (Feature("km_prev", "card", window="365d"), Feature("speed_prev", "card", window="365d"))
    )
    rows = [
        tx(0, latitude=0.0, longitude=0.0),
        tx(30, latitude=None, longitude=None),
        tx(60, latitude=0.0, longitude=1.0),
    ]
    out = compute_batch(fs, frame(rows))
    km = out["km_from_prev_card"].to_list()
    assert km[0] is None
    assert km[1] is None
    assert km[2] == pytest.approx(111.19, abs=0.01)
    assert out["speed_kmh_from_prev_card"][2] == pytest.approx(km[2])  # one hour apart


def test_calendar_features_use_utc() -> None:
    """Check hour, weekday, night and weekend of a known instant (Friday 1 March 2024)."""
    fs = FeatureSet((Feature("hour"), Feature("weekday"), Feature("night"), Feature("weekend")))
    out = compute_batch(fs, frame([tx(6 * 60 + 59), tx(7 * 60 + 24 * 60)])).drop("transaction_id")
    assert out.rows() == [(6.0, 4.0, 1.0, 0.0), (7.0, 5.0, 0.0, 1.0)]


def test_output_dtypes_are_float_and_text() -> None:
    """Check that numeric features are Float64 and categorical ones String."""
    fs = default_feature_set()
    out = compute_batch(fs, random_stream(1, 50))
    assert out.columns == ["transaction_id", *fs.names]
    for name in fs.names:
        assert out.schema[name] == (pl.String if name in fs.categorical else pl.Float64)


def test_passthrough_columns_are_copied() -> None:
    """Check that pass-through columns appear unchanged (NaN as null)."""
    fs = FeatureSet((Feature("hour"),)).with_passthrough(["V1"])
    data = frame([tx(0), tx(1)]).with_columns(pl.Series("V1", [1.5, float("nan")]))
    assert compute_batch(fs, data)["V1"].to_list() == [1.5, None]


def _brute_force(data: pl.DataFrame) -> dict[str, list[object]]:
    """Card count/sum over 1h, distinct merchants over 24h and device novelty, by brute force."""
    rows = data.with_row_index("i").sort("timestamp", maintain_order=True).to_dicts()
    hour, day = timedelta(hours=1), timedelta(days=1)
    out: dict[str, list[object]] = {"count": [None] * len(rows), "sum": [None] * len(rows)}
    out["distinct"] = [None] * len(rows)
    out["novel"] = [None] * len(rows)
    for k, r in enumerate(rows):
        earlier = [e for e in rows[:k] if e["card_id"] == r["card_id"]]
        last_hour = [e for e in earlier if e["timestamp"] > r["timestamp"] - hour]
        last_day = [e for e in earlier if e["timestamp"] > r["timestamp"] - day]
        out["count"][r["i"]] = float(len(last_hour))
        out["sum"][r["i"]] = math.fsum(e["amount"] for e in last_hour)
        out["distinct"][r["i"]] = float(len({e["merchant_id"] for e in last_day}))
        if r["device_id"] is not None:
            used = [e for e in earlier if e["device_id"] == r["device_id"]]
            fresh = not used or r["timestamp"] - used[-1]["timestamp"] >= timedelta(days=365)
            out["novel"][r["i"]] = 1.0 if fresh else 0.0
    return out


@settings(max_examples=60, deadline=None)
@given(streams())
def test_batch_matches_a_brute_force_reference(data: pl.DataFrame) -> None:
    """Check count, sum, distinct and novelty against a direct recomputation."""
    fs = FeatureSet(
        (
            Feature("count", "card", window="1h"),
            Feature("sum", "card", "amount", "1h"),
            Feature("distinct", "card", "merchant", "24h"),
            Feature("novel", "card", "device", "365d"),
        )
    )
    got = compute_batch(fs, data)
    want = _brute_force(data)
    assert got["tx_count_card_1h"].to_list() == want["count"]
    assert got["merchant_distinct_card_24h"].to_list() == want["distinct"]
    assert got["new_device_card"].to_list() == want["novel"]
    for a, b in zip(got["amount_sum_card_1h"].to_list(), want["sum"], strict=True):
        assert math.isclose(a, float(b), rel_tol=1e-12, abs_tol=1e-9)  # type: ignore[arg-type]


def test_window_sums_survive_a_huge_amount_leaving() -> None:
    """Check that a huge amount leaving the window leaves an exact sum behind."""
    rows = [tx(0, amount=1e17), tx(61, amount=0.1), tx(62, amount=0.2), tx(63, amount=0.0)]
    assert _col(SUM_1H, rows)[3] == pytest.approx(0.1 + 0.2, rel=1e-15)


def test_start_of_the_frame_is_t0() -> None:
    """Check the helper's anchor so calendar expectations above stay meaningful."""
    assert T0.weekday() == 4


def test_lazy_input_gives_the_same_table(tmp_path: Path) -> None:
    """Check that a LazyFrame (scan of a file) gives the same table as the eager frame."""
    fs = default_feature_set()
    data = random_stream(9, 200).with_columns(pl.lit(1.0).alias("unused"))
    data.write_parquet(tmp_path / "tx.parquet")
    lazy = compute_batch(fs, pl.scan_parquet(tmp_path / "tx.parquet"))
    assert mismatches(fs, compute_batch(fs, data), lazy) == []


@settings(max_examples=30, deadline=None)
@given(streams())
def test_threads_do_not_change_the_features(data: pl.DataFrame) -> None:
    """Entities computed side by side in threads give exactly the one-thread table."""
    fs = default_feature_set()
    one = compute_batch(fs, data, threads=1)
    assert compute_batch(fs, data, threads=3).equals(one, null_equal=True)


def test_threads_do_not_change_a_long_stream() -> None:
    """The same on a long stream with history, labels and every entity kind."""
    fs = default_feature_set()
    data = random_stream(5, 3000)
    history, new = data.head(1000), data.tail(2000)
    one = compute_batch(fs, new, history, threads=1)
    assert compute_batch(fs, new, history, threads=2).equals(one, null_equal=True)
