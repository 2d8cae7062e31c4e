"""The pieces of the handbook benchmark: folds, features, training, selection, summaries.

Everything here is a pure function of its inputs (frames, folds, parameters), so the tests
in ``tests/benchmarks/test_handbook_protocol.py`` run it on small synthetic frames; the
command line, the feature cache and the report live in ``benchmarks/handbook.py``.

The protocols are those of *Reproducible Machine Learning for Credit Card Fraud Detection —
Practical Handbook* (Le Borgne et al.), described in ``../shared/data/README.md``:

* protocol A: one split — train 2018-07-25..07-31, 7 delay days, test 2018-08-08..08-14;
* protocol B: four prequential test folds (training weeks starting 2018-07-25, 08-01, 08-08,
  08-15), hyper-parameters chosen only on four earlier validation folds (training weeks
  starting 2018-06-20, 06-27, 07-04, 07-11).

Each fold trains on its 7 training days only; earlier days enter only as feature history
(the features are point-in-time). Its test set drops the transactions of cards already known
compromised (a fraud before test day − 7 days, counted from the training start), and ROC AUC,
average precision and card precision@100 are those of :func:`fraudwatch.evaluation.backtest`.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import polars as pl

from fraudwatch.errors import ConfigError
from fraudwatch.evaluation import (
    Fold,
    FoldModel,
    FoldResult,
    TrainFn,
    Window,
    backtest,
    card_precision_at_k,
    handbook_folds,
    remove_known_compromised,
)
from fraudwatch.features import Feature, FeatureSet, compute_batch, default_feature_set
from fraudwatch.models import FeatureEncoder, make_model, model_class

__all__ = [
    "EXTENDED_FEATURES",
    "FEATURE_VARIANTS",
    "HANDBOOK_DELAY",
    "HANDBOOK_FEATURES",
    "METRICS",
    "PROTOCOL_A_TEST",
    "PUBLISHED",
    "SELECTION_RULE",
    "Candidate",
    "FoldScore",
    "PublishedRow",
    "Selection",
    "attach_features",
    "check_folds_do_not_leak",
    "check_point_in_time",
    "evaluate_candidate",
    "feature_set_for",
    "grid",
    "handbook_test_set",
    "hidden_terminal_frauds",
    "make_train_fn",
    "model_params",
    "oracle_card_precision",
    "protocol_a_fold",
    "protocol_folds",
    "select_candidate",
    "summarise",
    "tune_on_validation",
    "union_feature_set",
    "variant_candidates",
]

log = logging.getLogger(__name__)

HANDBOOK_DELAY = timedelta(days=7)
"""The handbook's label delay: a transaction's label is known 7 days after it."""

METRICS: tuple[str, ...] = ("roc_auc", "average_precision", "card_precision_at_k")
"""The handbook's three metrics, as named by :func:`fraudwatch.evaluation.evaluate_scores`."""

COMPROMISE_SPAN = timedelta(days=28)
"""How long the simulator keeps a terminal compromised (its scenario 2)."""

PROTOCOL_A_TEST = (58_264, 385)
"""Transactions and frauds of the handbook's protocol A test set (its chapter 3)."""

SELECTION_RULE = (
    "every (feature set, hyper-parameters) pair of the grid is trained and scored on the 4 "
    "validation folds (training weeks starting 2018-06-20, 06-27, 07-04, 07-11); the pair "
    "with the highest mean average precision is chosen, ties broken by mean ROC AUC, then by "
    "grid order. The test folds are evaluated only once, with the chosen pair."
)


@dataclass(frozen=True)
class PublishedRow:
    """One row of the handbook's published results (``../shared/data/README.md``)."""

    model: str
    protocol: Literal["A", "B"]
    roc_auc: float
    average_precision: float
    card_precision_at_k: float

    def metric(self, name: str) -> float:
        """The row's value of metric ``name`` (one of :data:`METRICS`)."""
        value: float = getattr(self, name)
        return value


