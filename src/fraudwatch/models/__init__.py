"""Fraud models (LightGBM, XGBoost, logistic regression) and the anomaly detector.

Every fraud model satisfies :class:`FraudModel`: ``fit`` / ``predict_proba`` /
``decision_function`` / ``contributions`` / ``save`` / ``load``, saves in its library's
native format (never pickle), and scores so that higher means more suspicious. Choose one by
name with :func:`make_model`. ``contributions(x, method="path")`` (the default) credits each
split's change of node value to its feature at about the cost of a prediction;
``method="shap"`` gives TreeSHAP values (see ``docs/models.md``).

Examples
--------
>>> sorted(MODEL_TYPES)
['lightgbm', 'logreg', 'xgboost']
>>> make_model("lightgbm", num_leaves=31).num_leaves
31
"""

from __future__ import annotations

from typing import Any

from fraudwatch.errors import ConfigError
from fraudwatch.models._base import (
    EXPLAIN_METHODS,
    META_FILE,
    ExplainMethod,
    FraudModel,
    Matrix,
    ModelBase,
    Vector,
    check_explain_method,
    sigmoid,
)
from fraudwatch.models._encoding import OTHER, FeatureEncoder
from fraudwatch.models._isolation import ANOMALY_FILES, AnomalyDetector
from fraudwatch.models._lightgbm import LightGBMModel
from fraudwatch.models._logreg import LogisticModel
from fraudwatch.models._xgboost import XGBoostModel

__all__ = [
    "ANOMALY_FILES",
    "EXPLAIN_METHODS",
    "META_FILE",
    "MODEL_TYPES",
    "OTHER",
    "AnomalyDetector",
    "ExplainMethod",
    "FeatureEncoder",
    "FraudModel",
    "LightGBMModel",
    "LogisticModel",
    "Matrix",
    "ModelBase",
    "Vector",
    "XGBoostModel",
    "check_explain_method",
    "make_model",
    "model_class",
    "sigmoid",
]

MODEL_TYPES: dict[str, type[ModelBase]] = {
    LightGBMModel.name: LightGBMModel,
    XGBoostModel.name: XGBoostModel,
    LogisticModel.name: LogisticModel,
}
"""Model classes by name; ``lightgbm`` is the default."""


def model_class(name: str) -> type[ModelBase]:
    """The model class registered under ``name``.

    Raises
    ------
    ConfigError
        ``name`` is not a known model type; the message lists the allowed names.
    """
    try:
        return MODEL_TYPES[name]
    except KeyError:
        allowed = ", ".join(sorted(MODEL_TYPES))
        raise ConfigError(f"unknown model type {name!r}; choose one of: {allowed}") from None


def make_model(name: str, **params: Any) -> ModelBase:
    """A new, unfitted model of type ``name`` with ``params``.

    Raises
    ------
    ConfigError
        Unknown model type or parameter name; invalid values are reported by ``fit``.
    """
    cls = model_class(name)
    try:
        return cls(**params)
    except TypeError:
        allowed = ", ".join(cls._param_names())
        unknown = sorted(set(params) - set(cls._param_names()))
        raise ConfigError(
            f"unknown parameter(s) {unknown} for model {name!r}; allowed: {allowed}"
        ) from None
