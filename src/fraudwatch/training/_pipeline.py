"""The training pipeline: labelled transactions in, a verified-ready model bundle out.

Steps: choose the features the data can support (pass-through numeric columns such as ULB's
``V1..V28`` are added), compute them point-in-time (``history`` only warms the state), split
by time with the label-delay gap, train the fraud model with early stopping on the
validation average precision, refit on all rows when the split was adaptive, train the
Isolation Forest, measure validation metrics, choose default thresholds and describe
everything in the manifest. Time is passed in (``created_at``); randomness comes from
``seed``: the same inputs give the same bundle.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl

from fraudwatch.errors import ConfigError, DataValidationError, MissingColumnsError
from fraudwatch.models import AnomalyDetector, FeatureEncoder, make_model, model_class
from fraudwatch.registry import Bundle
from fraudwatch.schema import COLUMNS
from fraudwatch.training._split import TimeSplit, time_split

if TYPE_CHECKING:
    from fraudwatch.features import FeatureSet

__all__ = ["data_fingerprint", "passthrough_columns", "train_bundle"]

log = logging.getLogger(__name__)

_CANONICAL = {c.name for c in COLUMNS}
_TOP_K = 100


def passthrough_columns(data: pl.DataFrame) -> list[str]:
    """Numeric input columns outside the canonical schema (e.g. ``V1..V28``), in input order.

    >>> passthrough_columns(pl.DataFrame({"amount": [1.0], "V1": [0.5], "note": ["x"]}))
    ['V1']
    """
    return [
        name for name, dtype in data.schema.items() if name not in _CANONICAL and dtype.is_numeric()
    ]


def data_fingerprint(data: pl.DataFrame) -> str:
    """SHA-256 of the transactions' ids, timestamps and labels, independent of row order.

    Two files holding the same labelled transactions give the same fingerprint.
    """
    cols = ["transaction_id", "timestamp"] + (["is_fraud"] if "is_fraud" in data.columns else [])
    frame = data.select(cols).sort(["timestamp", "transaction_id"])
    h = hashlib.sha256()
    ids = frame["transaction_id"].cast(pl.String).fill_null("")
    h.update("\x00".join(ids.to_list()).encode("utf-8"))
    h.update(frame["timestamp"].dt.epoch("us").to_numpy().astype("<i8").tobytes())
    if "is_fraud" in frame.columns:
        h.update(frame["is_fraud"].fill_null(-1).cast(pl.Int8).to_numpy().tobytes())
    return h.hexdigest()


def _check_data(data: pl.DataFrame) -> npt.NDArray[np.int8]:
    needed = ["transaction_id", "timestamp", "is_fraud"]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise MissingColumnsError(
            missing,
            data.columns,
            source="training data",
            hint="training needs labelled transactions (is_fraud 0/1)",
        )
    if data.height == 0:
        raise DataValidationError("the training data holds no rows; pass a labelled file")
    labels = data["is_fraud"].cast(pl.Int8, strict=False)
    y = labels.fill_null(-1).to_numpy()
    if not np.isin(y, (-1, 0, 1)).all():
        raise DataValidationError("is_fraud must be 0, 1 or empty; found other values")
    n_fraud = int((y == 1).sum())
    if n_fraud == 0:
        raise DataValidationError(
            f"the training data holds no fraud among {data.height} rows; a fraud model needs "
            "labelled frauds — train on a longer period or check the is_fraud column"
        )
    return np.asarray(y, dtype=np.int8)


def _choose_feature_set(
    data: pl.DataFrame, feature_set: FeatureSet | None, label_delay: timedelta
) -> tuple[FeatureSet, list[tuple[str, str]], list[str]]:
    from fraudwatch.features import default_feature_set

    passthrough: list[str] = []
    if feature_set is None:
        base = default_feature_set(label_delay=label_delay)
        fs, dropped = base.available_for(data.columns)
        passthrough = [c for c in passthrough_columns(data) if c not in fs]
        if passthrough:
            fs = fs.with_passthrough(passthrough)
    else:
        fs, dropped = feature_set.available_for(data.columns)
    if dropped:
        log.warning(
            "%d feature(s) left out because the data lacks their columns: %s",
            len(dropped),
            "; ".join(f"{name} ({why})" for name, why in dropped),
        )
    if passthrough:
        log.info("pass-through feature(s): %s", ", ".join(passthrough))
    return fs, dropped, passthrough


def _model_params(
    model: str, seed: int, num_threads: int | None, params: Mapping[str, Any] | None
) -> dict[str, Any]:
    cls = model_class(model)
    allowed = set(cls._param_names())
    out: dict[str, Any] = {}
    if "random_state" in allowed:
        out["random_state"] = seed
    if "num_threads" in allowed and num_threads is not None:
        out["num_threads"] = num_threads
    out.update(params or {})
    return out


def _validation_metrics(
    data: pl.DataFrame,
    mask: npt.NDArray[np.bool_],
    before: npt.NDArray[np.bool_],
    y: npt.NDArray[np.int8],
    score: npt.NDArray[np.float64],
    anomaly: npt.NDArray[np.float64] | None,
    label_delay: timedelta,
) -> dict[str, Any]:
    from fraudwatch.evaluation import average_precision, card_precision_at_k, roc_auc

    yv = y[mask]
    metrics: dict[str, Any] = {
        "validation_rows": int(mask.sum()),
        "validation_frauds": int(yv.sum()),
        "roc_auc": roc_auc(yv, score),
        "average_precision": average_precision(yv, score),
        f"card_precision_at_{_TOP_K}": None,
        "anomaly_roc_auc": None if anomaly is None else roc_auc(yv, anomaly),
        "anomaly_average_precision": None if anomaly is None else average_precision(yv, anomaly),
    }
    if "card_id" in data.columns and data["card_id"].null_count() < data.height:
        cols = ["timestamp", "card_id", "is_fraud"]
        frame = data.select(cols).filter(pl.Series(mask)).with_columns(score=pl.Series(score))
        history = data.select(cols).filter(pl.Series(before)).drop_nulls("is_fraud")
        metrics[f"card_precision_at_{_TOP_K}"] = card_precision_at_k(
            frame.drop_nulls("card_id"), _TOP_K, delay=label_delay, history=history
        )
    return metrics


def _thresholds(
    data: pl.DataFrame, mask: npt.NDArray[np.bool_], score: npt.NDArray[np.float64]
) -> dict[str, Any]:
    from fraudwatch.thresholds import default_thresholds

    cols = [c for c in ("timestamp", "amount", "is_fraud") if c in data.columns]
    frame = data.select(cols).filter(pl.Series(mask)).with_columns(score=pl.Series(score))
    return default_thresholds(frame).to_dict()


def train_bundle(
    data: pl.DataFrame,
    *,
    created_at: datetime,
    history: pl.DataFrame | None = None,
    model: str = "lightgbm",
    label_delay: timedelta = timedelta(days=7),
    seed: int = 42,
    profile: str = "native",
    feature_set: FeatureSet | None = None,
    model_params: Mapping[str, Any] | None = None,
    validation_fraction: float = 0.2,
    min_train: timedelta = timedelta(days=7),
    refit: bool | None = None,
    anomaly: bool = True,
    num_threads: int | None = None,
    name: str = "fraudwatch",
    progress: Callable[[str], None] | None = None,
) -> Bundle:
    """Train a fraud model (and an anomaly detector) and describe it as a bundle.

    Parameters
    ----------
    data:
        Labelled canonical transactions (``is_fraud``); rows with an empty label feed the
        features but are not trained on.
    created_at:
        The bundle's creation time (timezone-aware); the caller passes the clock.
    history:
        Earlier transactions that only warm the feature state (not training rows).
    model:
        ``lightgbm`` (default), ``xgboost`` or ``logreg``.
    label_delay:
        How long until a fraud is reported: the train/validation gap and the delay of the
        label-based features.
    seed:
        Seed of every random choice (same inputs and seed, same bundle).
    profile:
        Name of the input profile, recorded in the manifest.
    feature_set:
        Features to use; default: the default set restricted to what the data supports,
        plus pass-through numeric columns.
    model_params:
        Extra parameters for the model (e.g. ``{"num_leaves": 31}``).
    validation_fraction, min_train, refit:
        Split policy (see :func:`fraudwatch.training.time_split`).
    anomaly:
        Train the Isolation Forest beside the model.
    num_threads:
        Threads for training (default: every core).
    name:
        Model family name in the manifest.
    progress:
        Called with a short description at each stage.

    Returns
    -------
    Bundle
        Ready to :meth:`~fraudwatch.registry.Bundle.save` or register.

    Raises
    ------
    MissingColumnsError, DataValidationError, ConfigError, FeatureError
        The data cannot be trained on; the message says why and how to fix it.
    """
    from fraudwatch.features import compute_batch

    def stage(text: str) -> None:
        log.info(text)
        if progress is not None:
            progress(text)

    if created_at.tzinfo is None:
        raise ConfigError("created_at must be timezone-aware (UTC)")
    params = _model_params(model, seed, num_threads, model_params)
    y_all = _check_data(data)
    labelled = y_all >= 0
    if not labelled.all():
        log.warning(
            "%d row(s) have no label: they feed the features but are not trained on",
            int((~labelled).sum()),
        )

    stage("choosing features")
    fs, dropped, passthrough = _choose_feature_set(data, feature_set, label_delay)
    stage(f"computing {len(fs.names)} features for {data.height:,} rows")
    features = compute_batch(fs, data, history)

    split = time_split(
        data["timestamp"],
        label_delay,
        validation_fraction=validation_fraction,
        min_train=min_train,
        refit=refit,
    )
    train_mask = split.train & labelled
    val_mask = split.validation & labelled
    final_mask = labelled if split.refit else train_mask
    _check_parts(y_all, train_mask, val_mask, split)

    encoder = FeatureEncoder(fs.names, fs.categorical).fit(features.filter(pl.Series(final_mask)))
    x = encoder.transform(features)
    del features
    y = np.where(labelled, y_all, 0).astype(np.int8)
    cats = encoder.categorical_indices

    stage(f"training {model} on {int(train_mask.sum()):,} rows")
    fitted = make_model(model, **params).fit(
        x[train_mask],
        y[train_mask],
        feature_names=encoder.names,
        categorical=cats,
        eval_set=(x[val_mask], y[val_mask]),
    )
    val_score = fitted.predict_proba(x[val_mask])
    thresholds = _thresholds(data, val_mask, val_score)
    final = fitted
    if split.refit:
        stage(f"refitting on all {int(final_mask.sum()):,} labelled rows")
        refit_params = {**fitted.get_params(), **fitted.refit_params()}
        final = make_model(model, **refit_params).fit(
            x[final_mask], y[final_mask], feature_names=encoder.names, categorical=cats
        )

    detector = None
    val_anomaly = None
    numeric = encoder.numeric_indices
    if anomaly and numeric:
        stage("training the anomaly detector")
        detector = AnomalyDetector(random_state=seed).fit(
            x[final_mask], feature_names=encoder.names, columns=numeric
        )
        val_anomaly = detector.score(x[val_mask])

    stage("measuring validation metrics")
    metrics = _validation_metrics(
        data, val_mask, split.train | split.gap, y, val_score, val_anomaly, label_delay
    )
    metrics["n_iterations"] = int(getattr(fitted, "n_iterations_", 0))
    ts = data["timestamp"]
    training = {
        "window": {"start": _iso(ts.min()), "end": _iso(ts.max())},
        "rows": data.height,
        "labelled_rows": int(labelled.sum()),
        "frauds": int((y_all == 1).sum()),
        "history_rows": 0 if history is None else history.height,
        "fingerprint": data_fingerprint(data),
        "label_delay_days": label_delay / timedelta(days=1),
        "seed": seed,
        "split": split.to_dict(),
        "refit": split.refit,
        "trained_rows": int(final_mask.sum()),
        "dropped_features": [{"feature": f, "reason": r} for f, r in dropped],
        "passthrough": passthrough,
        "thresholds_from": "validation scores of the model before any refit",
    }
    bundle = Bundle.create(
        model=final,
        encoder=encoder,
        detector=detector,
        created_at=created_at,
        feature_set=fs,
        name=name,
        profile=profile,
        thresholds=thresholds,
        metrics=metrics,
        training=training,
    )
    log.info(
        "trained %s %s: AP %s, ROC AUC %s on %d validation rows",
        model,
        bundle.version,
        _fmt(metrics["average_precision"]),
        _fmt(metrics["roc_auc"]),
        metrics["validation_rows"],
    )
    return bundle


def _check_parts(
    y: npt.NDArray[np.int8],
    train: npt.NDArray[np.bool_],
    val: npt.NDArray[np.bool_],
    split: TimeSplit,
) -> None:
    for label, mask in (("training", train), ("validation", val)):
        frauds = int((y[mask] == 1).sum())
        if frauds == 0 or frauds == int(mask.sum()):
            raise DataValidationError(
                f"the {label} part of the time split ({split.reason}) holds {frauds} fraud(s) "
                f"among {int(mask.sum())} labelled rows; both parts need frauds and legitimate "
                "rows — train on a longer period or lower --label-delay-days"
            )


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
