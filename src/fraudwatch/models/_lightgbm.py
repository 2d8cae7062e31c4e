"""Gradient-boosted trees with LightGBM, the default fraud model.

Defaults are chosen for card fraud (a 0.1–1 % positive class, tens of features):

* up to ``n_estimators=300`` trees of ``num_leaves=63`` at ``learning_rate=0.05``, stopped
  early when the validation average precision has not improved for
  ``early_stopping_rounds`` rounds (AP, not AUC: it measures the top of the ranking that
  analysts review);
* class imbalance through an explicit ``scale_pos_weight`` computed from the training labels
  (``class_weight="sqrt"`` by default: the square root of negatives/positives). An explicit
  weight is recorded in the model's metadata and can be reproduced, unlike
  ``is_unbalance``; the square root gives frauds enough weight to shape the trees without
  letting a few hundred positives (weighted x300 when fully balanced) dominate the splits.
  Probabilities are corrected back for the weight (see :mod:`fraudwatch.models._base`);
* native categorical splits for the columns listed in ``categorical``;
* ``deterministic=True`` with ``force_row_wise``: the same data and seed give the same trees;
* early stopping evaluates the validation AP every round, which costs a sort of the validation
  set each time: above ``eval_max_rows`` rows the evaluation uses every fraud and a seeded
  sample of legitimate rows weighted up to their full count (an unbiased AP estimate at a
  fraction of the cost; metrics reported by the pipeline use the full validation set).

Large batches are predicted in blocks of trees (see ``LightGBMModel._predict_blocks``); a single
row goes through the compiled tree walk (:mod:`fraudwatch.models._forest`) or, where that is
not built, LightGBM's single-row C API (see :class:`_SingleRowPredictor`), for its score and,
when it is explained, for its leaves. Contributions use the path attribution of
:mod:`fraudwatch.models._paths` by default, or LightGBM's TreeSHAP with ``method="shap"``.

The model is saved in LightGBM's own text format (``model.txt``).
"""

from __future__ import annotations

import ctypes
import logging
import math
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar, Self, TypeVar

import numpy as np
import numpy.typing as npt

from fraudwatch.models._base import (
    ExplainMethod,
    Matrix,
    ModelBase,
    Vector,
    check_explain_method,
    positive_weight,
    threads_for,
)
from fraudwatch.models._forest import RowPredictor, compiled_forest
from fraudwatch.models._params import Interval, NoneOk, OneOf
from fraudwatch.models._paths import LeafTables

__all__ = ["LightGBMModel"]

log = logging.getLogger(__name__)

MODEL_FILE = "model.txt"
_TREE_BLOCK = 30
"""Trees per predictor call on large batches (see ``LightGBMModel._predict_blocks``)."""
_BLOCK_MIN_ROWS = 1000
"""Batches smaller than this are predicted in one call (per-call overhead dominates)."""
_PREDICT_LOCK = threading.Lock()
"""Serialises ``Booster.predict`` calls (see ``LightGBMModel._predict_blocks``)."""
_T = TypeVar("_T")


