"""The public surface of fraudwatch.store and the examples in its docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

import fraudwatch.store

MODULES = [
    "fraudwatch.store",
    "fraudwatch.store._apikeys",
    "fraudwatch.store._checkpoint",
    "fraudwatch.store._convert",
    "fraudwatch.store._cursor",
    "fraudwatch.store._engine",
    "fraudwatch.store._migrate",
    "fraudwatch.store._recording",
    "fraudwatch.store._records",
]


def test_public_surface_is_pinned() -> None:
    """Check that fraudwatch.store exports exactly the documented names."""
    assert sorted(fraudwatch.store.__all__) == sorted(
        [
            "CASE_STATUSES",
            "DECISIONS",
            "FEEDBACK_SOURCES",
            "LABELS",
            "OPENS_CASE",
            "SCOPES",
            "ApiKey",
            "AuditEntry",
            "Case",
            "CaseConflictError",
            "CaseDetail",
            "Clock",
            "Decision",
            "DecisionInput",
            "DecisionSession",
            "Feedback",
            "Page",
            "RecordResult",
            "SqliteSync",
            "Store",
            "WalCheckpointer",
            "alembic_config",
            "check_schema",
            "current_revision",
            "downgrade",
            "head_revision",
            "make_engine",
            "metadata",
            "normalize_url",
            "open_store",
            "parse_scopes",
            "redact_url",
            "system_clock",
            "upgrade",
        ]
    )
    for name in fraudwatch.store.__all__:
        assert hasattr(fraudwatch.store, name)


def test_store_errors_are_user_errors() -> None:
    """Check that the store's conflict error maps to a 4xx / exit code 2."""
    from fraudwatch.errors import UserError

    assert issubclass(fraudwatch.store.CaseConflictError, UserError)


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    """Check that the examples in the module's docstrings run and print what they show."""
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
