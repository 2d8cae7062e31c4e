"""Gradient-boosted trees with XGBoost, an alternative to LightGBM.

Same policy as :class:`fraudwatch.models.LightGBMModel`: histogram trees, early stopping on
the validation area under the precision-recall curve (``aucpr``), an explicit
``scale_pos_weight`` with the prior-shift correction, native categorical splits
(``enable_categorical`` with the categorical columns declared as type ``"c"``).

Saved in XGBoost's own format: UBJSON (``model.ubj``, default) or JSON (``model.json``).
XGBoost is an optional dependency (``pip install 'fraudwatch[xgboost]'``). Its single-row
latency is several times LightGBM's: prefer LightGBM on the request path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from fraudwatch.errors import ConfigError
from fraudwatch.models._base import (
    ExplainMethod,
    Matrix,
    ModelBase,
    Vector,
    check_explain_method,
    positive_weight,
)
from fraudwatch.models._params import Interval, NoneOk, OneOf

__all__ = ["XGBoostModel"]


def _xgb() -> Any:
    try:
        import xgboost
    except ImportError:  # pragma: no cover - the test environment has xgboost
        raise ConfigError(
            "the xgboost model needs the xgboost package: pip install 'fraudwatch[xgboost]', "
            "or train with --model lightgbm"
        ) from None
    return xgboost


class XGBoostModel(ModelBase):
    """XGBoost binary classifier for fraud.

    Parameters
    ----------
    n_estimators:
        Most boosting rounds.
    learning_rate:
        Shrinkage of each tree (``eta``).
    max_depth:
        Depth of each tree.
    min_child_weight:
        Smallest hessian sum in a leaf.
    subsample:
        Fraction of rows sampled for each tree.
    colsample_bytree:
        Fraction of features sampled for each tree.
    reg_lambda:
        L2 regularisation of leaf weights.
    max_bin:
        Histogram bins per numeric feature.
    class_weight:
        ``"sqrt"``, ``"balanced"``, ``None`` or a positive weight for frauds.
    early_stopping_rounds:
        Rounds without validation improvement before stopping; ``None`` disables it.
    num_threads:
        Threads (``None``: every core).
    random_state:
        Seed.
    model_format:
        ``"ubj"`` (binary UBJSON) or ``"json"``.
    """

    name: ClassVar[str] = "xgboost"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(Integral, 1)],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_depth": [Interval(Integral, 1, 20)],
        "min_child_weight": [Interval(Real, 0)],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0)],
        "max_bin": [Interval(Integral, 2)],
        "class_weight": [OneOf(("balanced", "sqrt")), NoneOk(), Interval(Real, 0, None, "neither")],
        "early_stopping_rounds": [Interval(Integral, 1), NoneOk()],
        "num_threads": [Interval(Integral, 1), NoneOk()],
        "random_state": [Interval(Integral, 0, 2**31 - 1)],
        "model_format": [OneOf(("ubj", "json"))],
    }

    booster_: Any
    n_iterations_: int
    best_score_: float | None

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 256,
        class_weight: str | float | None = "sqrt",
        early_stopping_rounds: int | None = 30,
        num_threads: int | None = None,
        random_state: int = 42,
        model_format: str = "ubj",
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.class_weight = class_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.num_threads = num_threads
        self.random_state = random_state
        self.model_format = model_format

    def _feature_types(self, n: int) -> list[str]:
        cats = set(self.categorical_)
        return ["c" if i in cats else "q" for i in range(n)]

    def _dmatrix(self, x: Matrix, y: npt.ArrayLike | None = None) -> Any:
        xgb = _xgb()
        return xgb.DMatrix(
            x,
            label=y,
            feature_names=list(self.feature_names_in_),
            feature_types=self._feature_types(x.shape[1]),
            enable_categorical=True,
            nthread=self.num_threads or -1,
        )

    def fit(
        self,
        x: Matrix,
        y: npt.ArrayLike,
        *,
        feature_names: Sequence[str] | None = None,
        categorical: Sequence[int] = (),
        eval_set: tuple[Matrix, npt.ArrayLike] | None = None,
    ) -> Self:
        """Train on ``x``, ``y``; with ``eval_set`` stop early on its ``aucpr``.

        Parameters are those of :meth:`fraudwatch.models.LightGBMModel.fit`.
        """
        xgb = _xgb()
        data = self._check_fit_inputs(x, y, feature_names, categorical, eval_set)
        self.feature_names_in_ = data.feature_names
        self.categorical_ = data.categorical
        w = positive_weight(data.y, self.class_weight)
        params = {
            "objective": "binary:logistic",
            "eval_metric": "aucpr",
            "tree_method": "hist",
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "max_bin": self.max_bin,
            "max_cat_to_onehot": 4,
            "scale_pos_weight": w,
            "seed": self.random_state,
            "verbosity": 0,
        }
        if self.num_threads is not None:
            params["nthread"] = self.num_threads
        dtrain = self._dmatrix(data.x, data.y)
        evals: list[tuple[Any, str]] = []
        history: dict[str, Any] = {}
        stopping = None
        if data.x_val is not None:
            evals.append((self._dmatrix(data.x_val, data.y_val), "validation"))
            stopping = self.early_stopping_rounds
        booster = xgb.train(
            params,
            dtrain,
            num_boost_round=self.n_estimators,
            evals=evals,
            evals_result=history,
            early_stopping_rounds=stopping,
            verbose_eval=False,
        )
        if stopping is not None:
            n_iter = int(booster.best_iteration) + 1
            booster = booster[:n_iter]
        else:
            n_iter = int(booster.num_boosted_rounds())
        self.booster_ = booster
        self.n_iterations_ = n_iter
        curve = history.get("validation", {}).get("aucpr")
        self.best_score_ = float(curve[n_iter - 1]) if curve else None
        self.positive_weight_ = w
        self.margin_offset_ = -math.log(w)
        return self

    def refit_params(self) -> dict[str, Any]:
        """``n_estimators`` fixed to the rounds chosen by early stopping, no early stopping."""
        return {"n_estimators": self.n_iterations_, "early_stopping_rounds": None}

    def decision_function(self, x: Matrix, *, num_threads: int | None = None) -> Vector:
        """Log-odds of the fraud probability, shape ``(n,)``."""
        xc = self._check_predict_input(x)
        raw = self.booster_.inplace_predict(xc, predict_type="margin")
        return np.asarray(raw, dtype=np.float64) + self.margin_offset_

    def contributions(self, x: Matrix, *, method: ExplainMethod = "path") -> Matrix:
        """Contributions of each feature to the log-odds, shape ``(n, n_features + 1)``.

        The last column is the bias; rows sum to :meth:`decision_function` (to float32
        precision, XGBoost's internal type).

        Parameters
        ----------
        x:
            Feature matrix with the columns of ``feature_names_in_``.
        method:
            ``"path"`` (default): XGBoost's ``approx_contribs`` (the change of node value at
            each split on the row's path, credited to the split's feature), about the cost
            of a prediction. ``"shap"``: XGBoost's TreeSHAP, much slower.
        """
        check_explain_method(method)
        xc = self._check_predict_input(x)
        out = np.array(
            self.booster_.predict(
                self._dmatrix(xc), pred_contribs=True, approx_contribs=method == "path"
            ),
            np.float64,
        )
        out[:, -1] += self.margin_offset_
        return out

    def _native_files(self) -> tuple[dict[str, bytes], dict[str, Any]]:
        fname = f"model.{self.model_format}"
        raw = bytes(self.booster_.save_raw(raw_format=self.model_format))
        extra = {
            "n_iterations": self.n_iterations_,
            "best_score": self.best_score_,
            "model_file": fname,
        }
        return {fname: raw}, extra

    def _restore_native(self, files: Mapping[str, bytes], meta: Mapping[str, Any]) -> None:
        xgb = _xgb()
        fname = str(meta["model_file"])
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(files[fname]))
        except xgb.core.XGBoostError as exc:
            raise ValueError(f"{fname} is not an XGBoost model: {exc}") from None
        if booster.feature_names != list(self.feature_names_in_):
            raise ValueError(f"{fname} holds other features than {list(self.feature_names_in_)}")
        self.booster_ = booster
        self.n_iterations_ = int(meta["n_iterations"])
        best = meta.get("best_score")
        self.best_score_ = None if best is None else float(best)