PUBLISHED: tuple[PublishedRow, ...] = (
    PublishedRow("logistic regression", "A", 0.871, 0.606, 0.291),
    PublishedRow("random forest", "A", 0.867, 0.658, 0.287),
    PublishedRow("XGBoost", "A", 0.862, 0.639, 0.273),
    PublishedRow("logistic regression (tuned)", "B", 0.868, 0.623, 0.297),
    PublishedRow("random forest (tuned)", "B", 0.870, 0.678, 0.299),
    PublishedRow("XGBoost (tuned)", "B", 0.869, 0.687, 0.303),
    PublishedRow("feed-forward neural net", "B", 0.876, 0.675, 0.303),
    PublishedRow("LSTM", "B", 0.876, 0.665, 0.297),
)
"""The published table: protocol A single split, protocol B mean over the four test folds."""

EXTENDED_FEATURES: tuple[Feature, ...] = (
    # the card's amount against shorter and longer baselines than the default 30 days: a
    # compromised card's own frauds inflate its 30-day mean; 90 days dilutes them
    Feature("ratio_to_mean", "card", "amount", "24h"),
    Feature("ratio_to_mean", "card", "amount", "7d"),
    Feature("zscore", "card", "amount", "7d"),
    Feature("ratio_to_mean", "card", "amount", "90d"),
    Feature("zscore", "card", "amount", "90d"),
    Feature("mean", "card", "amount", "90d"),
    Feature("count", "card", window="90d"),
    # the terminal's known fraud between the default 1/7/30 days, and its shifted volume
    # (the handbook's own "terminal count shifted by the delay")
    Feature("fraud_rate", "terminal", window="3d", delay="7d"),
    Feature("fraud_rate", "terminal", window="14d", delay="7d"),
    Feature("count", "terminal", window="7d", delay="7d"),
)
"""General-purpose features declared on top of the default set for ``--features extended``."""

HANDBOOK_FEATURES: tuple[Feature, ...] = (
    Feature("value", value="amount"),
    Feature("weekend"),
    Feature("night"),
    *(Feature("count", "card", window=w) for w in ("24h", "7d", "30d")),
    *(Feature("mean", "card", "amount", w) for w in ("24h", "7d", "30d")),
    *(Feature("count", "terminal", window=w, delay="7d") for w in ("1d", "7d", "30d")),
    *(Feature("fraud_rate", "terminal", window=w, delay="7d") for w in ("1d", "7d", "30d")),
)
"""The handbook's own 15 features declared with the product's definitions (variant
``handbook``). The handbook's card windows include the transaction itself, ours end just
before it; otherwise the definitions are the same."""

FEATURE_VARIANTS: tuple[str, ...] = ("handbook", "default", "extended")
"""The feature sets tried on the validation folds: the handbook's 15 features, the product's
default set, and the default set plus :data:`EXTENDED_FEATURES`."""


# ----------------------------------------------------------------------------- folds
def protocol_a_fold() -> Fold:
    """The handbook's protocol A split: train 07-25..07-31, delay 08-01..07, test 08-08..14.

    >>> f = protocol_a_fold()
    >>> str(f.train), str(f.delay), str(f.test)
    ('2018-07-25..2018-07-31', '2018-08-01..2018-08-07', '2018-08-08..2018-08-14')
    """
    start = date(2018, 7, 25)
    week = timedelta(days=7)
    return Fold(
        index=0,
        train=Window(start, start + week),
        delay=Window(start + week, start + 2 * week),
        test=Window(start + 2 * week, start + 3 * week),
    )


def protocol_folds(protocol: str) -> dict[str, list[Fold]]:
    """The validation and test folds of protocol ``"A"`` or ``"B"``.

    Both protocols choose hyper-parameters on the same four validation folds; protocol A
    then tests on its single split, protocol B on its four test folds.

    Raises
    ------
    ConfigError
        ``protocol`` is neither ``"A"`` nor ``"B"``.
    """
    if protocol not in ("A", "B"):
        raise ConfigError(f"protocol must be 'A' or 'B'; got {protocol!r}")
    test = [protocol_a_fold()] if protocol == "A" else handbook_folds("test")
    validation = handbook_folds("validation")
    check_folds_do_not_leak(validation, test)
    return {"validation": validation, "test": test}


def check_folds_do_not_leak(validation: Sequence[Fold], test: Sequence[Fold]) -> None:
    """Refuse validation folds whose test days reach the first test fold's test days.

    Hyper-parameters chosen on a validation fold must be chosen before any day the test
    folds are scored on.

    Raises
    ------
    ConfigError
        A validation fold tests on a day on or after the earliest test-fold test day.
    """
    if not validation or not test:
        raise ConfigError("tuning needs at least one validation fold and one test fold")
    first_test_day = min(f.test.start for f in test)
    late = [f for f in validation if f.test.end > first_test_day]
    if late:
        raise ConfigError(
            f"validation {late[0]} tests on days from {first_test_day} on, which the test "
            "folds score; choose validation folds that end before the test folds' test weeks"
        )


