"""Tests of the handbook benchmark's protocol pieces on small synthetic frames.

The benchmark lives in ``benchmarks/`` (not a package): its modules are loaded by path.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.errors import ConfigError
from fraudwatch.evaluation import Fold, Window, average_precision, card_precision_at_k
from fraudwatch.features import Feature, FeatureSet, compute_batch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


hp = _load("handbook_protocol")
hb = _load("handbook")


# ----------------------------------------------------------------------------- helpers
def _tx(rows: Sequence[tuple[str, datetime, float, int]]) -> pl.DataFrame:
    """Canonical rows from (card, time, amount, is_fraud); terminal = card's first letter."""
    return pl.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(len(rows))],
            "timestamp": [r[1] for r in rows],
            "card_id": [r[0] for r in rows],
            "customer_id": [r[0] for r in rows],
            "terminal_id": [r[0][:1] for r in rows],
            "merchant_id": [r[0][:1] for r in rows],
            "amount": [r[2] for r in rows],
            "is_fraud": [r[3] for r in rows],
        },
        schema_overrides={
            "timestamp": pl.Datetime("us", "UTC"),
            "is_fraud": pl.Int8,
            "amount": pl.Float64,
        },
    )


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _synthetic(seed: int, start: date, days: int, cards: int = 40) -> pl.DataFrame:
    """A labelled stream: frauds are amounts about 5x the card's usual amount."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, datetime, float, int]] = []
    usual = rng.uniform(5, 100, size=cards)
    t0 = datetime(start.year, start.month, start.day, tzinfo=UTC)
    for c in range(cards):
        n = int(rng.integers(days, 3 * days))
        offsets = np.sort(rng.uniform(0, days * 86400, size=n))
        for off in offsets:
            fraud = int(rng.random() < 0.03)
            amount = max(0.0, rng.normal(usual[c], usual[c] / 4)) * (5.0 if fraud else 1.0)
            rows.append((f"c{c:03d}", t0 + timedelta(seconds=float(off)), round(amount, 2), fraud))
    rows.sort(key=lambda r: r[1])
    return _tx(rows)


# ----------------------------------------------------------------------------- folds
def test_protocol_a_split_is_the_handbooks() -> None:
    """Check that protocol A trains 07-25..07-31, waits 7 days and tests 08-08..08-14."""
    f = hp.protocol_a_fold()
    assert (f.train.start, f.delay.start, f.test.start) == (
        date(2018, 7, 25),
        date(2018, 8, 1),
        date(2018, 8, 8),
    )
    assert (f.train.days, f.delay.days, f.test.days) == (7, 7, 7)
    assert f.test.end == date(2018, 8, 15)


def test_protocol_b_test_folds_are_the_handbooks() -> None:
    """Check that protocol B's test folds train from 07-25, 08-01, 08-08, 08-15."""
    test = hp.protocol_folds("B")["test"]
    assert sorted(f.train.start for f in test) == [
        date(2018, 7, 25),
        date(2018, 8, 1),
        date(2018, 8, 8),
        date(2018, 8, 15),
    ]
    assert min(f.test.start for f in test) == date(2018, 8, 8)
    assert max(f.test.end for f in test) == date(2018, 9, 5)


def test_protocol_a_is_protocol_bs_oldest_test_fold() -> None:
    """Check that protocol A's split has the same windows as B's fold training from 07-25."""
    a = hp.protocol_a_fold()
    match = [f for f in hp.protocol_folds("B")["test"] if f.train == a.train]
    assert len(match) == 1
    assert (match[0].delay, match[0].test) == (a.delay, a.test)


@pytest.mark.parametrize("protocol", ["A", "B"])
def test_validation_folds_test_before_every_test_week(protocol: str) -> None:
    """Check that every validation fold scores only days before the first test-fold day."""
    folds = hp.protocol_folds(protocol)
    first = min(f.test.start for f in folds["test"])
    assert len(folds["validation"]) == 4
    assert all(f.test.end <= first for f in folds["validation"])
    assert sorted(f.train.start for f in folds["validation"]) == [
        date(2018, 6, 20),
        date(2018, 6, 27),
        date(2018, 7, 4),
        date(2018, 7, 11),
    ]


