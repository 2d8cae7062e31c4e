"""Tests of feature declarations and feature sets: names, hashes, availability, phrases."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fraudwatch.features as features
from fraudwatch.errors import ConfigError, FeatureError
from fraudwatch.features import Feature, FeatureSet, default_feature_set, parse_duration

HANDBOOK_COLUMNS = ["transaction_id", "timestamp", "card_id", "amount", "terminal_id", "is_fraud"]


def test_public_surface_is_pinned() -> None:
    """Check that fraudwatch.features exports exactly the documented names."""
    assert sorted(features.__all__) == sorted(
        [
            "DEFAULT_HORIZON",
            "ENTITIES",
            "KINDS",
            "VALUES",
            "Feature",
            "FeatureSet",
            "MemoryStateStore",
            "OnlineExecutor",
            "RedisStateStore",
            "StateSnapshot",
            "StateStore",
            "build_snapshot",
            "compute_batch",
            "default_feature_set",
            "parse_duration",
        ]
    )


@pytest.mark.parametrize(
    ("feature", "name"),
    [
        (Feature("sum", "card", "amount", "24h"), "amount_sum_card_24h"),
        (Feature("count", "card", window="1h"), "tx_count_card_1h"),
        (Feature("count", "terminal", window="7d", delay="7d"), "tx_count_terminal_7d_delay7d"),
        (
            Feature("fraud_rate", "terminal", window="7d", delay="7d"),
            "fraud_rate_terminal_7d_delay7d",
        ),
        (Feature("distinct", "device", "card", "24h"), "card_distinct_device_24h"),
        (
            Feature("count_below", "card", "amount", "1h", threshold=2.5),
            "amount_under_2p5_count_card_1h",
        ),
        (Feature("novel", "card", "device", "365d"), "new_device_card"),
        (Feature("novel", "card", "device", "90d"), "new_device_card_90d"),
        (Feature("since_prev", "card", window="365d"), "seconds_since_prev_card"),
        (Feature("value", value="V1"), "V1"),
    ],
)
def test_names_derive_from_definitions(feature: Feature, name: str) -> None:
    """Check that a feature's name is derived from its declaration."""
    assert feature.name == name


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "median", "entity": "card"}, "unknown feature kind 'median'"),
        ({"kind": "count", "entity": "planet", "window": "1h"}, "needs an entity"),
        ({"kind": "count", "entity": "card"}, "needs a window"),
        ({"kind": "count", "entity": "card", "window": "1 hour"}, "invalid duration '1 hour'"),
        ({"kind": "sum", "entity": "card", "value": "latitude", "window": "1h"}, "value 'amount'"),
        ({"kind": "fraud_rate", "entity": "terminal", "window": "7d"}, "needs a label delay"),
        ({"kind": "hour", "entity": "card"}, "takes no entity"),
        ({"kind": "count_below", "entity": "card", "value": "amount", "window": "1h"}, "threshold"),
        ({"kind": "distinct", "entity": "card", "value": "card", "window": "1h"}, "its own entity"),
        (
            {"kind": "sum", "entity": "card", "value": "amount", "window": "1h", "delay": "1d"},
            "delay",
        ),
    ],
)
def test_invalid_definitions_are_refused(kwargs: dict[str, object], match: str) -> None:
    """Check that an invalid declaration raises a ConfigError saying what to change."""
    with pytest.raises(ConfigError, match=match):
        Feature(**kwargs)  # type: ignore[arg-type]


def test_default_set_covers_the_issue_list() -> None:
    """Check that the default set has every feature family the platform promises."""
    names = set(default_feature_set().names)
    for w in ("1h", "24h", "7d", "30d"):
        assert {f"tx_count_card_{w}", f"amount_sum_card_{w}", f"amount_mean_card_{w}"} <= names
    for entity in ("merchant", "terminal"):
        for w in ("1d", "7d", "30d"):
            assert f"tx_count_{entity}_{w}" in names
            assert f"fraud_rate_{entity}_{w}_delay7d" in names
    assert {
        "amount_ratio_mean_card_30d",
        "amount_zscore_card_30d",
        "seconds_since_prev_card",
        "merchant_distinct_card_1h",
        "merchant_distinct_card_24h",
        "amount_under_5_count_card_1h",
        "card_age_days",
        "new_merchant_card",
        "new_device_card",
        "new_ip_prefix_card",
        "new_country_card",
        "km_from_prev_card",
        "speed_kmh_from_prev_card",
        "km_from_usual_card_30d",
        "card_distinct_device_24h",
        "card_distinct_ip_24h",
        "hour_of_day",
        "day_of_week",
        "is_night",
        "is_weekend",
        "channel",
        "merchant_category",
    } <= names


def test_label_delay_shifts_the_fraud_rates() -> None:
    """Check that default_feature_set's label delay is the fraud rates' delay."""
    fs = default_feature_set(label_delay=timedelta(days=3))
    assert "fraud_rate_terminal_7d_delay3d" in fs
    assert fs.label_delay == timedelta(days=3)
    assert fs.hash != default_feature_set().hash


def test_categorical_features_are_listed() -> None:
    """Check that categorical lists exactly the category features."""
    assert default_feature_set().categorical == ["channel", "merchant_category"]


