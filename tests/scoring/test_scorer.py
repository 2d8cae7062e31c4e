"""Tests of the scoring core: one transaction at a time and whole frames, with the same answers."""

from __future__ import annotations

import copy
import itertools
import json

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudwatch.features import MemoryStateStore
from fraudwatch.models import AnomalyDetector
from fraudwatch.registry import Bundle
from fraudwatch.rules import load_rules
from fraudwatch.scoring import Scorer, score_frame


@pytest.fixture(scope="module")
def recent(sim_data: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(history, last days to score) split of the simulated data."""
    cut = (
        sim_data["timestamp"].max()
        - (sim_data["timestamp"].max() - sim_data["timestamp"].min()) * 0.2
    )  # type: ignore[operator]
    return sim_data.filter(pl.col("timestamp") < cut), sim_data.filter(pl.col("timestamp") >= cut)


def _replay(scorer: Scorer, history: pl.DataFrame, data: pl.DataFrame) -> list[object]:
    for tx in history.to_dicts():
        scorer.features_one(tx)
    return [scorer.score_one(tx) for tx in data.to_dicts()]


@pytest.mark.slow
def test_online_equals_batch(
    small_bundle: Bundle, recent: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Check that scoring one at a time after the history gives the batch scores and decisions."""
    history, data = recent
    batch = score_frame(small_bundle, data, history=history).scores
    online = _replay(Scorer(small_bundle, MemoryStateStore()), history, data)
    np.testing.assert_allclose([r.score for r in online], batch["score"].to_numpy(), atol=1e-12)  # type: ignore[attr-defined]
    assert [r.decision for r in online] == batch["decision"].to_list()  # type: ignore[attr-defined]
    flagged = [r for r in online if r.decision != "allow"]  # type: ignore[attr-defined]
    assert flagged, "the model should flag some of the simulated fraud"
    by_id = {row["transaction_id"]: row for row in batch.to_dicts()}
    for r in flagged:
        assert [x.phrase for x in r.reasons] == [  # type: ignore[attr-defined]
            x["phrase"]
            for x in json.loads(by_id[r.transaction_id]["reasons"])  # type: ignore[attr-defined]
        ]


def test_flagged_only_explanations(
    small_bundle: Bundle, recent: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Check that with explain='flagged' allowed rows carry no reasons and flagged rows do."""
    history, data = recent
    scores = score_frame(small_bundle, data, history=history, explain="flagged").scores
    allowed = scores.filter(pl.col("decision") == "allow")
    flagged = scores.filter(pl.col("decision") != "allow")
    assert allowed["reason_1"].null_count() == allowed.height
    assert flagged.height > 0
    assert flagged["reason_1"].null_count() < flagged.height


def test_reasons_are_the_largest_contributions(
    small_bundle: Bundle, recent: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Check that a row's reasons are its top positive model contributions, in order."""
    history, data = recent
    res = score_frame(small_bundle, data, history=history, explain="all")
    i = int(np.argmax(res.scores["score"].to_numpy()))
    contrib = small_bundle.contributions(res.features[i : i + 1])[0, :-1]
    names = list(small_bundle.feature_names)
    expected = [names[j] for j in np.argsort(-contrib) if contrib[j] > 0][:3]
    got = [r["feature"] for r in json.loads(res.scores["reasons"][i])]
    assert got == expected


def test_rule_overrides_model_in_both_paths(
    small_bundle: Bundle, recent: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Check that a decline rule decides its rows in batch and online alike and is named."""
    history, data = recent
    limit = float(data["amount"].quantile(0.9))  # type: ignore[arg-type]
    rules = load_rules(
        f"rules: [{{name: big_amount, condition: amount > {limit}, action: decline, priority: 1}}]"
    )
    batch = score_frame(small_bundle, data, history=history, ruleset=rules).scores
    big = data["amount"] > limit
    assert set(batch.filter(big)["decision"].to_list()) == {"decline"}
    assert all("big_amount" in f for f in batch.filter(big)["rules_fired"].to_list())
    scorer = Scorer(small_bundle, MemoryStateStore(), rules)
    online = _replay(scorer, history, data)
    assert [r.decision for r in online] == batch["decision"].to_list()  # type: ignore[attr-defined]


def test_summary_counts(small_bundle: Bundle, recent: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """Check that the summary's decision counts add up and its recall matches the labels."""
    history, data = recent
    res = score_frame(small_bundle, data, history=history)
    s = res.summary
    assert sum(s["decisions"].values()) == data.height
    flagged = res.scores["decision"] != "allow"
    frauds = data["is_fraud"].cast(pl.Int64)
    assert s["labels"]["frauds_flagged"] == int(frauds.filter(flagged).sum())
    assert s["amount_flagged"] == pytest.approx(float(data["amount"].filter(flagged).sum()))


def test_timings_reported(small_bundle: Bundle, sim_data: pl.DataFrame) -> None:
    """Check that one score reports the time of every stage."""
    result = Scorer(small_bundle, MemoryStateStore()).score_one(sim_data.row(0, named=True))
    assert set(result.timings_us) == {"features", "model", "rules", "reasons"}
    assert all(v >= 0 for v in result.timings_us.values())


def test_unknown_explain_mode_rejected(small_bundle: Bundle) -> None:
    """Check that a misspelt explain mode is refused with the allowed values."""
    with pytest.raises(ValueError, match="flagged, all, none"):
        Scorer(small_bundle, MemoryStateStore(), explain="some")  # type: ignore[arg-type]


def test_snapshot_warm_start_equals_replay(
    small_bundle: Bundle, recent: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Check that a scorer warmed from a history snapshot scores like one that replayed it."""
    from fraudwatch.features import build_snapshot

    history, data = recent
    warm = Scorer(small_bundle, MemoryStateStore())
    warm.load_snapshot(build_snapshot(small_bundle.feature_set, history))
    replayed = _replay(Scorer(small_bundle, MemoryStateStore()), history, data.head(300))
    got = [warm.score_one(tx).score for tx in data.head(300).to_dicts()]
    np.testing.assert_allclose(got, [r.score for r in replayed], atol=1e-12)  # type: ignore[attr-defined]


def test_snapshot_of_other_feature_set_refused(
    small_bundle: Bundle, recent: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    """Check that a snapshot built for another feature set is refused, not silently cold."""
    from fraudwatch.errors import FeatureError
    from fraudwatch.features import build_snapshot, default_feature_set

    other = default_feature_set().select(["amount", "tx_count_card_1h"])
    snap = build_snapshot(other, recent[0])
    with pytest.raises(FeatureError, match="snapshot was built for feature set"):
        Scorer(small_bundle, MemoryStateStore()).load_snapshot(snap)


def test_scorer_prepares_the_detector_row_predictor(small_bundle: Bundle) -> None:
    """Check that a new Scorer builds the detector's one-row predictor (not the first request)."""
    assert small_bundle.detector is not None
    fresh = AnomalyDetector.from_files(small_bundle.detector.to_files())
    assert "_native" not in vars(fresh)
    bundle = copy.copy(small_bundle)
    bundle.detector = fresh
    Scorer(bundle, MemoryStateStore())
    assert vars(fresh).get("_native") is not None


def test_scorer_prepares_the_model_row_predictor(small_bundle: Bundle) -> None:
    """Check that a new Scorer builds the model's one-row predictor (not the first request)."""
    model = type(small_bundle.model).from_files(small_bundle.model.to_files())
    assert "_single" not in vars(model)
    bundle = copy.copy(small_bundle)
    bundle.model = model
    Scorer(bundle, MemoryStateStore())
    assert vars(model)["_single"][1] is not None


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=1, max_value=119), max_size=12, unique=True))
def test_groups_score_like_one_at_a_time(
    small_bundle: Bundle, sim_data: pl.DataFrame, cuts: list[int]
) -> None:
    """Check that scoring a stream in groups of any sizes equals scoring it one by one."""
    # a few cards' transactions, so that a group often holds several of one card
    cards = sim_data["card_id"].unique(maintain_order=True).head(8)
    rows = sim_data.filter(pl.col("card_id").is_in(cards.implode())).head(120).to_dicts()
    one = Scorer(small_bundle, MemoryStateStore(), explain="all")
    expected = [one.score_one(tx) for tx in rows]
    grouped = Scorer(small_bundle, MemoryStateStore(), explain="all")
    got = []
    bounds = [0, *sorted(cuts), len(rows)]
    for a, b in itertools.pairwise(bounds):
        got.extend(grouped.score_many(rows[a:b]))
    assert [r.transaction_id for r in got] == [r.transaction_id for r in expected]
    assert [r.score for r in got] == [r.score for r in expected]
    assert [r.anomaly_score for r in got] == [r.anomaly_score for r in expected]
    assert [r.decision for r in got] == [r.decision for r in expected]
    assert [r.reasons for r in got] == [r.reasons for r in expected]
    assert all(set(r.timings_us) == {"features", "model", "rules", "reasons"} for r in got)


def test_group_with_a_bad_field_records_nothing(
    small_bundle: Bundle, sim_data: pl.DataFrame
) -> None:
    """Check that a group with one unusable transaction is refused before any is recorded."""
    from fraudwatch.errors import FeatureError

    rows = sim_data.head(6).to_dicts()
    store = MemoryStateStore()
    scorer = Scorer(small_bundle, store)
    scorer.score_many(rows[:3])
    plan = scorer._online.plan
    events = store.event_count(plan)
    bad = {**rows[4], "amount": float("nan")}
    with pytest.raises(FeatureError, match="amount"):
        scorer.score_many([rows[3], bad, rows[5]])
    assert store.event_count(plan) == events
    assert scorer.score_many([]) == []
