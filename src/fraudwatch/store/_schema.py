"""The tables of the service database (SQLAlchemy Core, portable SQLite/PostgreSQL).

The migrations in ``fraudwatch/store/migrations/versions`` create exactly this schema; a
test runs alembic's ``compare_metadata`` against both backends to keep them in step.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
)

from fraudwatch.store._types import ID_TYPE, JSON_TYPE, UTCDateTime

__all__ = [
    "CASE_STATUSES",
    "DECISIONS",
    "FEEDBACK_SOURCES",
    "LABELS",
    "NAMING_CONVENTION",
    "SCOPES",
    "api_keys",
    "audit_log",
    "cases",
    "decisions",
    "feedback",
    "metadata",
]

DECISIONS: tuple[str, ...] = ("allow", "review", "decline")
"""Outcomes of scoring; ``review`` and ``decline`` open a case."""

CASE_STATUSES: tuple[str, ...] = ("open", "resolved")
"""States of a case."""

LABELS: tuple[str, ...] = ("fraud", "legit")
"""Labels of feedback and resolutions of cases."""

FEEDBACK_SOURCES: tuple[str, ...] = ("analyst", "chargeback", "customer")
"""Where a label came from."""

SCOPES: tuple[str, ...] = ("score", "feedback", "admin")
"""API key scopes; ``admin`` implies every other scope."""

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so later migrations can refer to them on both backends."""


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


metadata = MetaData(naming_convention=NAMING_CONVENTION)

decisions = Table(
    "decisions",
    metadata,
    Column("transaction_id", String(128), primary_key=True),
    Column("transaction", JSON_TYPE, nullable=False),
    Column("timestamp", UTCDateTime(), nullable=False),
    Column("card_id", String(128), nullable=False),
    Column("amount", Double(), nullable=False),
    Column("score", Double(), nullable=False),
    Column("anomaly_score", Double(), nullable=True),
    Column("decision", String(16), nullable=False),
    Column("reasons", JSON_TYPE, nullable=False),
    Column("rules_fired", JSON_TYPE, nullable=False),
    Column("model_version", String(128), nullable=False),
    Column("latency_ms", Double(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    CheckConstraint(_one_of("decision", DECISIONS), name="decision"),
    Index(None, "card_id", "timestamp"),
    Index(None, "timestamp"),
)

cases = Table(
    "cases",
    metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column(
        "transaction_id",
        String(128),
        ForeignKey("decisions.transaction_id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("status", String(16), nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolution", String(16), nullable=True),
    Column("resolved_by", String(200), nullable=True),
    Column("note", Text(), nullable=True),
    CheckConstraint(_one_of("status", CASE_STATUSES), name="status"),
    CheckConstraint("resolution IS NULL OR " + _one_of("resolution", LABELS), name="resolution"),
    Index(None, "status", "opened_at", "id"),
    Index(None, "opened_at", "id"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column(
        "transaction_id",
        String(128),
        ForeignKey("decisions.transaction_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("label", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("note", Text(), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    CheckConstraint(_one_of("label", LABELS), name="label"),
    CheckConstraint(_one_of("source", FEEDBACK_SOURCES), name="source"),
    Index(None, "transaction_id"),
    Index(None, "received_at", "id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("hash", String(64), nullable=False),
    Column("scopes", JSON_TYPE, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ID_TYPE, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("details", JSON_TYPE, nullable=False),
    Index(None, "at"),
    Index(None, "target"),
    Index(None, "actor"),
)