class LightGBMModel(ModelBase):
    """LightGBM binary classifier for fraud.

    Parameters
    ----------
    n_estimators:
        Most boosting rounds.
    learning_rate:
        Shrinkage of each tree.
    num_leaves:
        Leaves per tree.
    max_depth:
        Deepest level of a leaf; ``None`` (default) leaves depth unlimited, so trees grow
        leaf-wise up to ``num_leaves``. Prediction and explanation time grow with depth.
    min_child_samples:
        Fewest training rows in a leaf.
    subsample:
        Fraction of rows bagged for each tree (1.0 disables bagging).
    colsample_bytree:
        Fraction of features considered by each tree.
    reg_lambda:
        L2 regularisation of leaf values.
    max_bin:
        Histogram bins per numeric feature.
    class_weight:
        ``"sqrt"``, ``"balanced"``, ``None`` or a positive weight for frauds.
    early_stopping_rounds:
        Rounds without validation-AP improvement before stopping; ``None`` trains all
        ``n_estimators`` rounds.
    eval_max_rows:
        Largest validation set evaluated each round; above it, legitimate rows are sampled
        (every fraud kept) and weighted. ``None`` always evaluates every row.
    num_threads:
        Training threads; ``None`` lets LightGBM use every core. Batch predictions use it
        too; calls with 64 rows or fewer use one thread.
    random_state:
        Seed of every random choice (bagging, feature sampling).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 3))
    >>> y = (x[:, 0] > 1.2).astype(int)
    >>> m = LightGBMModel(n_estimators=20, min_child_samples=5).fit(x, y)
    >>> bool(m.predict_proba(x[y == 1]).mean() > m.predict_proba(x[y == 0]).mean())
    True
    """

    name: ClassVar[str] = "lightgbm"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(Integral, 1)],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "num_leaves": [Interval(Integral, 2, 131072)],
        "max_depth": [Interval(Integral, 1), NoneOk()],
        "min_child_samples": [Interval(Integral, 1)],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0)],
        "max_bin": [Interval(Integral, 2)],
        "class_weight": [OneOf(("balanced", "sqrt")), NoneOk(), Interval(Real, 0, None, "neither")],
        "early_stopping_rounds": [Interval(Integral, 1), NoneOk()],
        "eval_max_rows": [Interval(Integral, 1000), NoneOk()],
        "num_threads": [Interval(Integral, 1), NoneOk()],
        "random_state": [Interval(Integral, 0, 2**31 - 1)],
    }

    booster_: Any
    n_iterations_: int
    best_score_: float | None

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 63,
        max_depth: int | None = None,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 255,
        class_weight: str | float | None = "sqrt",
        early_stopping_rounds: int | None = 30,
        eval_max_rows: int | None = 50_000,
        num_threads: int | None = None,
        random_state: int = 42,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.class_weight = class_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.eval_max_rows = eval_max_rows
        self.num_threads = num_threads
        self.random_state = random_state

    def _lgb_params(self, pos_weight: float) -> dict[str, Any]:
        return {
            "objective": "binary",
            "metric": "average_precision",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": -1 if self.max_depth is None else self.max_depth,
            "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "max_bin": self.max_bin,
            "scale_pos_weight": pos_weight,
            "max_cat_to_onehot": 4,
            "cat_smooth": 10.0,
            "min_data_per_group": 50,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.num_threads or 0,
            "verbosity": -1,
        }

    def fit(
        self,
        x: Matrix,
        y: npt.ArrayLike,
        *,
        feature_names: Sequence[str] | None = None,
        categorical: Sequence[int] = (),
        eval_set: tuple[Matrix, npt.ArrayLike] | None = None,
    ) -> Self:
        """Train on ``x``, ``y``; with ``eval_set`` stop early on its average precision.

        Parameters
        ----------
        x:
            Training matrix, ``NaN`` for missing values.
        y:
            Labels, 1 for fraud.
        feature_names:
            Column names (default ``f0``, ``f1``, ...).
        categorical:
            Indices of columns holding category codes.
        eval_set:
            ``(x_val, y_val)``, later in time than the training rows.

        Returns
        -------
        LightGBMModel
            ``self``, fitted.
        """
        import lightgbm as lgb

        data = self._check_fit_inputs(x, y, feature_names, categorical, eval_set)
        w = positive_weight(data.y, self.class_weight)
        params = self._lgb_params(w)
        train_set = lgb.Dataset(
            data.x,
            label=data.y,
            feature_name=list(data.feature_names),
            categorical_feature=list(data.categorical),
            free_raw_data=True,
        )
        callbacks: list[Any] = []
        valid_sets: list[Any] = []
        evals: dict[str, Any] = {}
        if data.x_val is not None and data.y_val is not None:
            x_val, y_val, w_val = self._eval_sample(data.x_val, data.y_val)
            valid_sets.append(lgb.Dataset(x_val, label=y_val, weight=w_val, reference=train_set))
            callbacks.append(lgb.record_evaluation(evals))
            if self.early_stopping_rounds is not None:
                callbacks.append(
                    lgb.early_stopping(
                        self.early_stopping_rounds, first_metric_only=True, verbose=False
                    )
                )
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=self.n_estimators,
            valid_sets=valid_sets,
            valid_names=["validation"] * len(valid_sets),
            callbacks=callbacks,
        )
        best = int(booster.best_iteration) if booster.best_iteration > 0 else None
        n_iter = best if best is not None else int(booster.current_iteration())
        # Keep exactly the chosen trees, so predictions, contributions and the saved file agree.
        self.booster_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=n_iter))
        self.n_iterations_ = n_iter
        history = evals.get("validation", {}).get("average_precision")
        self.best_score_ = float(history[n_iter - 1]) if history else None
        self.feature_names_in_ = data.feature_names
        self.categorical_ = data.categorical
        self.positive_weight_ = w
        self.margin_offset_ = -math.log(w)
        return self

    def _eval_sample(
        self, x_val: Matrix, y_val: npt.NDArray[np.int8]
    ) -> tuple[Matrix, npt.NDArray[np.int8], Vector | None]:
        """Every fraud and a seeded, up-weighted sample of legitimate rows (if too many)."""
        if self.eval_max_rows is None or y_val.size <= self.eval_max_rows:
            return x_val, y_val, None
        pos = np.flatnonzero(y_val == 1)
        neg = np.flatnonzero(y_val == 0)
        keep_neg = max(1, min(neg.size, self.eval_max_rows - pos.size))
        rng = np.random.default_rng(self.random_state)
        chosen = np.sort(rng.choice(neg, size=keep_neg, replace=False))
        rows = np.sort(np.concatenate([pos, chosen]))
        weight = np.where(y_val[rows] == 1, 1.0, neg.size / keep_neg)
        return x_val[rows], y_val[rows], weight

    def refit_params(self) -> dict[str, Any]:
        """``n_estimators`` fixed to the rounds chosen by early stopping, no early stopping."""
        return {"n_estimators": self.n_iterations_, "early_stopping_rounds": None}

    def decision_function(self, x: Matrix, *, num_threads: int | None = None) -> Vector:
        """Log-odds of the fraud probability, shape ``(n,)``.

        A single row takes a one-row fast path (the compiled tree walk, else LightGBM's
        single-row C API: same trees, same result, a fraction of the CPU time of
        ``Booster.predict``); ``num_threads`` does not apply to it.
        """
        xc = self._check_predict_input(x)
        single = self._single_row_for(xc)
        if single is not None:
            return np.array([single.raw_score(xc) + self.margin_offset_], dtype=np.float64)
        threads = threads_for(xc.shape[0], self.num_threads, num_threads)
        blocks = self._predict_blocks(xc, threads, raw_score=True)
        raw = np.asarray(blocks[0], dtype=np.float64)
        for block in blocks[1:]:
            raw += block
        return raw + self.margin_offset_

    def prepare_row_scoring(self) -> bool:
        """Build the one-row predictor now (~0.1 s for 300 trees) instead of on the first row.

        Returns True when one row takes a fast path (the compiled walk or LightGBM's C API).
        """
        return self._single_row() is not None

    def _single_row_for(self, xc: Matrix) -> RowPredictor | None:
        """The single-row predictor if ``xc`` is one row and a fast path is available."""
        return self._single_row() if xc.shape[0] == 1 else None

    def _single_row(self) -> RowPredictor | None:
        """The single-row predictor of the current ``booster_``, built on first use.

        The compiled tree walk (:mod:`fraudwatch.models._forest`) when it is built, else
        LightGBM's single-row C API; ``None`` when neither is available (generic path then).
        Two threads arriving together may both build one; the spare is freed when dropped.
        """
        cached: tuple[Any, RowPredictor | None] | None = self.__dict__.get("_single")
        if cached is not None and cached[0] is self.booster_:
            return cached[1]
        self._single = (self.booster_, row_predictor(self.booster_))
        return self._single[1]

    def __getstate__(self) -> dict[str, Any]:
        """The instance state without the native single-row handles (rebuilt on first use)."""
        state = self.__dict__.copy()
        state.pop("_single", None)
        return state

    def _predict_blocks(self, xc: Matrix, threads: int, **kind: bool) -> list[Any]:
        """``booster_.predict`` over consecutive blocks of trees for a large batch.

        LightGBM sends each row through every tree before the next row; a few hundred trees
        of 63 leaves do not stay in a core's cache. Blocks of :data:`_TREE_BLOCK` trees
        halved the CPU time of 200,000 rows x 297 trees (docs/benchmarks.md, "Batch
        scoring"). The sum over blocks may differ from a single call in the last bits
        (below 1e-13 on the log-odds).
        """
        n_trees = int(self.booster_.current_iteration())
        # The booster keeps the tree range of its last prediction in shared state: two
        # threads predicting different ranges at once could each sum the other's trees.
        with _PREDICT_LOCK:
            if xc.shape[0] < _BLOCK_MIN_ROWS or n_trees <= _TREE_BLOCK:
                return [self.booster_.predict(xc, num_threads=threads, **kind)]
            return [
                self.booster_.predict(
                    xc,
                    start_iteration=start,
                    num_iteration=min(_TREE_BLOCK, n_trees - start),
                    num_threads=threads,
                    **kind,
                )
                for start in range(0, n_trees, _TREE_BLOCK)
            ]

    def contributions(self, x: Matrix, *, method: ExplainMethod = "path") -> Matrix:
        """Contributions of each feature to the log-odds, shape ``(n, n_features + 1)``.

        The last column is the bias (the trees' average output plus the weight correction);
        each row sums to :meth:`decision_function` to rounding (about 1e-12).

        Parameters
        ----------
        x:
            Feature matrix with the columns of ``feature_names_in_``.
        method:
            ``"path"`` (default): the change of node value at each split on the row's path,
            credited to the split's feature, at about the cost of one prediction (leaf
            tables built once per model, see :mod:`fraudwatch.models._paths`). A single row
            gets its leaves from the single-row fast path and sums its table rows densely:
            the same contributions bit for bit, in about a third of the CPU time.
            ``"shap"``: LightGBM's TreeSHAP, about 100x the cost of a prediction.
        """
        check_explain_method(method)
        xc = self._check_predict_input(x)
        if xc.shape[0] == 0:
            return np.zeros((0, xc.shape[1] + 1), dtype=np.float64)
        if method == "path":
            out = self.leaf_tables().contributions(self._leaf_indices(xc))
        else:
            threads = threads_for(xc.shape[0], self.num_threads, None)
            with _PREDICT_LOCK:
                raw = self.booster_.predict(xc, pred_contrib=True, num_threads=threads)
            out = np.array(raw, dtype=np.float64)
        out[:, -1] += self.margin_offset_
        return out

    def _leaf_indices(self, xc: Matrix) -> npt.NDArray[np.int32]:
        """The leaf of each row in every tree, ``(n, n_trees)``; one row takes the fast path."""
        single = self._single_row_for(xc)
        if single is not None:
            return single.leaf_indices(xc)
        threads = threads_for(xc.shape[0], self.num_threads, None)
        blocks = self._predict_blocks(xc, threads, pred_leaf=True)
        return np.hstack([np.asarray(b).reshape(xc.shape[0], -1) for b in blocks])

    def leaf_tables(self) -> LeafTables:
        """The per-leaf contribution tables of the path method, built on first use."""
        cached: tuple[Any, LeafTables] | None = getattr(self, "_leaf_tables", None)
        if cached is not None and cached[0] is self.booster_:
            return cached[1]
        tables = LeafTables.from_lightgbm(self.booster_.dump_model(), len(self._fitted_names()))
        self._leaf_tables = (self.booster_, tables)
        return tables

    def _native_files(self) -> tuple[dict[str, bytes], dict[str, Any]]:
        text = self.booster_.model_to_string()
        extra = {"n_iterations": self.n_iterations_, "best_score": self.best_score_}
        return {MODEL_FILE: str(text).encode("utf-8")}, extra

    def _restore_native(self, files: Mapping[str, bytes], meta: Mapping[str, Any]) -> None:
        import lightgbm as lgb
        from lightgbm.basic import LightGBMError

        try:
            self.booster_ = lgb.Booster(model_str=files[MODEL_FILE].decode("utf-8"))
        except LightGBMError as exc:
            raise ValueError(f"{MODEL_FILE} is not a LightGBM model: {exc}") from None
        self.n_iterations_ = int(meta["n_iterations"])
        best = meta.get("best_score")
        self.best_score_ = None if best is None else float(best)
        if self.booster_.feature_name() != list(self.feature_names_in_):
            names = list(self.feature_names_in_)
            raise ValueError(f"{MODEL_FILE} holds other features than {names}")


