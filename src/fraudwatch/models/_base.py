"""The common interface of fraud models and what their implementations share.

A fraud model is a binary classifier over a dense float matrix ``x`` (one column per
feature, ``NaN`` for a missing value). Categorical features arrive as non-negative integer
codes (stored as floats, ``NaN`` for missing) and are named by their column index in
``categorical``; turning strings into codes is the job of
:class:`fraudwatch.models.FeatureEncoder`.

Scores follow three rules that every implementation keeps:

* higher means more suspicious;
* :meth:`FraudModel.predict_proba` returns the fraud probability, shape ``(n,)`` (unlike
  scikit-learn's ``(n, 2)``);
* ``contributions(x).sum(axis=1) == decision_function(x)`` (the log-odds of
  ``predict_proba``), the last column being the bias, for each explanation method
  (:data:`EXPLAIN_METHODS`: ``"path"``, the default, and ``"shap"``).

Class weights make the learner see frauds as heavier (``class_weight``); the log of the
weight is then subtracted from the margin (the prior-shift correction), so probabilities
stay on the scale of the real fraud rate while rankings are unchanged.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from fraudwatch.errors import BundleError, ConfigError, DataValidationError

__all__ = [
    "EXPLAIN_METHODS",
    "META_FILE",
    "ExplainMethod",
    "FitInputs",
    "FraudModel",
    "Matrix",
    "ModelBase",
    "Vector",
    "check_explain_method",
    "check_matrix",
    "positive_weight",
    "read_json_file",
    "sigmoid",
    "threads_for",
    "to_json_bytes",
]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]

META_FILE = "model_meta.json"
"""Name of the metadata file every fraud model writes beside its native model file."""

FORMAT_VERSION = 1

ExplainMethod = Literal["path", "shap"]
EXPLAIN_METHODS: tuple[ExplainMethod, ...] = ("path", "shap")
"""How contributions are computed: ``path`` (split-by-split changes along the row's path in
each tree, about the cost of a prediction) or ``shap`` (TreeSHAP, about 100x that). Both
sum exactly to the log-odds; a linear model gives the same answer for both."""

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_MAX_CODE = 2**31 - 2


@runtime_checkable
class FraudModel(Protocol):
    """What every fraud model offers (LightGBM, XGBoost, logistic regression).

    Implementations follow the scikit-learn estimator contract: ``__init__`` only stores
    parameters, :meth:`fit` validates its inputs and returns ``self``, and learned state
    ends with an underscore.
    """

    name: ClassVar[str]

    def fit(
        self,
        x: Matrix,
        y: npt.ArrayLike,
        *,
        feature_names: Sequence[str] | None = None,
        categorical: Sequence[int] = (),
        eval_set: tuple[Matrix, npt.ArrayLike] | None = None,
    ) -> Self:
        """Learn from ``x`` and labels ``y`` (0/1); early-stop on ``eval_set`` when given."""
        ...

    def predict_proba(self, x: Matrix, *, num_threads: int | None = None) -> Vector:
        """Fraud probability of each row, shape ``(n,)``."""
        ...

    def decision_function(self, x: Matrix, *, num_threads: int | None = None) -> Vector:
        """Log-odds of :meth:`predict_proba`, shape ``(n,)``."""
        ...

    def contributions(self, x: Matrix, *, method: ExplainMethod = "path") -> Matrix:
        """Per-feature contributions to the log-odds, shape ``(n, n_features + 1)``."""
        ...

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters."""
        ...

    def refit_params(self) -> dict[str, Any]:
        """Parameters that reproduce the fitted capacity without a validation set."""
        ...

    def to_files(self) -> dict[str, bytes]:
        """The fitted model as ``{file name: content}`` (native formats, no pickle)."""
        ...

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> Self:
        """Rebuild a fitted model from the output of :meth:`to_files`."""
        ...

    def save(self, directory: str | Path) -> list[str]:
        """Write the model's files into ``directory``; return their names."""
        ...

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Read a model written by :meth:`save`."""
        ...


def sigmoid(margin: npt.ArrayLike) -> Vector:
    """The logistic function, without overflow warnings.

    >>> float(sigmoid(0.0))
    0.5
    """
    return np.asarray(expit(np.asarray(margin, dtype=np.float64)), dtype=np.float64)


def check_explain_method(method: object) -> ExplainMethod:
    """Return ``method`` if it is an explanation method, else raise naming the allowed ones.

    Raises
    ------
    ConfigError
        ``method`` is not one of :data:`EXPLAIN_METHODS`.

    Examples
    --------
    >>> check_explain_method("path")
    'path'
    """
    if isinstance(method, str) and method in EXPLAIN_METHODS:
        return method
    options = ", ".join(repr(m) for m in EXPLAIN_METHODS)
    raise ConfigError(
        f"explanation method must be one of {options}; got {method!r} "
        f"(choose {' or '.join(EXPLAIN_METHODS)})"
    )


def positive_weight(y: npt.NDArray[np.int8], class_weight: str | float | None) -> float:
    """The weight given to a fraud row relative to a legitimate one.

    Parameters
    ----------
    y:
        Labels 0/1 with both classes present.
    class_weight:
        ``"balanced"`` (negatives / positives: both classes weigh the same in total),
        ``"sqrt"`` (the square root of that ratio), ``None`` (1) or a positive number.

    Examples
    --------
    >>> y = np.array([0, 0, 0, 0, 1], dtype=np.int8)
    >>> positive_weight(y, "balanced"), positive_weight(y, "sqrt"), positive_weight(y, None)
    (4.0, 2.0, 1.0)
    """
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if class_weight is None:
        return 1.0
    if class_weight == "balanced":
        return n_neg / n_pos
    if class_weight == "sqrt":
        return math.sqrt(n_neg / n_pos)
    return float(class_weight)


def check_matrix(x: npt.ArrayLike, *, n_features: int | None, what: str = "x") -> Matrix:
    """Return ``x`` as a C-contiguous float64 matrix, refusing a wrong shape or infinities.

    Raises
    ------
    DataValidationError
        ``x`` is not 2-D, has the wrong number of columns, or holds an infinite value.
    """
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise DataValidationError(
            f"{what} must be a 2-D matrix (rows x features); got {arr.ndim} dimension(s)"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise DataValidationError(
            f"{what} has {arr.shape[1]} feature column(s) but the model was trained on "
            f"{n_features}; pass the features in the order of the model's feature_names_in_"
        )
    if arr.size and np.isinf(arr).any():
        col = int(np.argwhere(np.isinf(arr))[0, 1])
        raise DataValidationError(
            f"{what} holds an infinite value in feature column {col}; "
            "replace infinities with NaN (missing) or a finite number"
        )
    return arr


def _check_labels(y: npt.ArrayLike, n_rows: int, what: str) -> npt.NDArray[np.int8]:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        raise DataValidationError(
            f"{what} must be a 1-D array with one label per row ({n_rows}); got shape {arr.shape}"
        )
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise DataValidationError(
            f"{what} must hold only 0 (legitimate) and 1 (fraud); found other values"
        )
    return arr.astype(np.int8)


def to_json_bytes(obj: Any) -> bytes:
    """Canonical JSON (sorted keys, exact float repr) as UTF-8 bytes."""
    return (json.dumps(obj, sort_keys=True, indent=1, allow_nan=False) + "\n").encode("utf-8")


def read_json_file(files: Mapping[str, bytes], name: str, owner: str) -> dict[str, Any]:
    """Parse one JSON file of a saved model, refusing a missing or malformed file."""
    if name not in files:
        raise BundleError(f"{owner}: file {name} is missing; the model was not saved completely")
    try:
        data = json.loads(files[name].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"{owner}: file {name} is not valid JSON ({exc}); re-save the model"
        ) from None
    if not isinstance(data, dict):
        raise BundleError(f"{owner}: file {name} must hold a JSON object")
    return data


class FitInputs:
    """Validated inputs of a ``fit`` call."""

    __slots__ = ("categorical", "feature_names", "x", "x_val", "y", "y_val")

    def __init__(
        self,
        x: Matrix,
        y: npt.NDArray[np.int8],
        feature_names: tuple[str, ...],
        categorical: tuple[int, ...],
        x_val: Matrix | None,
        y_val: npt.NDArray[np.int8] | None,
    ) -> None:
        self.x = x
        self.y = y
        self.feature_names = feature_names
        self.categorical = categorical
        self.x_val = x_val
        self.y_val = y_val


class ModelBase:
    """Shared plumbing: parameters, input validation, probability, file I/O."""

    name: ClassVar[str] = ""
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    # learned state, set by fit / from_files
    feature_names_in_: tuple[str, ...]
    categorical_: tuple[int, ...]
    margin_offset_: float
    positive_weight_: float

    # -- parameters -------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as passed."""
        return {name: getattr(self, name) for name in self._param_names()}

    def refit_params(self) -> dict[str, Any]:
        """Parameters that reproduce the fitted capacity without a validation set."""
        return {}

    def _validate_params(self) -> None:
        from fraudwatch.models._params import validate_params

        validate_params(type(self).__name__, self.get_params(), self._parameter_constraints)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitted state -----------------------------------------------------------------------
    @property
    def n_features_in_(self) -> int:
        """Number of feature columns seen in fit."""
        return len(self._fitted_names())

    def _fitted_names(self) -> tuple[str, ...]:
        names: tuple[str, ...] | None = getattr(self, "feature_names_in_", None)
        if names is None:
            raise ConfigError(
                f"this {type(self).__name__} is not fitted yet; call fit(x, y) or load a "
                "saved model first"
            )
        return names

    def _check_predict_input(self, x: npt.ArrayLike) -> Matrix:
        return check_matrix(x, n_features=len(self._fitted_names()))

    def _check_fit_inputs(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        feature_names: Sequence[str] | None,
        categorical: Sequence[int],
        eval_set: tuple[Matrix, npt.ArrayLike] | None,
    ) -> FitInputs:
        self._validate_params()
        xc = check_matrix(x, n_features=None)
        n, f = xc.shape
        if n == 0 or f == 0:
            raise DataValidationError(
                f"cannot train on an empty matrix ({n} rows x {f} features); "
                "pass at least one row and one feature"
            )
        yc = _check_labels(y, n, "y")
        n_pos = int(yc.sum())
        if n_pos == 0 or n_pos == n:
            raise DataValidationError(
                f"the training labels hold {n_pos} fraud(s) among {n} rows; a fraud model "
                "needs both frauds and legitimate rows — train on a longer period"
            )
        names = (
            tuple(feature_names) if feature_names is not None else tuple(f"f{i}" for i in range(f))
        )
        if len(names) != f:
            raise ConfigError(f"feature_names has {len(names)} name(s) but x has {f} column(s)")
        bad = [nm for nm in names if not _NAME_RE.match(nm)]
        if bad:
            raise ConfigError(
                f"feature name(s) {bad} contain characters the model formats cannot store; "
                "use letters, digits, '_', '.' and '-'"
            )
        if len(set(names)) != len(names):
            dup = sorted({nm for nm in names if names.count(nm) > 1})
            raise ConfigError(f"feature names must be unique; repeated: {dup}")
        cats = tuple(int(c) for c in categorical)
        if len(set(cats)) != len(cats) or any(c < 0 or c >= f for c in cats):
            raise ConfigError(
                f"categorical must list distinct column indices in [0, {f}); got {list(cats)}"
            )
        self._check_codes(xc, cats, names, "x")
        x_val = y_val = None
        if eval_set is not None:
            x_val = check_matrix(eval_set[0], n_features=f, what="eval_set x")
            y_val = _check_labels(eval_set[1], x_val.shape[0], "eval_set y")
            vp = int(y_val.sum())
            if x_val.shape[0] == 0 or vp == 0 or vp == x_val.shape[0]:
                raise DataValidationError(
                    f"the validation labels hold {vp} fraud(s) among {x_val.shape[0]} rows; "
                    "early stopping needs both classes — use a longer validation period"
                )
            self._check_codes(x_val, cats, names, "eval_set x")
        return FitInputs(xc, yc, names, cats, x_val, y_val)

    @staticmethod
    def _check_codes(x: Matrix, cats: tuple[int, ...], names: tuple[str, ...], what: str) -> None:
        for c in cats:
            col = x[:, c]
            ok = np.isnan(col) | ((col >= 0) & (col <= _MAX_CODE) & (col == np.floor(col)))
            if not ok.all():
                raise DataValidationError(
                    f"categorical feature {names[c]!r} in {what} must hold non-negative integer "
                    "codes (NaN for missing); encode strings with FeatureEncoder first"
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
        """Learn from ``x`` and labels ``y``; early-stop on ``eval_set`` when given."""
        raise NotImplementedError  # pragma: no cover - every model overrides it

    # -- prediction -------------------------------------------------------------------------
    def decision_function(self, x: Matrix, *, num_threads: int | None = None) -> Vector:
        """Log-odds of the fraud probability, shape ``(n,)``."""
        raise NotImplementedError  # pragma: no cover - every model overrides it

    def prepare_row_scoring(self) -> bool:
        """Build what scoring one row needs now rather than on the first row; True when a
        model has a one-row fast path (LightGBM), False for the others (nothing to build)."""
        return False

    def contributions(self, x: Matrix, *, method: ExplainMethod = "path") -> Matrix:
        """Per-feature contributions to the log-odds, ``(n, n_features + 1)``, bias last.

        ``method`` is one of :data:`EXPLAIN_METHODS`.
        """
        raise NotImplementedError  # pragma: no cover - every model overrides it

    def predict_proba(self, x: Matrix, *, num_threads: int | None = None) -> Vector:
        """Fraud probability of each row, shape ``(n,)``; higher is more suspicious.

        Parameters
        ----------
        x:
            Feature matrix with the columns of ``feature_names_in_``.
        num_threads:
            Threads for this call; by default one thread for up to 64 rows, else the
            model's setting.
        """
        return sigmoid(self.decision_function(x, num_threads=num_threads))

    # -- files ------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "model_type": self.name,
            "params": self.get_params(),
            "feature_names": list(self._fitted_names()),
            "categorical": list(self.categorical_),
            "margin_offset": self.margin_offset_,
            "positive_weight": self.positive_weight_,
        }

    def _native_files(self) -> tuple[dict[str, bytes], dict[str, Any]]:
        """The model's own files and extra metadata entries (implemented per model)."""
        raise NotImplementedError  # pragma: no cover - every model overrides it

    def _restore_native(self, files: Mapping[str, bytes], meta: Mapping[str, Any]) -> None:
        """Set the learned state from the native files (implemented per model)."""
        raise NotImplementedError  # pragma: no cover - every model overrides it

    def to_files(self) -> dict[str, bytes]:
        """The fitted model as ``{file name: content}``: native files plus ``model_meta.json``."""
        native, extra = self._native_files()
        meta = {**self._meta(), **extra, "files": sorted(native)}
        return {**native, META_FILE: to_json_bytes(meta)}

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> Self:
        """Rebuild a fitted model from ``{file name: content}`` (the output of :meth:`to_files`).

        Raises
        ------
        BundleError
            A file is missing or malformed, or describes another model type.
        """
        meta = read_json_file(files, META_FILE, cls.__name__)
        if meta.get("model_type") != cls.name:
            raise BundleError(
                f"{META_FILE} describes a {meta.get('model_type')!r} model, not {cls.name!r}; "
                "load it with the matching model type"
            )
        if meta.get("format_version") != FORMAT_VERSION:
            raise BundleError(
                f"{cls.__name__}: saved format version {meta.get('format_version')!r} is not "
                f"supported (expected {FORMAT_VERSION}); retrain the model with this release"
            )
        for fname in meta.get("files", []):
            if fname not in files:
                raise BundleError(
                    f"{cls.__name__}: file {fname} is missing; the model was not saved completely"
                )
        try:
            model = cls(**meta["params"])
            model.feature_names_in_ = tuple(str(n) for n in meta["feature_names"])
            model.categorical_ = tuple(int(c) for c in meta["categorical"])
            model.margin_offset_ = float(meta["margin_offset"])
            model.positive_weight_ = float(meta["positive_weight"])
            model._restore_native(files, meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(
                f"{cls.__name__}: saved model is incomplete or malformed ({exc!r}); "
                "re-save or retrain it"
            ) from None
        return model

    def save(self, directory: str | Path) -> list[str]:
        """Write the model's files into ``directory`` (created if needed); return their names."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        files = self.to_files()
        for fname, content in files.items():
            (out / fname).write_bytes(content)
        return sorted(files)

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        """Read a model written by :meth:`save`.

        Raises
        ------
        BundleError
            A file is missing or malformed.
        """
        src = Path(directory)
        meta_path = src / META_FILE
        if not meta_path.is_file():
            raise BundleError(
                f"{cls.__name__}: {META_FILE} is missing in {src}; "
                "point to a folder written by save()"
            )
        files = {META_FILE: meta_path.read_bytes()}
        meta = read_json_file(files, META_FILE, cls.__name__)
        for fname in meta.get("files", []):
            path = src / str(fname)
            if path.is_file():
                files[str(fname)] = path.read_bytes()
        return cls.from_files(files)


def threads_for(n_rows: int, configured: int | None, override: int | None) -> int:
    """Threads for a prediction call: the override, else 1 for small batches, else configured.

    ``0`` means the library's default (all cores).
    """
    if override is not None:
        return override
    if n_rows <= 64:
        return 1
    return configured or 0
