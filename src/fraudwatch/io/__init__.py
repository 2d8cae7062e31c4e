"""Reading and writing transaction files: local paths and s3:// URIs, several layouts.

Read with :func:`read_transactions` (whole file) or :func:`iter_transaction_batches`
(streaming); both go through a :class:`Profile` that maps the file's layout onto the
canonical schema and validate every row, keeping rejected rows with their line and reasons
(write them with :func:`write_quarantine`). :func:`summarize` describes a frame.
"""

from __future__ import annotations

from fraudwatch.io._profile_file import load_profile_file, profile_from_mapping
from fraudwatch.io._profiles import (
    BUILTIN_PROFILES,
    HANDBOOK_SCENARIOS,
    ULB_DEFAULT_START,
    Profile,
    builtin_profiles,
    get_profile,
    handbook_profile,
    native_profile,
    ulb_profile,
)
from fraudwatch.io._quarantine import quarantine_path_for, write_quarantine
from fraudwatch.io._readers import ReadResult, iter_transaction_batches, read_transactions
from fraudwatch.io._summary import (
    AMOUNT_QUANTILES,
    DataSummary,
    ScenarioStat,
    SummaryBuilder,
    summarize,
)
from fraudwatch.io.writers import FileFormat, format_from_path, write_frame

__all__ = [
    "AMOUNT_QUANTILES",
    "BUILTIN_PROFILES",
    "HANDBOOK_SCENARIOS",
    "ULB_DEFAULT_START",
    "DataSummary",
    "FileFormat",
    "Profile",
    "ReadResult",
    "ScenarioStat",
    "SummaryBuilder",
    "builtin_profiles",
    "format_from_path",
    "get_profile",
    "handbook_profile",
    "iter_transaction_batches",
    "load_profile_file",
    "native_profile",
    "profile_from_mapping",
    "quarantine_path_for",
    "read_transactions",
    "summarize",
    "ulb_profile",
    "write_frame",
    "write_quarantine",
]