def handbook_test_set(data: pl.DataFrame, fold: Fold) -> pl.DataFrame:
    """The fold's test rows without the cards already known compromised (the handbook's).

    Known frauds are counted from the fold's *training start* (training and delay windows),
    as the handbook's ``get_train_test_set`` does — not from the start of the data.
    """
    return remove_known_compromised(
        fold.test.select(data), delay=HANDBOOK_DELAY, history=fold.history.select(data)
    )


# ----------------------------------------------------------------------------- features
def feature_set_for(
    columns: Sequence[str], kind: str = "extended"
) -> tuple[FeatureSet, list[tuple[str, str]], list[str]]:
    """The feature set of variant ``kind`` (one of :data:`FEATURE_VARIANTS`).

    Returns
    -------
    tuple
        ``(feature_set, dropped, extra)``: the features computable from ``columns``, the
        ``(feature, reason)`` pairs left out, and the names that are not in the product's
        default set.

    Raises
    ------
    ConfigError
        ``kind`` is unknown.
    """
    if kind not in FEATURE_VARIANTS:
        raise ConfigError(f"features must be one of {', '.join(FEATURE_VARIANTS)}; got {kind!r}")
    default = default_feature_set(label_delay=HANDBOOK_DELAY)
    if kind == "handbook":
        base = FeatureSet(HANDBOOK_FEATURES, "handbook", "1")
    elif kind == "extended":
        base = FeatureSet(default.features + EXTENDED_FEATURES, "default+handbook", "1")
    else:
        base = default
    fs, dropped = base.available_for(columns)
    in_default = set(default.names)
    extra = [name for name in fs.names if name not in in_default]
    return fs, dropped, extra


def union_feature_set(sets: Sequence[FeatureSet]) -> FeatureSet:
    """Every feature of ``sets`` once, in first-seen order (computed once, sliced per variant).

    Each feature's values depend only on its own declaration, so the columns of a variant
    taken from the union equal what computing the variant alone would give.

    Raises
    ------
    ConfigError
        Two features share a name but not a definition, or ``sets`` is empty.
    """
    if not sets:
        raise ConfigError("union_feature_set needs at least one feature set")
    seen: dict[str, Feature] = {}
    for fs in sets:
        for feat in fs:
            other = seen.setdefault(feat.name, feat)
            if other.identity() != feat.identity():
                raise ConfigError(f"two different features are both called {feat.name!r}")
    return FeatureSet(tuple(seen.values()), "+".join(fs.name for fs in sets), "1")


