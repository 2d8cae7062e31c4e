"""The contract every fraud model type passes (LightGBM, XGBoost, logistic regression)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics import roc_auc_score

from fraudwatch.errors import BundleError, ConfigError, DataValidationError
from fraudwatch.models import MODEL_TYPES, FraudModel, ModelBase, make_model

FAST: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 60, "num_leaves": 15, "min_child_samples": 20, "num_threads": 1},
    "xgboost": {"n_estimators": 60, "max_depth": 4, "num_threads": 1},
    "logreg": {},
}
# XGBoost computes in float32: contributions sum to the margin only to ~1e-6.
SUM_TOL = {"lightgbm": 1e-9, "xgboost": 1e-4, "logreg": 1e-9}

pytestmark = pytest.mark.parametrize("kind", sorted(MODEL_TYPES))


def fit(kind: str, toy: Any, *, eval_set: bool = True, **params: Any) -> ModelBase:
    model = make_model(kind, **{**FAST[kind], **params})
    return model.fit(
        toy.x,
        toy.y,
        feature_names=toy.names,
        categorical=toy.categorical,
        eval_set=(toy.x_val, toy.y_val) if eval_set else None,
    )


_FITTED: dict[str, ModelBase] = {}


def fitted(kind: str, toy: Any) -> ModelBase:
    if kind not in _FITTED:
        _FITTED[kind] = fit(kind, toy)
    return _FITTED[kind]


def test_satisfies_protocol(kind: str, toy: Any) -> None:
    """Check that a fitted model satisfies the FraudModel protocol."""
    assert isinstance(fitted(kind, toy), FraudModel)


def test_fit_is_deterministic_for_a_seed(kind: str, toy: Any) -> None:
    """Check that two fits with the same seed give identical predictions."""
    a = fit(kind, toy, random_state=3).predict_proba(toy.x_val)
    b = fit(kind, toy, random_state=3).predict_proba(toy.x_val)
    np.testing.assert_array_equal(a, b)


def test_probabilities_rank_fraud_higher(kind: str, toy: Any) -> None:
    """Check that validation frauds score higher than legitimate rows (AUC well above 0.5)."""
    p = fitted(kind, toy).predict_proba(toy.x_val)
    assert p.shape == (toy.x_val.shape[0],)
    assert ((p >= 0) & (p <= 1)).all()
    assert roc_auc_score(toy.y_val, p) > 0.8


def test_separable_problem_is_learnt(kind: str) -> None:
    """Check that on a separable toy problem every fraud-like row outscores every other row."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1200, 3))
    y = (x[:, 0] > 1.0).astype(int)
    model = make_model(kind, **FAST[kind]).fit(x, y)
    p = model.predict_proba(x)
    assert p[y == 1].min() > p[y == 0].max() or roc_auc_score(y, p) > 0.999


def test_non_monotone_category_is_learnt(kind: str) -> None:
    """Check that categories 2 and 5 (not an ordered range of codes) are found risky."""
    rng = np.random.default_rng(2)
    cat = rng.integers(0, 8, 4000).astype(float)
    x = np.column_stack([cat, rng.normal(size=4000)])
    y = (np.isin(cat, (2, 5)) & (rng.random(4000) < 0.3)).astype(int)
    model = make_model(kind, **FAST[kind]).fit(x, y, categorical=[0])
    grid = np.column_stack([np.arange(8.0), np.zeros(8)])
    p = model.predict_proba(grid)
    risky = p[[2, 5]].min()
    others = np.delete(p, [2, 5]).max()
    assert risky > 3 * others


@pytest.mark.parametrize("method", ["path", "shap"])
def test_contributions_sum_to_margin(kind: str, method: str, toy: Any) -> None:
    """Check that each row's contributions (bias last) sum to the log-odds, for each method."""
    model = fitted(kind, toy)
    c = model.contributions(toy.x_val[:200], method=method)  # type: ignore[arg-type]
    assert c.shape == (200, toy.x.shape[1] + 1)
    margin = model.decision_function(toy.x_val[:200])
    np.testing.assert_allclose(c.sum(axis=1), margin, atol=SUM_TOL[kind], rtol=0)


def test_probability_is_sigmoid_of_margin(kind: str, toy: Any) -> None:
    """Check that predict_proba is the logistic function of decision_function."""
    model = fitted(kind, toy)
    m = model.decision_function(toy.x_val)
    np.testing.assert_allclose(model.predict_proba(toy.x_val), 1 / (1 + np.exp(-m)), rtol=1e-12)


def test_weight_correction_keeps_rate_scale(kind: str, toy: Any) -> None:
    """Check that class weights do not inflate probabilities far above the real fraud rate."""
    model = fitted(kind, toy)
    mean_p = model.predict_proba(toy.x_val).mean()
    rate = toy.y_val.mean()
    assert model.positive_weight_ > 1.0
    assert rate / 2 < mean_p < rate * 2


def test_save_load_round_trip(kind: str, toy: Any, tmp_path: Path) -> None:
    """Check that a saved and loaded model predicts and explains identically."""
    model = fitted(kind, toy)
    files = model.save(tmp_path)
    assert "model_meta.json" in files
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    loaded = type(model).load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(toy.x_val), model.predict_proba(toy.x_val))
    np.testing.assert_array_equal(loaded.contributions(toy.x_val), model.contributions(toy.x_val))
    assert loaded.feature_names_in_ == toy.names
    assert loaded.get_params() == model.get_params()


def test_saved_files_are_not_pickles(kind: str, toy: Any) -> None:
    """Check that no saved file is a Python pickle (protocol 2+ starts with 0x80)."""
    for content in fitted(kind, toy).to_files().values():
        assert not content.startswith(b"\x80")