def test_overlapping_validation_folds_are_refused() -> None:
    """Check that a validation fold testing on a test-fold day raises a ConfigError."""
    test = hp.protocol_folds("B")["test"]
    with pytest.raises(ConfigError, match=r"validation fold .* tests on days from 2018-08-08"):
        hp.check_folds_do_not_leak([*hp.protocol_folds("B")["validation"], test[0]], test)


def test_unknown_protocol_is_refused() -> None:
    """Check that a protocol other than A or B raises a ConfigError naming the choices."""
    with pytest.raises(ConfigError, match="protocol must be 'A' or 'B'"):
        hp.protocol_folds("C")


# ----------------------------------------------------------------------------- test set
def _fold_a_frame() -> pl.DataFrame:
    rows = [
        # fraud before the training start: the handbook does not know it -> kept
        ("early", _at(date(2018, 7, 20)), 10.0, 1),
        ("early", _at(date(2018, 8, 9)), 10.0, 0),
        # fraud in the training week: known on every test day -> removed
        ("train", _at(date(2018, 7, 27)), 10.0, 1),
        ("train", _at(date(2018, 8, 8)), 10.0, 0),
        ("train", _at(date(2018, 8, 14)), 10.0, 0),
        # fraud on delay day 08-05: known from test day 08-13 (08-05 < 08-13 - 7 days)
        ("delay", _at(date(2018, 8, 5)), 10.0, 1),
        ("delay", _at(date(2018, 8, 12)), 10.0, 0),
        ("delay", _at(date(2018, 8, 13)), 10.0, 0),
        # fraud in the test week itself: not known before the end of the week -> kept
        ("test", _at(date(2018, 8, 8)), 10.0, 1),
        ("test", _at(date(2018, 8, 14)), 10.0, 1),
        ("clean", _at(date(2018, 7, 26)), 10.0, 0),
        ("clean", _at(date(2018, 8, 10)), 10.0, 0),
    ]
    return _tx(rows)


def test_test_set_drops_cards_known_from_the_training_start() -> None:
    """Check that the test set drops cards with a fraud known by the day, counted from training."""
    out = hp.handbook_test_set(_fold_a_frame(), hp.protocol_a_fold())
    kept = set(zip(out["card_id"], out["timestamp"].dt.date(), strict=True))
    assert kept == {
        ("early", date(2018, 8, 9)),
        ("delay", date(2018, 8, 12)),
        ("test", date(2018, 8, 8)),
        ("test", date(2018, 8, 14)),
        ("clean", date(2018, 8, 10)),
    }


# ----------------------------------------------------------------------------- features
def test_feature_set_extended_adds_declared_features() -> None:
    """Check that the extended set is the default set plus the declared features."""
    cols = _fold_a_frame().columns
    default, _, none = hp.feature_set_for(cols, "default")
    extended, _, extra = hp.feature_set_for(cols, "extended")
    assert none == []
    assert extended.names == default.names + extra
    assert len(extra) == len(hp.EXTENDED_FEATURES)
    assert extended.hash != default.hash


def test_feature_set_kind_is_checked() -> None:
    """Check that an unknown feature-set kind raises a ConfigError naming the variants."""
    with pytest.raises(ConfigError, match="one of handbook, default, extended; got 'everything'"):
        hp.feature_set_for(["transaction_id", "timestamp"], "everything")


def test_handbook_variant_declares_the_handbooks_fifteen_features() -> None:
    """Check that the handbook variant has 15 features, the terminal ones shifted by 7 days."""
    fs, dropped, _ = hp.feature_set_for(_fold_a_frame().columns, "handbook")
    assert len(fs) == 15
    assert dropped == []
    terminal = [f for f in fs if f.entity == "terminal"]
    assert len(terminal) == 6
    assert all(f.delay == "7d" for f in terminal)


def test_union_feature_set_holds_every_variant_once() -> None:
    """Check that the union has each variant's features once and variants slice it exactly."""
    data = _synthetic(8, date(2018, 7, 1), 30)
    sets = [hp.feature_set_for(data.columns, v)[0] for v in hp.FEATURE_VARIANTS]
    union = hp.union_feature_set(sets)
    assert len(set(union.names)) == len(union.names)
    assert all(set(fs.names) <= set(union.names) for fs in sets)
    handbook = sets[0]
    alone = compute_batch(handbook, data)
    sliced = compute_batch(union, data).select(alone.columns)
    assert alone.equals(sliced)