def attach_features(data: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """``data`` with the feature columns of ``features`` (rows in the same order) beside it.

    A feature named like a data column (``amount``) must equal it and is not repeated.

    Raises
    ------
    ConfigError
        The frames differ in length or transaction order, or a shared column differs.
    """
    if features.height != data.height or not data["transaction_id"].equals(
        features["transaction_id"]
    ):
        raise ConfigError(
            "the feature table does not match the data row for row; recompute the features "
            "(delete the cache) for this data file"
        )
    shared = [c for c in features.columns if c in data.columns and c != "transaction_id"]
    for name in shared:
        if not data[name].cast(pl.Float64).equals(features[name].cast(pl.Float64)):
            raise ConfigError(f"feature {name!r} differs from the data column of the same name")
    extra = features.drop(["transaction_id", *shared])
    return pl.concat([data, extra], how="horizontal")


def check_point_in_time(
    fs: FeatureSet, data: pl.DataFrame, features: pl.DataFrame, window: Window
) -> dict[str, Any]:
    """Recompute ``window``'s features from earlier rows only and compare with ``features``.

    Computing the features once over the whole file and slicing a window is the same as
    computing the window with ``history`` = every earlier row when every feature is
    point-in-time (each row sees only earlier rows and labels already known). This checks it.

    Parameters
    ----------
    fs:
        The feature set.
    data:
        Every transaction (the whole file).
    features:
        ``compute_batch(fs, data)``: ``transaction_id`` then the features, in ``data``'s order.
    window:
        The days to recompute (e.g. a test week).

    Returns
    -------
    dict
        ``rows``, ``history_rows``, ``max_abs_diff`` and ``seconds``.

    Raises
    ------
    ConfigError
        A value differs (more than 1e-9 relative) or a null differs.
    """
    start = time.perf_counter()
    day = pl.col("timestamp").dt.date()
    mask = ((day >= window.start) & (day < window.end)).alias("m")
    in_window = data.select(mask)["m"]
    rows = data.filter(in_window)
    earlier = data.filter(day < window.start)
    fresh = compute_batch(fs, rows, history=earlier)
    sliced = features.filter(in_window)
    if not fresh["transaction_id"].equals(sliced["transaction_id"]):
        raise ConfigError("point-in-time check: the recomputed rows are in another order")
    worst = 0.0
    for name in fs.names:
        a, b = fresh[name], sliced[name]
        if not a.is_null().equals(b.is_null()):
            raise ConfigError(f"point-in-time check: feature {name} is null on other rows")
        if name in fs.categorical:
            if not a.equals(b):
                raise ConfigError(f"point-in-time check: feature {name} differs")
            continue
        x = a.drop_nulls().to_numpy()
        y = b.drop_nulls().to_numpy()
        if x.size:
            diff = np.abs(x - y)
            worst = max(worst, float(diff.max()))
            if np.any(diff > 1e-9 * np.maximum(1.0, np.abs(y))):
                raise ConfigError(
                    f"point-in-time check: feature {name} differs by up to {diff.max():.3g} "
                    f"between the whole-file computation and the window {window} computed "
                    "from earlier rows"
                )
    return {
        "window": str(window),
        "rows": rows.height,
        "history_rows": earlier.height,
        "max_abs_diff": worst,
        "seconds": round(time.perf_counter() - start, 3),
    }


# ----------------------------------------------------------------------------- models
@dataclass(frozen=True)
class Candidate:
    """One point of the grid: a feature-set variant and model hyper-parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    features: str = "extended"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"name", "features", "params"}``."""
        return {"name": self.name, "features": self.features, "params": dict(self.params)}


def grid(model: str) -> list[Candidate]:
    """The candidate hyper-parameters tried on the validation folds for ``model``.

    The first LightGBM candidate is the product's default model (no early stopping: the
    protocol has no inner validation split); the others vary the tree size, the number of
    rounds, the class weight, the histogram resolution (``max_bin``: amounts are binned by
    quantile, and 255 bins leave a single bin across a whole tail of large amounts) and
    the regularisation.

    Raises
    ------
    ConfigError
        ``model`` has no grid.
    """
    if model == "lightgbm":
        fine = {"max_bin": 4095, "class_weight": None}
        return [
            Candidate("lgb-product-default", {}),
            Candidate("lgb-15x200", {"num_leaves": 15, "n_estimators": 200}),
            Candidate(
                "lgb-15x200-unweighted",
                {"num_leaves": 15, "n_estimators": 200, "class_weight": None},
            ),
            Candidate("lgb-15x200-fine", {"num_leaves": 15, "n_estimators": 200, **fine}),
            Candidate(
                "lgb-15x200-fine-reg",
                {
                    "num_leaves": 15,
                    "n_estimators": 200,
                    "min_child_samples": 20,
                    "reg_lambda": 10.0,
                    **fine,
                },
            ),
            Candidate(
                "lgb-15x400-fine-reg",
                {
                    "num_leaves": 15,
                    "n_estimators": 400,
                    "min_child_samples": 20,
                    "reg_lambda": 10.0,
                    **fine,
                },
            ),
            Candidate("lgb-7x400-fine", {"num_leaves": 7, "n_estimators": 400, **fine}),
            Candidate("lgb-31x200-fine", {"num_leaves": 31, "n_estimators": 200, **fine}),
            Candidate(
                "lgb-31x400-fine-slow",
                {"num_leaves": 31, "n_estimators": 400, "learning_rate": 0.025, **fine},
            ),
            Candidate(
                "lgb-63x200-fine",
                {"num_leaves": 63, "n_estimators": 200, "min_child_samples": 20, **fine},
            ),
        ]
    if model == "xgboost":
        return [
            Candidate("xgb-product-default", {}),
            Candidate("xgb-d3x300", {"max_depth": 3, "n_estimators": 300, "learning_rate": 0.1}),
            Candidate("xgb-d6x100", {"max_depth": 6, "n_estimators": 100, "learning_rate": 0.1}),
            Candidate(
                "xgb-d6x100-fine",
                {
                    "max_depth": 6,
                    "n_estimators": 100,
                    "learning_rate": 0.1,
                    "max_bin": 4096,
                    "class_weight": None,
                },
            ),
            Candidate(
                "xgb-d4x300-fine",
                {
                    "max_depth": 4,
                    "n_estimators": 300,
                    "learning_rate": 0.05,
                    "max_bin": 4096,
                    "class_weight": None,
                },
            ),
            Candidate(
                "xgb-d6x300-fine",
                {
                    "max_depth": 6,
                    "n_estimators": 300,
                    "learning_rate": 0.05,
                    "max_bin": 4096,
                    "class_weight": None,
                },
            ),
        ]
    if model == "logreg":
        # clip=None: the product clips standardised values at 5, which flattens the rare
        # but decisive large values of the fraud-rate features (a terminal at rate 1.0)
        return [
            Candidate(
                f"logreg-C{c:g}-{w or 'unweighted'}-{'clip5' if clip else 'noclip'}",
                {"C": c, "class_weight": w, "clip": clip},
            )
            for c in (0.1, 1.0)
            for w in ("balanced", None)
            for clip in (5.0, None)
        ]
    raise ConfigError(f"no grid for model {model!r}; choose lightgbm, xgboost or logreg")


def variant_candidates(model: str, variants: Sequence[str]) -> list[Candidate]:
    """The grid of ``model`` crossed with the feature-set ``variants``, variant by variant.

    Names are ``"<variant>/<hyper-parameter name>"``.

    Raises
    ------
    ConfigError
        An unknown variant or model, or no variant.
    """
    if not variants:
        raise ConfigError(f"choose at least one feature set of {', '.join(FEATURE_VARIANTS)}")
    for v in variants:
        if v not in FEATURE_VARIANTS:
            raise ConfigError(f"features must be one of {', '.join(FEATURE_VARIANTS)}; got {v!r}")
    return [Candidate(f"{v}/{c.name}", c.params, features=v) for v in variants for c in grid(model)]


def model_params(
    model: str, params: Mapping[str, Any], *, seed: int, num_threads: int | None
) -> dict[str, Any]:
    """The parameters passed to :func:`fraudwatch.models.make_model`.

    The seed and thread count are set where the model takes them, early stopping is turned
    off (there is no inner validation split: every candidate trains on the 7 days), and
    ``params`` comes last.
    """
    accepted = set(inspect.signature(model_class(model).__init__).parameters)
    out: dict[str, Any] = {}
    if "random_state" in accepted:
        out["random_state"] = seed
    if "num_threads" in accepted and num_threads is not None:
        out["num_threads"] = num_threads
    if "early_stopping_rounds" in accepted:
        out["early_stopping_rounds"] = None
    out.update(params)
    return out


def make_train_fn(
    fs: FeatureSet,
    model: str,
    params: Mapping[str, Any],
    *,
    seed: int = 42,
    num_threads: int | None = 1,
) -> TrainFn:
    """A ``train(rows, fold)`` for :func:`fraudwatch.evaluation.backtest`.

    It encodes the fold's training rows with :class:`fraudwatch.models.FeatureEncoder` and
    fits ``make_model(model, ...)`` on the labelled ones — the pieces
    :func:`fraudwatch.training.train_bundle` uses — and scores test rows with
    ``predict_proba``. The rows must already carry the feature columns of ``fs``.
    """
    full_params = model_params(model, params, seed=seed, num_threads=num_threads)

    def train(rows: pl.DataFrame, fold: Fold) -> FoldModel:
        labelled = rows.filter(pl.col("is_fraud").is_not_null())
        encoder = FeatureEncoder(fs.names, fs.categorical).fit(labelled)
        y = labelled["is_fraud"].cast(pl.Int8).to_numpy()
        fitted = make_model(model, **full_params).fit(
            encoder.transform(labelled),
            y,
            feature_names=encoder.names,
            categorical=encoder.categorical_indices,
        )

        def score(test_rows: pl.DataFrame) -> np.ndarray:
            return np.asarray(fitted.predict_proba(encoder.transform(test_rows)))

        return FoldModel(score=score)

    return train


# ----------------------------------------------------------------------------- references
def hidden_terminal_frauds(
    data: pl.DataFrame,
    *,
    delay: timedelta = HANDBOOK_DELAY,
    span: timedelta = COMPROMISE_SPAN,
) -> pl.Series:
    """Which rows are compromised-terminal frauds that no known label can reveal yet.

    A fraud of the simulator's compromised-terminal scenario at terminal ``T`` and time
    ``t`` is *hidden* when no such fraud happened at ``T`` in ``(t - delay - span,
    t - delay]``: its terminal's compromise began less than ``delay`` ago, so none of its
    labels is known when the transaction is scored, and its amount, card and time look like
    any other transaction's.

    Parameters
    ----------
    data:
        Transactions with ``timestamp``, ``terminal_id``, ``is_fraud`` and the handbook
        profile's ``fraud_scenario``.
    delay:
        The label delay.
    span:
        How long a compromise lasts.

    Returns
    -------
    polars.Series
        Boolean ``hidden``, one value per row of ``data``.

    Raises
    ------
    ConfigError
        ``data`` has no ``fraud_scenario`` column.
    """
    if "fraud_scenario" not in data.columns:
        raise ConfigError(
            "hidden_terminal_frauds needs the fraud_scenario column; read the data with the "
            "handbook profile"
        )
    is_s2 = (pl.col("is_fraud") == 1) & (pl.col("fraud_scenario") == "compromised_terminal")
    rows = data.select("terminal_id", "timestamp", is_s2.alias("_s2")).with_row_index("_row")
    frauds = rows.filter("_s2")
    earlier = frauds.select("terminal_id", pl.col("timestamp").alias("_prev")).sort("_prev")
    asked = frauds.with_columns(_key=pl.col("timestamp") - delay).sort("_key")
    # both sides are sorted on their keys above; polars cannot verify it when grouping by
    joined = asked.join_asof(
        earlier,
        left_on="_key",
        right_on="_prev",
        by="terminal_id",
        strategy="backward",
        check_sortedness=False,
    )
    hidden = joined.filter(pl.col("_prev").is_null() | (pl.col("_prev") <= pl.col("_key") - span))
    mask = np.zeros(data.height, dtype=np.bool_)
    mask[hidden["_row"].to_numpy()] = True
    return pl.Series("hidden", mask)


def oracle_card_precision(
    frame: pl.DataFrame,
    fold: Fold,
    *,
    hidden: pl.Series | None = None,
    k: int = 100,
    seed: int = 0,
) -> float | None:
    """CP@k of a scorer that knows the labels of the fold's handbook test set.

    Frauds score 1, other rows a random number below 1 (seeded). With ``hidden`` (aligned
    with ``frame``, see :func:`hidden_terminal_frauds`) the hidden frauds score like
    legitimate rows: the ceiling of a model that sees every fraud except those no label can
    reveal yet. A reference for reading CP@k, never used to choose anything.
    """
    rows = frame.select("transaction_id", "timestamp", "card_id", "is_fraud")
    if hidden is not None:
        rows = rows.with_columns(hidden.alias("_hidden"))
    test = handbook_test_set(rows, fold)
    visible = test["is_fraud"] == 1
    if hidden is not None:
        visible = visible & ~test["_hidden"]
    noise = np.random.default_rng(seed).uniform(0.0, 0.5, size=test.height)
    scored = test.with_columns(score=pl.Series(np.where(visible.to_numpy(), 1.0, noise)))
    return card_precision_at_k(
        scored, k, delay=HANDBOOK_DELAY, history=fold.history.select(rows), score_col="score"
    )


# ----------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class FoldScore:
    """The handbook metrics of one fold."""

    fold: Fold
    n_train: int
    n_test: int
    n_test_fraud: int
    metrics: Mapping[str, float | None]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            **self.fold.to_dict(),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_test_fraud": self.n_test_fraud,
            **{m: self.metrics.get(m) for m in METRICS},
            "seconds": round(self.seconds, 3),
        }