def test_single_row_matches_batch(kind: str, toy: Any) -> None:
    """Check that scoring one row alone (one thread) equals its score in a batch."""
    model = fitted(kind, toy)
    batch = model.predict_proba(toy.x_val[:100])
    one = np.array([model.predict_proba(toy.x_val[i : i + 1])[0] for i in range(0, 100, 9)])
    np.testing.assert_allclose(one, batch[::9], rtol=1e-12)


def test_unseen_category_code_is_scored(kind: str, toy: Any) -> None:
    """Check that a category code never seen in training is scored, not refused."""
    row = toy.x_val[:1].copy()
    row[0, 4] = 999.0
    p = fitted(kind, toy).predict_proba(row)
    assert 0.0 <= p[0] <= 1.0


def test_refit_params_reproduce_chosen_rounds(kind: str, toy: Any) -> None:
    """Check that a refit with refit_params() needs no validation set and keeps the rounds."""
    model = fitted(kind, toy)
    params = {**model.get_params(), **model.refit_params()}
    refit = type(model)(**params).fit(toy.x, toy.y, categorical=toy.categorical)
    assert refit.n_iterations_ == model.n_iterations_ or kind == "logreg"


@settings(max_examples=25, deadline=None)
@given(
    data=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.just(5)),
        elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan)),
    )
)
def test_any_finite_input_gives_valid_scores(kind: str, toy: Any, data: np.ndarray) -> None:
    """Check that arbitrary finite/missing inputs give probabilities in [0, 1] and exact sums."""
    x = data.copy()
    x[:, 4] = np.where(np.isnan(x[:, 4]), np.nan, np.abs(np.round(x[:, 4])) % 50)
    model = fitted(kind, toy)
    p = model.predict_proba(x)
    assert ((p >= 0) & (p <= 1)).all()
    c = model.contributions(x)
    np.testing.assert_allclose(
        c.sum(axis=1), model.decision_function(x), atol=SUM_TOL[kind] * 10, rtol=1e-6
    )


def test_wrong_feature_count_refused(kind: str, toy: Any) -> None:
    """Check that predicting on a matrix with another number of columns is refused."""
    with pytest.raises(DataValidationError, match="4 feature column"):
        fitted(kind, toy).predict_proba(toy.x_val[:, :4])


def test_infinite_value_refused(kind: str, toy: Any) -> None:
    """Check that an infinite feature value is refused with the column named."""
    x = toy.x_val[:3].copy()
    x[1, 2] = np.inf
    with pytest.raises(DataValidationError, match="infinite value in feature column 2"):
        fitted(kind, toy).predict_proba(x)


def test_one_class_labels_refused(kind: str, toy: Any) -> None:
    """Check that training labels without any fraud are refused with a fix."""
    with pytest.raises(DataValidationError, match=r"0 fraud.*longer period"):
        make_model(kind).fit(toy.x, np.zeros(toy.x.shape[0]))


def test_non_binary_labels_refused(kind: str, toy: Any) -> None:
    """Check that labels other than 0/1 are refused."""
    y = toy.y.astype(int) * 2
    with pytest.raises(DataValidationError, match="only 0"):
        make_model(kind).fit(toy.x, y)


def test_bad_categorical_codes_refused(kind: str, toy: Any) -> None:
    """Check that non-integer codes in a categorical column are refused."""
    x = toy.x.copy()
    x[0, 4] = 2.5
    with pytest.raises(DataValidationError, match=r"'channel'.*integer codes"):
        make_model(kind).fit(x, toy.y, feature_names=toy.names, categorical=toy.categorical)


def test_bad_feature_name_refused(kind: str, toy: Any) -> None:
    """Check that a feature name the native formats cannot store is refused."""
    names = ("amount", "hour [0-23]", "velocity", "noise", "channel")
    with pytest.raises(ConfigError, match=r"hour \[0-23\]"):
        make_model(kind).fit(toy.x, toy.y, feature_names=names)


def test_empty_validation_fraud_refused(kind: str, toy: Any) -> None:
    """Check that a validation set without frauds is refused for early stopping."""
    with pytest.raises(DataValidationError, match="validation labels hold 0 fraud"):
        make_model(kind).fit(toy.x, toy.y, eval_set=(toy.x_val, np.zeros(len(toy.y_val))))


def test_unfitted_model_refuses_to_predict(kind: str, toy: Any) -> None:
    """Check that predicting before fit says to fit first."""
    with pytest.raises(ConfigError, match="not fitted yet"):
        make_model(kind).predict_proba(toy.x_val)


def test_load_of_other_model_type_refused(kind: str, toy: Any, tmp_path: Path) -> None:
    """Check that loading files of one model type as another is refused."""
    fitted(kind, toy).save(tmp_path)
    other = next(k for k in sorted(MODEL_TYPES) if k != kind)
    with pytest.raises(BundleError, match=f"describes a '{kind}' model"):
        MODEL_TYPES[other].load(tmp_path)


def test_load_with_missing_native_file_refused(kind: str, toy: Any, tmp_path: Path) -> None:
    """Check that a saved model missing its native file is refused, naming the file."""
    files = fitted(kind, toy).save(tmp_path)
    native = next(f for f in files if f != "model_meta.json")
    (tmp_path / native).unlink()
    with pytest.raises(BundleError, match=f"{native} is missing"):
        type(fitted(kind, toy)).load(tmp_path)


def test_invalid_parameter_value_named(kind: str, toy: Any) -> None:
    """Check that an invalid parameter value names the parameter, allowed values and value."""
    with pytest.raises(ConfigError, match=r"'class_weight'.*one of 'balanced', 'sqrt'.*'heavy'"):
        make_model(kind, class_weight="heavy").fit(toy.x, toy.y)