def test_union_refuses_two_definitions_under_one_name() -> None:
    """Check that two different features with one name cannot be merged."""
    a = FeatureSet((Feature("value", value="amount"),), "a")
    b = FeatureSet((Feature("count", "card", window="1h"),), "b")
    b2 = FeatureSet((Feature("count", "card", window="1h", phrase="x {value}"),), "b2")
    assert hp.union_feature_set([a, b, b2]).names == ["amount", "tx_count_card_1h"]
    clash = FeatureSet((Feature("category", value="amount"),), "c")
    with pytest.raises(ConfigError, match="both called 'amount'"):
        hp.union_feature_set([a, clash])


def test_attach_features_keeps_one_amount_column() -> None:
    """Check that features join the data row for row and the amount feature is not repeated."""
    data = _fold_a_frame()
    fs, _, _ = hp.feature_set_for(data.columns, "extended")
    frame = hp.attach_features(data, compute_batch(fs, data))
    assert frame.height == data.height
    assert frame.columns.count("amount") == 1
    assert set(fs.names) <= set(frame.columns)


def test_attach_features_refuses_another_row_order() -> None:
    """Check that a feature table in another row order is refused."""
    data = _fold_a_frame()
    fs, _, _ = hp.feature_set_for(data.columns, "default")
    features = compute_batch(fs, data).reverse()
    with pytest.raises(ConfigError, match="does not match the data row for row"):
        hp.attach_features(data, features)


def test_attach_features_refuses_a_different_shared_column() -> None:
    """Check that a feature named like a data column but with other values is refused."""
    data = _fold_a_frame()
    fs, _, _ = hp.feature_set_for(data.columns, "default")
    features = compute_batch(fs, data).with_columns(pl.col("amount") + 1.0)
    with pytest.raises(ConfigError, match="'amount' differs from the data column"):
        hp.attach_features(data, features)


def test_whole_file_features_equal_per_window_features() -> None:
    """Check that slicing whole-file features equals computing a window from earlier rows."""
    data = _synthetic(3, date(2018, 6, 1), 75)
    fs, _, _ = hp.feature_set_for(data.columns, "extended")
    features = compute_batch(fs, data)
    window = hp.protocol_a_fold().test
    check = hp.check_point_in_time(fs, data, features, window)
    assert check["rows"] == window.select(data).height > 0
    assert check["history_rows"] == data.filter(pl.col("timestamp").dt.date() < window.start).height
    assert check["max_abs_diff"] <= 1e-9


def test_point_in_time_check_catches_a_leak() -> None:
    """Check that a window feature computed with later information fails the check."""
    data = _synthetic(4, date(2018, 6, 1), 75)
    fs, _, _ = hp.feature_set_for(data.columns, "default")
    features = compute_batch(fs, data)
    window = hp.protocol_a_fold().test
    in_window = pl.col("timestamp").dt.date().is_between(window.start, window.end, closed="left")
    leaked = features.with_columns(
        tx_count_card_24h=pl.when(data.select(in_window).to_series())
        .then(pl.col("tx_count_card_24h") + 1.0)
        .otherwise(pl.col("tx_count_card_24h"))
    )
    with pytest.raises(ConfigError, match="feature tx_count_card_24h differs"):
        hp.check_point_in_time(fs, data, leaked, window)


# ----------------------------------------------------------------------------- models
def test_variant_candidates_cross_feature_sets_and_grid() -> None:
    """Check that every variant gets the whole grid, named '<variant>/<candidate>'."""
    cands = hp.variant_candidates("lightgbm", ["handbook", "extended"])
    size = len(hp.grid("lightgbm"))
    assert len(cands) == 2 * size
    assert {c.features for c in cands[:size]} == {"handbook"}
    assert cands[size].name == f"extended/{hp.grid('lightgbm')[0].name}"
    assert cands[0].to_dict()["features"] == "handbook"


def test_variant_candidates_refuse_an_unknown_variant() -> None:
    """Check that an unknown feature-set variant raises a ConfigError."""
    with pytest.raises(ConfigError, match="got 'all'"):
        hp.variant_candidates("lightgbm", ["all"])
    with pytest.raises(ConfigError, match="at least one feature set"):
        hp.variant_candidates("lightgbm", [])


@pytest.mark.parametrize("model", ["lightgbm", "xgboost", "logreg"])
def test_grid_names_are_unique(model: str) -> None:
    """Check that every model's grid has between 6 and 12 uniquely named candidates."""
    names = [c.name for c in hp.grid(model)]
    assert 6 <= len(names) <= 12
    assert len(set(names)) == len(names)


