"""fraudwatch: self-hostable fraud detection for card and payment transactions.

The package is organised by pipeline stage; each subpackage re-exports its public
surface through ``__all__``. Nothing is created at import time.
"""

from __future__ import annotations

from fraudwatch.errors import (
    BundleError,
    ConfigError,
    ConflictError,
    DataValidationError,
    FeatureError,
    FraudwatchError,
    InputFileError,
    MissingColumnsError,
    NotFoundError,
    RuleError,
    StateStoreError,
)

__version__ = "0.1.0"

__all__ = [
    "BundleError",
    "ConfigError",
    "ConflictError",
    "DataValidationError",
    "FeatureError",
    "FraudwatchError",
    "InputFileError",
    "MissingColumnsError",
    "NotFoundError",
    "RuleError",
    "StateStoreError",
    "__version__",
]