def test_hash_is_stable_across_processes() -> None:
    """Check that the set's hash is the same in a fresh interpreter."""
    code = "from fraudwatch.features import default_feature_set; print(default_feature_set().hash)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == default_feature_set().hash


def test_hash_ignores_phrases_but_not_windows() -> None:
    """Check that rewording a phrase keeps the hash while changing a window does not."""
    base = FeatureSet((Feature("count", "card", window="1h"),))
    reworded = FeatureSet((Feature("count", "card", window="1h", phrase="{value} recent"),))
    wider = FeatureSet((Feature("count", "card", window="2h"),))
    assert reworded.hash == base.hash
    assert wider.hash != base.hash


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 46), min_size=1, max_size=12, unique=True))
def test_dict_round_trip_keeps_hash_and_order(picks: list[int]) -> None:
    """Check that to_dict/from_dict through JSON preserves names, order and hash."""
    full = default_feature_set()
    fs = full.select([full.names[i] for i in picks])
    back = FeatureSet.from_dict(json.loads(json.dumps(fs.to_dict())))
    assert back.names == fs.names
    assert back.hash == fs.hash


def test_edited_definitions_fail_the_hash_check() -> None:
    """Check that a manifest whose definitions were edited is refused."""
    d = default_feature_set().to_dict()
    d["features"][1]["window"] = "2h"
    with pytest.raises(FeatureError, match="hash mismatch"):
        FeatureSet.from_dict(d)


def test_duplicate_features_are_refused() -> None:
    """Check that a set cannot hold the same feature twice."""
    f = Feature("hour")
    with pytest.raises(ConfigError, match="appears twice"):
        FeatureSet((f, f))


def test_available_for_drops_features_missing_inputs() -> None:
    """Check that features needing absent columns are left out with the reason."""
    fs, dropped = default_feature_set().available_for(HANDBOOK_COLUMNS)
    reasons = dict(dropped)
    assert "new_device_card" not in fs
    assert reasons["new_device_card"] == "needs column device_id"
    assert reasons["km_from_prev_card"] == "needs columns latitude, longitude"
    assert {"tx_count_card_24h", "fraud_rate_terminal_7d_delay7d", "is_weekend"} <= set(fs.names)
    assert set(fs.names) | set(reasons) == set(default_feature_set().names)
    assert fs.required_columns == [c for c in fs.required_columns if c in HANDBOOK_COLUMNS]


def test_available_for_without_basics_is_an_error() -> None:
    """Check that a data set without transaction_id/timestamp gets a clear error."""
    with pytest.raises(FeatureError, match="transaction_id and timestamp"):
        default_feature_set().available_for(["card_id", "amount"])


def test_passthrough_columns_are_appended() -> None:
    """Check that with_passthrough appends numeric columns as features."""
    fs = default_feature_set().with_passthrough(["V1", "V2"])
    assert fs.names[-2:] == ["V1", "V2"]
    assert "V1" in fs.required_columns


def test_passthrough_of_a_text_column_is_refused() -> None:
    """Check that a canonical text column cannot be passed through."""
    with pytest.raises(ConfigError, match="non-numeric"):
        default_feature_set().with_passthrough(["card_id"])


@pytest.mark.parametrize(
    ("name", "value", "phrase"),
    [
        ("amount_ratio_mean_card_30d", 8.2, "amount 8.2x this card's 30-day average"),
        ("tx_count_card_1h", 3.0, "3 transactions on this card in the last hour"),
        ("new_device_card", 1.0, "first time this card uses this device"),
        ("new_device_card", 0.0, "this card has used this device before"),
        ("fraud_rate_terminal_7d_delay7d", 0.25, "25.0% of this terminal's transactions"),
        ("seconds_since_prev_card", None, "no earlier transaction of this card"),
        # a card-not-present payment has no location even when the card has history
        ("speed_kmh_from_prev_card", None, "no location to compare with this card's previous"),
        ("km_from_prev_card", None, "no location to compare with this card's previous"),
    ],
)
def test_phrases_explain_values(name: str, value: object, phrase: str) -> None:
    """Check that phrase() turns a value into the human explanation."""
    assert default_feature_set().phrase(name, value).startswith(phrase)


def test_every_default_feature_has_a_definition_and_phrases() -> None:
    """Check that every default feature can be described and explained, with or without value."""
    fs = default_feature_set()
    for f in fs:
        assert f.describe()
        assert fs.phrase(f.name, "x" if f.categorical else 1.0)
        assert fs.phrase(f.name, None)


def test_phrase_of_unknown_feature_names_it() -> None:
    """Check that asking for an unknown feature's phrase raises a FeatureError naming it."""
    with pytest.raises(FeatureError, match="no feature named 'nope'"):
        default_feature_set().phrase("nope", 1)


@pytest.mark.parametrize(("text", "hours"), [("1h", 1), ("24h", 24), ("7d", 168), ("90m", 1.5)])
def test_durations_parse(text: str, hours: float) -> None:
    """Check that duration texts parse to the right span."""
    assert parse_duration(text) == timedelta(hours=hours)


def test_docs_list_every_default_feature() -> None:
    """Check that docs/features.md lists every feature of the default set."""
    docs = (Path(__file__).parents[2] / "docs" / "features.md").read_text(encoding="utf-8")
    missing = [n for n in default_feature_set().names if f"`{n}`" not in docs]
    assert missing == []
