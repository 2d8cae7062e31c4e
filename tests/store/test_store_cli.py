"""Tests of `fraudwatch db` and `fraudwatch apikey` through the real CLI application."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fraudwatch.cli import build_app
from fraudwatch.store import head_revision, open_store, upgrade


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures the 'fraudwatch' logger on the runner's stderr: put it back."""
    logger = logging.getLogger("fraudwatch")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.fixture
def db(tmp_path: Path) -> str:
    """URL of a migrated SQLite database."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    return url


def run(*args: str) -> Result:
    """Invoke the fraudwatch CLI in-process."""
    return CliRunner().invoke(build_app(), list(args))


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    """Check that `db upgrade` creates a new SQLite database at the newest revision."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = run("db", "upgrade", "--db", url)
    assert result.exit_code == 0, result.output
    assert f"to {head_revision()}" in result.stdout
    again = run("db", "upgrade", "--db", url)
    assert again.exit_code == 0
    assert "already at revision" in again.stdout


@pytest.mark.postgres
def test_db_upgrade_on_postgres(pg_url: str) -> None:
    """Check that `db upgrade` then `db current --check` succeed on PostgreSQL."""
    assert run("db", "upgrade", "--db", pg_url).exit_code == 0
    current = run("db", "current", "--db", pg_url, "--check")
    assert current.exit_code == 0, current.output
    assert f"revision {head_revision()} (head" in current.stdout


def test_db_upgrade_uses_database_url_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that without --db the command migrates settings.database_url."""
    target = tmp_path / "from-env.db"
    monkeypatch.setenv("FRAUDWATCH_DATABASE_URL", f"sqlite:///{target}")
    monkeypatch.chdir(tmp_path)
    assert run("db", "upgrade").exit_code == 0
    assert target.exists()


def test_db_current_on_missing_file(tmp_path: Path) -> None:
    """Check that `db current` reports an absent database without creating it; --check exits 2."""
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    result = run("db", "current", "--db", url)
    assert result.exit_code == 0
    assert "revision none" in result.stdout
    checked = run("db", "current", "--db", url, "--check")
    assert checked.exit_code == 2
    assert "fraudwatch db upgrade" in checked.stderr
    assert not (tmp_path / "absent.db").exists()


def test_db_upgrade_bad_url_exits_2() -> None:
    """Check that an unsupported database URL is a usage error naming what is supported."""
    result = run("db", "upgrade", "--db", "mysql://u@h/db")
    assert result.exit_code == 2
    assert "SQLite" in result.stderr
    assert "PostgreSQL" in result.stderr


def test_apikey_create_prints_the_key_once(db: str) -> None:
    """Check that `apikey create` prints a working key on stdout and warns on stderr."""
    result = run("apikey", "create", "--name", "checkout", "--scope", "score", "--db", db)
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    assert "cannot be shown again" in result.stderr
    with open_store(db) as store:
        key = store.verify_api_key(plaintext)
    assert key is not None
    assert key.scopes == ("score",)
    listing = run("apikey", "list", "--db", db)
    assert "checkout" in listing.stdout
    assert plaintext not in listing.stdout


def test_apikey_create_with_bad_scope_exits_2(db: str) -> None:
    """Check that an unknown scope exits 2, names the allowed scopes and creates nothing."""
    result = run("apikey", "create", "--name", "x", "--scope", "root", "--db", db)
    assert result.exit_code == 2
    assert "allowed scopes are score, feedback, admin" in result.stderr
    with open_store(db) as store:
        assert store.list_api_keys() == []


def test_apikey_on_unmigrated_database_exits_2(tmp_path: Path) -> None:
    """Check that using a database that was never migrated says to run `db upgrade`."""
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = run("apikey", "list", "--db", url)
    assert result.exit_code == 2
    assert "fraudwatch db upgrade" in result.stderr


def test_apikey_list_json_and_revoke(db: str) -> None:
    """Check that `apikey revoke` disables the key and `list --json` shows it revoked."""
    key = run("apikey", "create", "--name", "old", "--scope", "admin", "--db", db).stdout.strip()
    rows = [
        json.loads(line) for line in run("apikey", "list", "--json", "--db", db).stdout.splitlines()
    ]
    assert [(r["name"], r["revoked_at"]) for r in rows] == [("old", None)]
    revoked = run("apikey", "revoke", str(rows[0]["id"]), "--db", db)
    assert revoked.exit_code == 0, revoked.output
    rows = [
        json.loads(line) for line in run("apikey", "list", "--json", "--db", db).stdout.splitlines()
    ]
    assert rows[0]["revoked_at"] is not None
    assert run("apikey", "list", "--active", "--json", "--db", db).stdout.strip() == ""
    with open_store(db) as store:
        assert store.verify_api_key(key) is None
        assert store.list_audit(action="apikey.revoke").items[0].actor.startswith("cli")


def test_apikey_revoke_unknown_id_exits_2(db: str) -> None:
    """Check that revoking an id that does not exist exits 2 and says where to find ids."""
    result = run("apikey", "revoke", "77", "--db", db)
    assert result.exit_code == 2
    assert "apikey list" in result.stderr


@pytest.mark.parametrize("group", ["db", "apikey"])
def test_groups_have_help_with_examples(group: str) -> None:
    """Check that each command of the group shows an example in --help."""
    commands = {"db": ["upgrade", "current"], "apikey": ["create", "list", "revoke"]}[group]
    for name in commands:
        result = run(group, name, "--help")
        assert result.exit_code == 0
        assert "Example: fraudwatch" in result.stdout