EvaluateFn = Callable[[Candidate, Sequence[Fold]], list[FoldScore]]
"""``evaluate(candidate, folds)`` -> one :class:`FoldScore` per fold."""


def evaluate_candidate(
    frame: pl.DataFrame,
    folds: Sequence[Fold],
    train: TrainFn,
    *,
    k: int = 100,
) -> list[FoldScore]:
    """Run :func:`fraudwatch.evaluation.backtest` on ``folds`` and keep the handbook metrics.

    ``frame`` holds the transactions with their feature columns.
    """
    scores: list[FoldScore] = []
    clock = [time.perf_counter()]

    def done(result: FoldResult) -> None:
        now = time.perf_counter()
        report = result.report
        scores.append(
            FoldScore(
                fold=result.fold,
                n_train=result.n_train,
                n_test=int(report.data["n_transactions"]),
                n_test_fraud=int(report.data["n_fraud"]),
                metrics={m: report.metrics.get(m) for m in METRICS},
                seconds=now - clock[0],
            )
        )
        clock[0] = now

    backtest(frame, folds, train, k=k, on_fold=done)
    return scores


def summarise(scores: Sequence[FoldScore]) -> dict[str, dict[str, float | None]]:
    """Mean and population standard deviation (ddof 0, as the handbook) of each metric."""
    out: dict[str, dict[str, float | None]] = {}
    for name in METRICS:
        values = [s.metrics.get(name) for s in scores]
        defined = np.array([v for v in values if v is not None], dtype=np.float64)
        out[name] = {
            "mean": float(defined.mean()) if defined.size else None,
            "std": float(defined.std()) if defined.size else None,
            "n_folds": int(defined.size),
        }
    return out


