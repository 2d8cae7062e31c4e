"""Initial schema: decisions, cases, feedback, api_keys, audit_log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types are spelled out here (not imported from the models) so this revision stays frozen.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the five tables and their indexes."""
    op.create_table(
        "decisions",
        sa.Column("transaction_id", sa.String(128), nullable=False),
        sa.Column("transaction", _JSON, nullable=False),
        sa.Column("timestamp", _ts(), nullable=False),
        sa.Column("card_id", sa.String(128), nullable=False),
        sa.Column("amount", sa.Double(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("anomaly_score", sa.Double(), nullable=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reasons", _JSON, nullable=False),
        sa.Column("rules_fired", _JSON, nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.CheckConstraint(
            "decision IN ('allow', 'review', 'decline')", name=op.f("ck_decisions_decision")
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_decisions")),
    )
    op.create_index(op.f("ix_decisions_card_id_timestamp"), "decisions", ["card_id", "timestamp"])
    op.create_index(op.f("ix_decisions_timestamp"), "decisions", ["timestamp"])

    op.create_table(
        "cases",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", _ts(), nullable=False),
        sa.Column("resolved_at", _ts(), nullable=True),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_cases_status")),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('fraud', 'legit')",
            name=op.f("ck_cases_resolution"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["decisions.transaction_id"],
            name=op.f("fk_cases_transaction_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_cases_transaction_id")),
    )
    op.create_index(op.f("ix_cases_status_opened_at_id"), "cases", ["status", "opened_at", "id"])
    op.create_index(op.f("ix_cases_opened_at_id"), "cases", ["opened_at", "id"])

    op.create_table(
        "feedback",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("received_at", _ts(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.CheckConstraint("label IN ('fraud', 'legit')", name=op.f("ck_feedback_label")),
        sa.CheckConstraint(
            "source IN ('analyst', 'chargeback', 'customer')", name=op.f("ck_feedback_source")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["decisions.transaction_id"],
            name=op.f("fk_feedback_transaction_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_transaction_id"), "feedback", ["transaction_id"])
    op.create_index(op.f("ix_feedback_received_at_id"), "feedback", ["received_at", "id"])

    op.create_table(
        "api_keys",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("scopes", _JSON, nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_target"), "audit_log", ["target"])
    op.create_index(op.f("ix_audit_log_actor"), "audit_log", ["actor"])


def downgrade() -> None:
    """Drop every table (all stored decisions, cases, labels, keys and audit are lost)."""
    op.drop_table("audit_log")
    op.drop_table("api_keys")
    op.drop_table("feedback")
    op.drop_table("cases")
    op.drop_table("decisions")
