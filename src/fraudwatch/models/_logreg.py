"""Logistic regression with scaling: the simple, explainable baseline.

Training uses scikit-learn (``StandardScaler`` then ``LogisticRegression`` with balanced
class weights). The fitted model is saved as plain JSON — scaler means and scales,
coefficients, intercept and the one-hot levels of categorical features — and prediction is
re-implemented from those numbers in numpy, so loading never unpickles anything.

Design matrix: a numeric feature ``x`` becomes ``(x - mean) / scale``, clipped to
``[-clip, clip]`` (fraud features are heavy-tailed: winsorising keeps a few extreme amounts
from dominating the fit and speeds up convergence), with a missing value set to 0 (the
training mean); a categorical feature becomes one indicator per level kept
(the ``max_categories`` most frequent codes seen in training); an unseen or missing code
sets no indicator. The contribution of a feature is its coefficient times its standardised
value (for a categorical feature, the coefficient of its active level).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from fraudwatch.models._base import (
    ExplainMethod,
    Matrix,
    ModelBase,
    Vector,
    check_explain_method,
    positive_weight,
    read_json_file,
    to_json_bytes,
)
from fraudwatch.models._params import Interval, NoneOk, OneOf

__all__ = ["LogisticModel"]

log = logging.getLogger(__name__)

MODEL_FILE = "model.json"


class LogisticModel(ModelBase):
    """Logistic regression on standardised features with one-hot categorical features.

    Parameters
    ----------
    C:
        Inverse L2 regularisation strength.
    class_weight:
        ``"balanced"`` (default), ``"sqrt"``, ``None`` or a positive weight for frauds.
        Weights are normalised to average 1 so ``C`` keeps its meaning.
    max_iter:
        Most L-BFGS iterations.
    tol:
        Convergence tolerance.
    clip:
        Standardised values are clipped to ``[-clip, clip]``; ``None`` disables it.
    max_categories:
        Most one-hot levels per categorical feature (the most frequent codes).
    random_state:
        Seed passed to scikit-learn (L-BFGS itself is deterministic).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(300, 2))
    >>> y = (x[:, 0] > 1).astype(int)
    >>> m = LogisticModel().fit(x, y)
    >>> bool(m.contributions(x)[:, 0].std() > m.contributions(x)[:, 1].std())
    True
    """

    name: ClassVar[str] = "logreg"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [OneOf(("balanced", "sqrt")), NoneOk(), Interval(Real, 0, None, "neither")],
        "max_iter": [Interval(Integral, 1)],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "clip": [Interval(Real, 0, None, closed="neither"), NoneOk()],
        "max_categories": [Interval(Integral, 1)],
        "random_state": [Interval(Integral, 0, 2**31 - 1)],
    }

    numeric_: tuple[int, ...]
    mean_: Vector
    scale_: Vector
    coef_numeric_: Vector
    levels_: tuple[Vector, ...]
    coef_levels_: tuple[Vector, ...]
    intercept_: float
    n_iterations_: int
    best_score_: float | None
    estimator_: Any
    scaler_: Any

    def __init__(
        self,
        C: float = 1.0,  # noqa: N803 - scikit-learn's name
        class_weight: str | float | None = "balanced",
        max_iter: int = 1000,
        tol: float = 1e-4,
        clip: float | None = 5.0,
        max_categories: int = 50,
        random_state: int = 42,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol
        self.clip = clip
        self.max_categories = max_categories
        self.random_state = random_state

    # -- design matrix ----------------------------------------------------------------------
    def _numeric_block(self, x: Matrix) -> Matrix:
        z = (x[:, list(self.numeric_)] - self.mean_) / self.scale_
        z[np.isnan(z)] = 0.0
        if self.clip is not None:
            np.clip(z, -self.clip, self.clip, out=z)
        return z

    def _onehot_blocks(self, x: Matrix) -> list[Matrix]:
        blocks = []
        for col, levels in zip(self.categorical_, self.levels_, strict=True):
            blocks.append((x[:, [col]] == levels[None, :]).astype(np.float64))
        return blocks

    def design_matrix(self, x: Matrix) -> Matrix:
        """The matrix the linear model sees: standardised numeric block, then one-hot blocks.

        Parameters
        ----------
        x:
            Feature matrix with the columns of ``feature_names_in_``.
        """
        xc = self._check_predict_input(x)
        return np.hstack([self._numeric_block(xc), *self._onehot_blocks(xc)])

    def _coef_vector(self) -> Vector:
        return np.concatenate([self.coef_numeric_, *self.coef_levels_])

    # -- fit --------------------------------------------------------------------------------
    def fit(
        self,
        x: Matrix,
        y: npt.ArrayLike,
        *,
        feature_names: Sequence[str] | None = None,
        categorical: Sequence[int] = (),
        eval_set: tuple[Matrix, npt.ArrayLike] | None = None,
    ) -> Self:
        """Fit the scaler and the regression; ``eval_set`` only records its average precision.

        Parameters are those of :meth:`fraudwatch.models.LightGBMModel.fit`.
        """
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import average_precision_score
        from sklearn.preprocessing import StandardScaler

        data = self._check_fit_inputs(x, y, feature_names, categorical, eval_set)
        self.feature_names_in_ = data.feature_names
        self.categorical_ = data.categorical
        cats = set(data.categorical)
        self.numeric_ = tuple(i for i in range(data.x.shape[1]) if i not in cats)

        x_num = data.x[:, list(self.numeric_)]
        empty = np.isnan(x_num).all(axis=0)
        if empty.any():  # a column with no value at all: mean 0, scale 1
            x_num = x_num.copy()
            x_num[:, empty] = 0.0
        scaler = StandardScaler().fit(x_num)
        self.mean_ = np.asarray(scaler.mean_, dtype=np.float64)
        self.scale_ = np.asarray(scaler.scale_, dtype=np.float64)

        levels = []
        for col in data.categorical:
            codes = data.x[:, col]
            codes = codes[~np.isnan(codes)]
            values, counts = np.unique(codes, return_counts=True)
            keep = np.lexsort((values, -counts))[: self.max_categories]
            levels.append(np.sort(values[keep]).astype(np.float64))
        self.levels_ = tuple(levels)

        w = positive_weight(data.y, self.class_weight)
        n = data.y.size
        n_pos = int(data.y.sum())
        w0 = n / ((n - n_pos) + w * n_pos)  # weights average to 1
        design = np.hstack([self._numeric_block(data.x), *self._onehot_blocks(data.x)])
        estimator = LogisticRegression(
            C=self.C,
            class_weight={0: w0, 1: w * w0},
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.random_state,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            estimator.fit(design, data.y)
        for warning in caught:
            if issubclass(warning.category, ConvergenceWarning):
                log.warning(
                    "logistic regression did not converge in %d iterations; raise max_iter or "
                    "lower C",
                    self.max_iter,
                )
            else:  # pragma: no cover - re-emit anything we did not expect
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        coef = np.asarray(estimator.coef_[0], dtype=np.float64)
        n_num = len(self.numeric_)
        self.coef_numeric_ = coef[:n_num]
        parts = []
        start = n_num
        for lv in self.levels_:
            parts.append(coef[start : start + lv.size])
            start += lv.size
        self.coef_levels_ = tuple(parts)
        self.intercept_ = float(estimator.intercept_[0])
        self.n_iterations_ = int(np.max(estimator.n_iter_))
        self.estimator_ = estimator
        self.scaler_ = scaler
        self.positive_weight_ = w
        self.margin_offset_ = -math.log(w)
        self.best_score_ = None
        if data.x_val is not None and data.y_val is not None:
            self.best_score_ = float(
                average_precision_score(data.y_val, self.decision_function(data.x_val))
            )
        return self

    # -- prediction -------------------------------------------------------------------------
    def decision_function(self, x: Matrix, *, num_threads: int | None = None) -> Vector:
        """Log-odds of the fraud probability, shape ``(n,)`` (``num_threads`` is ignored)."""
        design = self.design_matrix(x)
        margin = design @ self._coef_vector() + self.intercept_
        return np.asarray(margin + self.margin_offset_, dtype=np.float64)

    def contributions(self, x: Matrix, *, method: ExplainMethod = "path") -> Matrix:
        """Coefficient x standardised value per feature, plus the bias, ``(n, n_features + 1)``.

        For a linear model both explanation methods give this same, exact decomposition;
        ``method`` is only checked.
        """
        check_explain_method(method)
        xc = self._check_predict_input(x)
        n, f = xc.shape
        out = np.zeros((n, f + 1), dtype=np.float64)
        out[:, list(self.numeric_)] = self._numeric_block(xc) * self.coef_numeric_
        for col, block, coef in zip(
            self.categorical_, self._onehot_blocks(xc), self.coef_levels_, strict=True
        ):
            out[:, col] = block @ coef
        out[:, -1] = self.intercept_ + self.margin_offset_
        return out

    # -- files ------------------------------------------------------------------------------
    def _native_files(self) -> tuple[dict[str, bytes], dict[str, Any]]:
        body = {
            "numeric": list(self.numeric_),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "coef_numeric": self.coef_numeric_.tolist(),
            "categorical": [
                {"column": col, "levels": lv.tolist(), "coef": cf.tolist()}
                for col, lv, cf in zip(
                    self.categorical_, self.levels_, self.coef_levels_, strict=True
                )
            ],
            "intercept": self.intercept_,
            "clip": self.clip,
        }
        extra = {"n_iterations": self.n_iterations_, "best_score": self.best_score_}
        return {MODEL_FILE: to_json_bytes(body)}, extra

    def _restore_native(self, files: Mapping[str, bytes], meta: Mapping[str, Any]) -> None:
        body = read_json_file(files, MODEL_FILE, type(self).__name__)
        f = len(self.feature_names_in_)
        self.numeric_ = tuple(int(i) for i in body["numeric"])
        self.mean_ = np.asarray(body["mean"], dtype=np.float64)
        self.scale_ = np.asarray(body["scale"], dtype=np.float64)
        self.coef_numeric_ = np.asarray(body["coef_numeric"], dtype=np.float64)
        cats = body["categorical"]
        if [int(c["column"]) for c in cats] != list(self.categorical_):
            raise ValueError("categorical columns of model.json differ from model_meta.json")
        self.levels_ = tuple(np.asarray(c["levels"], dtype=np.float64) for c in cats)
        self.coef_levels_ = tuple(np.asarray(c["coef"], dtype=np.float64) for c in cats)
        self.intercept_ = float(body["intercept"])
        if body.get("clip") != self.clip:
            raise ValueError("clip of model.json differs from model_meta.json")
        sizes = {self.mean_.size, self.scale_.size, self.coef_numeric_.size, len(self.numeric_)}
        if len(sizes) != 1 or len(self.numeric_) + len(self.categorical_) != f:
            raise ValueError("model.json arrays do not match the number of features")
        if any(lv.size != cf.size for lv, cf in zip(self.levels_, self.coef_levels_, strict=True)):
            raise ValueError("model.json has a categorical feature with mismatched levels")
        self.n_iterations_ = int(meta["n_iterations"])
        best = meta.get("best_score")
        self.best_score_ = None if best is None else float(best)