@dataclass(frozen=True)
class Selection:
    """The outcome of tuning: every candidate's validation scores and the chosen one."""

    chosen: Candidate
    candidates: list[Candidate]
    validation: dict[str, list[FoldScore]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the rule, the chosen candidate and every candidate's fold scores."""
        return {
            "rule": SELECTION_RULE,
            "chosen": self.chosen.to_dict(),
            "candidates": [
                {
                    **c.to_dict(),
                    "validation_folds": [s.to_dict() for s in self.validation[c.name]],
                    "validation_summary": summarise(self.validation[c.name]),
                }
                for c in self.candidates
            ],
        }


def select_candidate(
    candidates: Sequence[Candidate],
    validation: Mapping[str, Sequence[FoldScore]],
    *,
    metric: str = "average_precision",
    tie_break: str = "roc_auc",
) -> Candidate:
    """The candidate with the highest mean validation ``metric`` (see :data:`SELECTION_RULE`).

    Raises
    ------
    ConfigError
        No candidates, a candidate without scores, or a metric undefined on a fold.
    """
    if not candidates:
        raise ConfigError("no candidates to choose from")
    best: tuple[float, float, int] | None = None
    chosen = candidates[0]
    for order, cand in enumerate(candidates):
        scores = validation.get(cand.name)
        if not scores:
            raise ConfigError(f"candidate {cand.name!r} has no validation scores")
        keys = []
        for name in (metric, tie_break):
            values = [s.metrics.get(name) for s in scores]
            if any(v is None or not math.isfinite(v) for v in values):
                raise ConfigError(
                    f"{name} is undefined on a validation fold of {cand.name!r}; the folds "
                    "need frauds and legitimate transactions"
                )
            keys.append(float(np.mean(np.asarray(values, dtype=np.float64))))
        key = (keys[0], keys[1], -order)
        if best is None or key > best:
            best, chosen = key, cand
    return chosen


def tune_on_validation(
    candidates: Sequence[Candidate],
    validation_folds: Sequence[Fold],
    evaluate: EvaluateFn,
    *,
    on_candidate: Callable[[Candidate, list[FoldScore]], None] | None = None,
) -> Selection:
    """Evaluate every candidate on the validation folds and choose one by validation AP.

    Only ``validation_folds`` are passed to ``evaluate``: the test folds play no part in
    the choice.
    """
    results: dict[str, list[FoldScore]] = {}
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise ConfigError(f"candidate names must be unique; got {names}")
    for cand in candidates:
        results[cand.name] = evaluate(cand, validation_folds)
        if on_candidate is not None:
            on_candidate(cand, results[cand.name])
    chosen = select_candidate(candidates, results)
    log.info("chose %s on the validation folds", chosen.name)
    return Selection(chosen=chosen, candidates=list(candidates), validation=results)