def test_grid_of_an_unknown_model_is_refused() -> None:
    """Check that asking for the grid of an unknown model raises a ConfigError."""
    with pytest.raises(ConfigError, match="no grid for model 'forest'"):
        hp.grid("forest")


def test_model_params_fix_seed_threads_and_rounds() -> None:
    """Check that the seed and threads are set, early stopping is off and params win."""
    p = hp.model_params("lightgbm", {"num_leaves": 7, "random_state": 3}, seed=9, num_threads=1)
    assert p == {
        "random_state": 3,
        "num_threads": 1,
        "early_stopping_rounds": None,
        "num_leaves": 7,
    }
    assert hp.model_params("logreg", {"C": 0.1}, seed=9, num_threads=1) == {
        "random_state": 9,
        "C": 0.1,
    }


def test_trained_fold_model_beats_chance_on_the_handbook_test_set() -> None:
    """Check that a fold's model ranks frauds above chance on exactly the handbook test set."""
    data = _synthetic(5, date(2018, 5, 1), 106)
    fs, _, _ = hp.feature_set_for(data.columns, "default")
    frame = hp.attach_features(data, compute_batch(fs, data))
    fold = hp.protocol_a_fold()
    train = hp.make_train_fn(
        fs, "lightgbm", {"n_estimators": 30, "num_leaves": 7, "min_child_samples": 5}, seed=1
    )
    [score] = hp.evaluate_candidate(frame, [fold], train)
    test = hp.handbook_test_set(frame, fold)
    assert (score.n_test, score.n_test_fraud) == (test.height, int(test["is_fraud"].sum()))
    fraud_rate = score.n_test_fraud / score.n_test
    assert score.metrics["average_precision"] > 3 * fraud_rate
    assert score.metrics["roc_auc"] > 0.7


def test_trained_fold_model_is_deterministic() -> None:
    """Check that training the same fold twice with one seed gives identical scores."""
    data = _synthetic(6, date(2018, 7, 1), 45)
    fs, _, _ = hp.feature_set_for(data.columns, "default")
    frame = hp.attach_features(data, compute_batch(fs, data))
    fold = hp.protocol_a_fold()
    train = hp.make_train_fn(fs, "lightgbm", {"n_estimators": 20, "min_child_samples": 5})
    rows, test = fold.train.select(frame), fold.test.select(frame)
    first = train(rows, fold).score(test)
    second = train(rows, fold).score(test)
    np.testing.assert_array_equal(first, second)


# ----------------------------------------------------------------------------- selection
def _score(fold: Fold, ap: float, auc: float = 0.8) -> object:
    return hp.FoldScore(
        fold=fold,
        n_train=10,
        n_test=10,
        n_test_fraud=1,
        metrics={"roc_auc": auc, "average_precision": ap, "card_precision_at_k": 0.1},
        seconds=0.0,
    )


def _fold(i: int) -> Fold:
    s = date(2018, 6, 1) + timedelta(days=7 * i)
    w = timedelta(days=7)
    return Fold(i, Window(s, s + w), Window(s + w, s + 2 * w), Window(s + 2 * w, s + 3 * w))


def test_tuning_evaluates_candidates_on_validation_folds_only() -> None:
    """Check that tuning hands only the validation folds to the evaluation, once per candidate."""
    validation = [_fold(0), _fold(1)]
    calls: list[tuple[str, list[Fold]]] = []

    def evaluate(cand: object, folds: Sequence[Fold]) -> list[object]:
        calls.append((cand.name, list(folds)))  # type: ignore[attr-defined]
        return [_score(f, 0.5) for f in folds]

    cands = [hp.Candidate("a", {}), hp.Candidate("b", {"x": 1})]
    hp.tune_on_validation(cands, validation, evaluate)
    assert calls == [("a", validation), ("b", validation)]


def test_tuning_chooses_by_validation_ap_whatever_the_test_folds_say() -> None:
    """Check that the choice follows validation AP even when another candidate wins on test."""
    validation, test = [_fold(0), _fold(1)], [_fold(5), _fold(6)]
    quality = {"a": {"validation": 0.6, "test": 0.9}, "b": {"validation": 0.7, "test": 0.2}}

    def evaluate(cand: object, folds: Sequence[Fold]) -> list[object]:
        part = "test" if folds[0] in test else "validation"
        return [_score(f, quality[cand.name][part]) for f in folds]  # type: ignore[attr-defined]

    cands = [hp.Candidate("a"), hp.Candidate("b")]
    assert hp.tune_on_validation(cands, validation, evaluate).chosen.name == "b"


