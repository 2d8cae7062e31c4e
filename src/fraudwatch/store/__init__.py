"""Storage of the real-time service: decisions, cases, feedback, API keys, audit log.

SQLAlchemy 2 (Core) over SQLite (default, ``sqlite:///fraudwatch.db``) or PostgreSQL, with
alembic migrations shipped inside the package (``fraudwatch db upgrade``). See
docs/storage.md for the tables, the durability guarantee and the API key scheme.

>>> from fraudwatch.store import open_store
>>> with open_store("sqlite://", upgrade=True) as store:
...     key_id, plaintext = store.create_api_key("ci", ["score"])
...     store.verify_api_key(plaintext).allows("score")
True
"""

from __future__ import annotations

from fraudwatch.store._apikeys import parse_scopes
from fraudwatch.store._base import Clock, system_clock
from fraudwatch.store._checkpoint import WalCheckpointer
from fraudwatch.store._engine import SqliteSync, make_engine, normalize_url, redact_url
from fraudwatch.store._errors import CaseConflictError
from fraudwatch.store._migrate import (
    alembic_config,
    check_schema,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from fraudwatch.store._recording import OPENS_CASE, DecisionInput, DecisionSession
from fraudwatch.store._records import (
    ApiKey,
    AuditEntry,
    Case,
    CaseDetail,
    Decision,
    Feedback,
    Page,
    RecordResult,
)
from fraudwatch.store._schema import (
    CASE_STATUSES,
    DECISIONS,
    FEEDBACK_SOURCES,
    LABELS,
    SCOPES,
    metadata,
)
from fraudwatch.store._store import Store, open_store

__all__ = [
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
