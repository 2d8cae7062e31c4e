"""Tests of the packaged alembic migrations on fresh SQLite and PostgreSQL databases."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text

from fraudwatch.errors import ConfigError
from fraudwatch.store import (
    check_schema,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    metadata,
    open_store,
    upgrade,
)

TABLES = {"decisions", "cases", "feedback", "api_keys", "audit_log"}


def _diff(url: str, target: MetaData = metadata) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, target))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'fresh.db'}"


def test_upgrade_fresh_sqlite_matches_models(sqlite_url: str) -> None:
    """Check that upgrading a new SQLite file yields exactly the ORM schema."""
    assert upgrade(sqlite_url) == head_revision()
    assert _tables(sqlite_url) >= TABLES
    assert _diff(sqlite_url) == []


@pytest.mark.postgres
def test_upgrade_fresh_postgres_matches_models(pg_url: str) -> None:
    """Check that upgrading an empty PostgreSQL database yields exactly the ORM schema."""
    assert upgrade(pg_url) == head_revision()
    assert _tables(pg_url) >= TABLES
    assert _diff(pg_url) == []


def test_schema_comparison_detects_drift(sqlite_url: str) -> None:
    """Check that the comparison used above reports a column the migrations do not create."""
    upgrade(sqlite_url)
    drifted = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["cases"].append_column(Column("priority", Integer(), nullable=True))
    diff = _diff(sqlite_url, drifted)
    assert len(diff) == 1
    assert "priority" in repr(diff[0])


def test_upgrade_twice_keeps_data(sqlite_url: str) -> None:
    """Check that re-running the upgrade is a no-op that keeps stored rows."""
    with open_store(sqlite_url, upgrade=True) as store:
        store.audit("ops", "model.reload", "model:v1")
    assert upgrade(sqlite_url) == head_revision()
    with open_store(sqlite_url) as store:
        assert len(store.list_audit().items) == 1


def test_downgrade_to_base_drops_every_table(sqlite_url: str) -> None:
    """Check that downgrading to base removes the tables and upgrade recreates them."""
    upgrade(sqlite_url)
    assert downgrade(sqlite_url, "base") is None
    assert not (TABLES & _tables(sqlite_url))
    upgrade(sqlite_url)
    assert _diff(sqlite_url) == []


@pytest.mark.postgres
def test_open_store_on_empty_database_says_to_upgrade(pg_url: str) -> None:
    """Check that opening an unmigrated database names the command that fixes it."""
    with pytest.raises(
        ConfigError, match="has no fraudwatch tables yet; run `fraudwatch db upgrade"
    ):
        open_store(pg_url)


def test_open_store_on_missing_sqlite_file_does_not_create_it(sqlite_url: str) -> None:
    """Check that a mistyped SQLite path is reported and no empty file is left behind."""
    with pytest.raises(ConfigError, match="does not exist; create it with `fraudwatch db upgrade"):
        open_store(sqlite_url)
    assert current_revision(sqlite_url) is None
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_unknown_revision_is_refused(sqlite_url: str) -> None:
    """Check that upgrading to a revision that does not exist is a clear error."""
    with pytest.raises(ConfigError, match="cannot migrate to revision '9999'"):
        upgrade(sqlite_url, "9999")


def test_database_from_a_newer_fraudwatch_is_refused(sqlite_url: str) -> None:
    """Check that a schema revision this version does not know asks to upgrade fraudwatch."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'future1'"))
    engine.dispose()
    with pytest.raises(ConfigError, match="made by a newer fraudwatch"):
        check_schema(sqlite_url)


@pytest.mark.postgres
def test_unreachable_database_is_a_config_error() -> None:
    """Check that a PostgreSQL database that does not exist is reported with the fix."""
    url = "postgresql://postgres@127.0.0.1:5432/fw_no_such_database_here"
    with pytest.raises(ConfigError, match=r"cannot use the database.*fw_no_such_database_here"):
        current_revision(url)


def test_migrations_are_package_data() -> None:
    """Check that env.py, the script template and the revisions live inside the package."""
    root = resources.files("fraudwatch.store") / "migrations"
    assert (root / "env.py").is_file()
    assert (root / "script.py.mako").is_file()
    revisions = [p.name for p in (root / "versions").iterdir() if p.name.endswith(".py")]
    assert "r0001_initial.py" in revisions