def test_selection_breaks_ties_by_auc_then_grid_order() -> None:
    """Check that equal validation AP is decided by AUC, and equal AUC by grid order."""
    folds = [_fold(0)]
    cands = [hp.Candidate("first"), hp.Candidate("second"), hp.Candidate("third")]
    scores = {
        "first": [_score(folds[0], 0.5, auc=0.8)],
        "second": [_score(folds[0], 0.5, auc=0.9)],
        "third": [_score(folds[0], 0.5, auc=0.9)],
    }
    assert hp.select_candidate(cands, scores).name == "second"


def test_selection_refuses_an_undefined_metric() -> None:
    """Check that a validation fold without a defined AP raises a ConfigError."""
    bad = hp.FoldScore(_fold(0), 1, 1, 0, {"roc_auc": None, "average_precision": None}, 0.0)
    with pytest.raises(ConfigError, match="average_precision is undefined on a validation fold"):
        hp.select_candidate([hp.Candidate("a")], {"a": [bad]})


def test_tuning_refuses_duplicate_candidate_names() -> None:
    """Check that two candidates with one name raise a ConfigError."""
    with pytest.raises(ConfigError, match="candidate names must be unique"):
        hp.tune_on_validation([hp.Candidate("a"), hp.Candidate("a")], [_fold(0)], lambda c, f: [])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
        min_size=1,
        max_size=8,
    )
)
def test_selected_candidate_has_the_best_mean_validation_ap(aps: list[list[float]]) -> None:
    """Check that the chosen candidate's mean validation AP is the highest of all."""
    folds = [_fold(i) for i in range(4)]
    cands = [hp.Candidate(f"c{i}") for i in range(len(aps))]
    scores = {
        c.name: [_score(f, a) for f, a in zip(folds, ap, strict=True)]
        for c, ap in zip(cands, aps, strict=True)
    }
    chosen = hp.select_candidate(cands, scores)
    means = [float(np.mean(ap)) for ap in aps]
    assert float(np.mean(aps[int(chosen.name[1:])])) == max(means)