def row_predictor(booster: Any) -> RowPredictor | None:
    """The fastest one-row predictor of ``booster`` (a ``lightgbm.Booster`` or model text).

    Of the trees ``Booster.predict`` uses by default (``best_iteration`` if set, else all),
    or of every tree of a model text: the compiled walk, else LightGBM's single-row C API on
    the same text; ``None`` when that is missing too.
    """
    if isinstance(booster, str):
        text = booster
    else:
        text = str(booster.model_to_string(num_iteration=_default_iteration(booster)))
    compiled = compiled_forest(text)
    if compiled is not None:
        return compiled
    try:
        return _SingleRowPredictor(text)
    except (ImportError, AttributeError) as exc:
        log.info("LightGBM single-row fast path unavailable (%s)", exc)
        return None


def _default_iteration(booster: Any) -> int:
    """The iterations ``Booster.predict`` uses by default: ``best_iteration`` if set, else all."""
    return int(getattr(booster, "best_iteration", -1) or -1)


class _SingleRowPredictor:
    """Raw scores and leaf indices of one row at a time through LightGBM's single-row C API.

    ``LGBM_BoosterPredictForMatSingleRowFastInit`` prepares a ``FastConfig`` once for one
    predict type (parsed parameters, predictor, buffers); ``LGBM_BoosterPredictForMatSingleRowFast``
    then predicts a row with it, skipping the per-call set-up of ``Booster.predict``. Two
    predict types are served, each by its own configs: the raw score (:meth:`raw_score`) and
    the leaf reached in every tree (:meth:`leaf_indices`, for the path contributions). The
    functions are called through lightgbm's own loaded library (``lightgbm.basic._LIB``), with
    prototypes declared here so the library's shared function objects are left untouched.

    Safety:

    * **Own booster.** A ``FastConfig`` reads the tree range to use from the booster at
      prediction time, and every ``Booster.predict`` call rewrites that range (LightGBM issue
      #6142): after a call on a block of trees (``_predict_blocks``) a ``FastConfig`` on the
      same booster would sum (or report the leaves of) only that block. This class therefore
      loads a private booster from the model's text (a second copy in memory), used by
      nothing else, on which every ``FastConfig``, whatever its predict type, asks for every
      tree of that text (:func:`row_predictor` writes the trees ``Booster.predict`` uses by
      default).
    * **Threads.** A ``FastConfig`` holds one set of buffers. Each call takes an idle one of
      its predict type from that type's pool (or makes a new one), so concurrent callers never
      share one; a pool grows to the largest number of simultaneous callers of its type.
      ``list.pop``/``append`` are atomic, the output is read before the config goes back to
      its pool, and the C calls release the GIL.
    * **Freeing.** A :func:`weakref.finalize` frees every ``FastConfig`` when this object
      is dropped (not at interpreter exit, where the process releases them). It keeps the
      private booster alive until then, so the configs are freed before the booster they
      point into.

    ``text`` is a model in LightGBM's text format (a booster's, or the one
    :class:`~fraudwatch.models.AnomalyDetector` writes for its forest).
    """

    def __init__(self, text: str) -> None:
        import lightgbm as lgb
        from lightgbm.libpath import _LIB  # the library lightgbm.basic calls

        c_int, c_void_p = ctypes.c_int, ctypes.c_void_p
        self._own = lgb.Booster(model_str=text)
        self._num_iteration = -1  # every tree of the text
        self._n_features = int(self._own.num_feature())
        self._calc_num_predict = ctypes.CFUNCTYPE(
            c_int, c_void_p, c_int, c_int, c_int, c_int, ctypes.POINTER(ctypes.c_int64)
        )(("LGBM_BoosterCalcNumPredict", _LIB))
        self._fast_init = ctypes.CFUNCTYPE(
            c_int,
            c_void_p,
            c_int,
            c_int,
            c_int,
            c_int,
            ctypes.c_int32,
            ctypes.c_char_p,
            ctypes.POINTER(c_void_p),
        )(("LGBM_BoosterPredictForMatSingleRowFastInit", _LIB))
        self._fast_predict = ctypes.CFUNCTYPE(
            c_int,
            c_void_p,
            c_void_p,
            ctypes.POINTER(ctypes.c_int64),
            ctypes.POINTER(ctypes.c_double),
        )(("LGBM_BoosterPredictForMatSingleRowFast", _LIB))
        free = ctypes.CFUNCTYPE(c_int, c_void_p)(("LGBM_FastConfigFree", _LIB))
        self._idle: dict[int, list[_FastSlot]] = {_PREDICT_RAW_SCORE: [], _PREDICT_LEAF_INDEX: []}
        self._handles: list[ctypes.c_void_p] = []
        self._finalizer = weakref.finalize(self, _free_fast_configs, free, self._handles, self._own)
        # Not at interpreter exit: a daemon thread could still be scoring with a config.
        self._finalizer.atexit = False

    @property
    def n_configs(self) -> int:
        """Number of ``FastConfig`` handles made so far, all predict types together."""
        return len(self._handles)

    def _n_outputs(self, predict_type: int) -> int:
        """Values LightGBM writes for one row of ``predict_type`` (1 raw score, 1 leaf a tree)."""
        from lightgbm.basic import _safe_call

        n = ctypes.c_int64(0)
        _safe_call(
            self._calc_num_predict(
                self._own._handle, 1, predict_type, 0, self._num_iteration, ctypes.byref(n)
            )
        )
        return int(n.value)

    def _new_slot(self, predict_type: int) -> _FastSlot:
        from lightgbm.basic import _safe_call

        size = self._n_outputs(predict_type)
        handle = ctypes.c_void_p()
        _safe_call(
            self._fast_init(
                self._own._handle,
                predict_type,
                0,  # start_iteration
                self._num_iteration,
                _DTYPE_FLOAT64,
                self._n_features,
                b"num_threads=1",
                ctypes.byref(handle),
            )
        )
        self._handles.append(handle)
        return _FastSlot(handle, size, self._n_features)

    def _predict(self, predict_type: int, row: Matrix, read: Callable[[_FastSlot], _T]) -> _T:
        """Predict ``row`` with an idle config of ``predict_type``; ``read`` its output.

        ``row`` is a float64 ``(1, n_features)`` or ``(n_features,)``, copied into the
        config's own input buffer (cheaper than looking up the row's address through
        ``row.ctypes``, about 1.5 µs a call). ``read`` runs before the config goes back to its
        pool (another caller may then overwrite the buffers).
        """
        idle = self._idle[predict_type]
        try:
            slot = idle.pop()
        except IndexError:
            slot = self._new_slot(predict_type)
        try:
            np.copyto(slot.row, row, casting="no")
            ret = self._fast_predict(slot.handle, slot.row_address, slot.out_len_ref, slot.out)
            value = read(slot)
        finally:
            idle.append(slot)
        if ret != 0:
            from lightgbm.basic import _safe_call

            _safe_call(ret)
        return value

    def raw_score(self, row: Matrix) -> float:
        """Raw score (sum of the trees) of ``row``, ``(1, n_features)`` or ``(n_features,)``.

        ``row`` is copied (see :meth:`_predict`); it is refused unless float64 of that size.
        """
        return self._predict(_PREDICT_RAW_SCORE, row, _read_raw_score)

    def leaf_indices(self, row: Matrix) -> npt.NDArray[np.int32]:
        """Leaf of ``row`` in every tree, ``(1, n_trees)`` like ``predict(pred_leaf=True)``.

        ``row`` is a float64 ``(1, n_features)`` or ``(n_features,)``.
        """
        return self._predict(_PREDICT_LEAF_INDEX, row, _read_leaf_indices)


