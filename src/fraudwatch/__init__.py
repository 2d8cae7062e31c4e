"""fraudwatch: self-hostable fraud detection for card and payment transactions.

The package is organised by pipeline stage; each subpackage re-exports its public
surface through ``__all__``. Nothing is created at import time, except an import hook that
decides between the compiled and the Python build of the online feature modules
(:mod:`fraudwatch._speedups`).
"""

from __future__ import annotations

from fraudwatch import _speedups
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

_speedups.install()  # before anything imports the online feature modules

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