# ----------------------------------------------------------------------------- references
def _terminal_rows(rows: Sequence[tuple[str, datetime, int]]) -> pl.DataFrame:
    """Rows (terminal, time, scenario) at one card per row; scenario 2 rows are frauds."""
    names = {0: "legit", 1: "amount_over_220", 2: "compromised_terminal"}
    return pl.DataFrame(
        {
            "terminal_id": [r[0] for r in rows],
            "timestamp": [r[1] for r in rows],
            "is_fraud": [int(r[2] > 0) for r in rows],
            "fraud_scenario": [names[r[2]] for r in rows],
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC")},
    )


def test_terminal_frauds_are_hidden_until_a_label_of_the_compromise_is_known() -> None:
    """Check that a terminal fraud is hidden unless one 7 to 35 days older exists there."""
    d = date(2018, 7, 1)
    frame = _terminal_rows(
        [
            ("T", _at(d), 2),  # first of its compromise: hidden
            ("T", _at(d + timedelta(days=6)), 2),  # only 6 days after: still hidden
            ("T", _at(d + timedelta(days=7)), 2),  # the first one is now labelled
            ("T", _at(d + timedelta(days=50)), 2),  # last labelled fraud too old: hidden
            ("U", _at(d + timedelta(days=8)), 2),  # another terminal: its own history
            ("T", _at(d + timedelta(days=9)), 0),  # legitimate rows are never hidden
            ("T", _at(d + timedelta(days=10)), 1),  # nor frauds of other scenarios
        ]
    )
    assert hp.hidden_terminal_frauds(frame).to_list() == [
        True,
        True,
        False,
        True,
        True,
        False,
        False,
    ]


def test_hidden_frauds_need_the_scenario_column() -> None:
    """Check that data without fraud_scenario raises a ConfigError naming the profile."""
    with pytest.raises(ConfigError, match="handbook profile"):
        hp.hidden_terminal_frauds(_fold_a_frame())


def test_oracle_card_precision_is_a_ceiling_and_hiding_lowers_it() -> None:
    """Check that the label oracle beats a model and that hiding frauds cannot raise it."""
    data = _synthetic(9, date(2018, 6, 15), 60, cards=150)
    fold = hp.protocol_a_fold()
    full = hp.oracle_card_precision(data, fold, k=10)
    hidden = pl.Series(data["is_fraud"].to_numpy() == 1) & pl.Series(
        np.arange(data.height) % 2 == 0
    )
    partial = hp.oracle_card_precision(data, fold, hidden=hidden, k=10)
    test = hp.handbook_test_set(data, fold).with_columns(score=pl.col("amount"))
    model = card_precision_at_k(
        test, 10, delay=hp.HANDBOOK_DELAY, history=fold.history.select(data)
    )
    assert full is not None
    assert partial is not None
    assert model is not None
    assert full >= model
    assert partial <= full
    assert full > 0


def test_references_equal_without_hidden_frauds() -> None:
    """Check that both oracles agree on every fold when no fraud is hidden."""
    data = _synthetic(10, date(2018, 5, 1), 128, cards=40).with_columns(
        fraud_scenario=pl.when(pl.col("is_fraud") == 1)
        .then(pl.lit("compromised_customer"))
        .otherwise(pl.lit("legit"))
    )
    folds = {"B": hp.protocol_folds("B")}
    ref = hb.references(data, folds, ["B"], seed=0)
    assert ref["hidden_frauds"] == 0
    assert [len(ref[p]["folds"]) for p in ("validation", "test_B")] == [4, 4]
    for part in ("validation", "test_B"):
        for row in ref[part]["folds"]:
            assert row["all_labels"] == row["without_hidden_frauds"]


# ----------------------------------------------------------------------------- summary
def test_summary_uses_the_population_standard_deviation() -> None:
    """Check that the fold summary gives the mean and the ddof-0 standard deviation."""
    scores = [_score(_fold(i), ap) for i, ap in enumerate((0.2, 0.4, 0.6, 0.8))]
    s = hp.summarise(scores)["average_precision"]
    assert s["mean"] == pytest.approx(0.5)
    assert s["std"] == pytest.approx(np.sqrt(0.05))
    assert s["n_folds"] == 4


def test_goal_needs_every_published_row_beaten() -> None:
    """Check that protocol B's goal is met only when all three means beat every row."""
    best = {"roc_auc": 0.876, "average_precision": 0.687, "card_precision_at_k": 0.303}
    above = {m: {"mean": v + 0.001} for m, v in best.items()}
    assert hb.goal("B", above)["all_beaten"] is True
    tied = {**above, "card_precision_at_k": {"mean": 0.303}}
    result = hb.goal("B", tied)
    assert result["all_beaten"] is False
    assert result["card_precision_at_k"]["beaten"] is False
    assert result["average_precision"]["best_published"] == pytest.approx(0.687)


def test_data_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check that FRAUDWATCH_HANDBOOK_PATH replaces the default data path, --data wins."""
    monkeypatch.setenv("FRAUDWATCH_HANDBOOK_PATH", "/data/hb.parquet")
    assert hb.parse_args([]).data == Path("/data/hb.parquet")
    assert hb.parse_args(["--data", "x.parquet"]).data == Path("x.parquet")
    monkeypatch.delenv("FRAUDWATCH_HANDBOOK_PATH")
    assert hb.parse_args([]).data.name == "handbook-raw.parquet"


def test_fold_metrics_are_computed_on_the_handbook_test_set() -> None:
    """Check that a fold's AP is the average precision of exactly the handbook test set."""
    data = _synthetic(7, date(2018, 6, 15), 60)
    fs, _, _ = hp.feature_set_for(data.columns, "default")
    frame = hp.attach_features(data, compute_batch(fs, data))
    fold = hp.protocol_a_fold()

    def train(rows: pl.DataFrame, f: Fold) -> object:
        return lambda test: test["amount_ratio_mean_card_30d"].fill_null(0.0).to_numpy()

    [score] = hp.evaluate_candidate(frame, [fold], train)  # type: ignore[arg-type]
    test = hp.handbook_test_set(frame, fold)
    expected = average_precision(
        test["is_fraud"].to_numpy(), test["amount_ratio_mean_card_30d"].fill_null(0.0).to_numpy()
    )
    assert score.metrics["average_precision"] == pytest.approx(expected)
