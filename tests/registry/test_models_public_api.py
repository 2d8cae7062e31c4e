"""The public surfaces of fraudwatch.models, fraudwatch.registry and fraudwatch.training."""

from __future__ import annotations

import fraudwatch.models
import fraudwatch.registry
import fraudwatch.training


def test_models_surface_is_pinned() -> None:
    """Check that fraudwatch.models exports exactly the documented names."""
    assert sorted(fraudwatch.models.__all__) == sorted(
        [
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
    )


def test_registry_surface_is_pinned() -> None:
    """Check that fraudwatch.registry exports exactly the documented names."""
    assert sorted(fraudwatch.registry.__all__) == sorted(
        [
            "ALIASES",
            "MANIFEST_FILE",
            "SCHEMA_VERSION",
            "AliasChange",
            "Bundle",
            "FeatureSetLike",
            "LocalStore",
            "MemoryStore",
            "ModelVersion",
            "Registry",
            "S3Store",
            "Store",
            "load_bundle",
            "open_store",
            "read_bundle",
        ]
    )


def test_training_surface_is_pinned() -> None:
    """Check that fraudwatch.training exports exactly the documented names."""
    assert sorted(fraudwatch.training.__all__) == sorted(
        [
            "TimeSplit",
            "data_fingerprint",
            "passthrough_columns",
            "time_split",
            "train_bundle",
        ]
    )


def test_every_exported_name_exists() -> None:
    """Check that every name in the three __all__ lists can be imported."""
    for module in (fraudwatch.models, fraudwatch.registry, fraudwatch.training):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