class _FastSlot:
    """One ``FastConfig`` handle with its buffers, used by one caller at a time.

    ``out`` holds ``size`` doubles, also seen as the numpy array ``values`` (no copy);
    ``row`` is the ``(1, n_features)`` float64 input, at address ``row_address``.
    """

    __slots__ = (
        "handle",
        "out",
        "out_len",
        "out_len_ref",
        "row",
        "row_address",
        "row_in",
        "values",
    )

    def __init__(self, handle: ctypes.c_void_p, size: int, n_features: int) -> None:
        self.handle = handle
        self.row_in = (ctypes.c_double * n_features)()
        self.row: npt.NDArray[np.float64] = np.ctypeslib.as_array(self.row_in).reshape(1, -1)
        self.row_address = ctypes.addressof(self.row_in)
        self.out = (ctypes.c_double * size)()
        self.values: npt.NDArray[np.float64] = np.ctypeslib.as_array(self.out)
        self.out_len = ctypes.c_int64(0)
        self.out_len_ref = ctypes.byref(self.out_len)


def _read_raw_score(slot: _FastSlot) -> float:
    """The raw score a raw-score slot holds."""
    return float(slot.out[0])


def _read_leaf_indices(slot: _FastSlot) -> npt.NDArray[np.int32]:
    """A copy of the leaf indices a leaf-index slot holds, ``(1, n_trees)`` int32."""
    return slot.values.astype(np.int32).reshape(1, -1)


_PREDICT_RAW_SCORE = 1
"""``C_API_PREDICT_RAW_SCORE`` of LightGBM's ``c_api.h``."""
_PREDICT_LEAF_INDEX = 2
"""``C_API_PREDICT_LEAF_INDEX`` of LightGBM's ``c_api.h``."""
_DTYPE_FLOAT64 = 1
"""``C_API_DTYPE_FLOAT64`` of LightGBM's ``c_api.h``."""


def _free_fast_configs(free: Any, handles: list[ctypes.c_void_p], booster: Any) -> None:
    """Free every ``FastConfig`` of a dropped :class:`_SingleRowPredictor`.

    ``booster`` (the private copy the configs point into) is only held until this has run.
    """
    while handles:
        free(handles.pop())
    del booster
