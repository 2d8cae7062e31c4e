"""Tests of the engine factory: URLs, SQLite pragmas and locking, durability under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from store_helpers import BACKENDS

from fraudwatch.errors import ConfigError
from fraudwatch.store import make_engine, normalize_url, open_store, redact_url, upgrade
from fraudwatch.store._engine import write_engine


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u@h/db",
        "postgresql://u@h/db",
        "postgresql+psycopg://u@h/db",
    ],
)
def test_postgres_urls_use_psycopg3(url: str) -> None:
    """Check that every PostgreSQL spelling is driven by psycopg 3."""
    assert normalize_url(url).drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://u@h/db", "unsupported database.*SQLite.*PostgreSQL"),
        ("postgresql+psycopg2://u@h/db", "unsupported PostgreSQL driver.*psycopg 3"),
        ("not a url", "cannot parse database URL"),
    ],
)
def test_unsupported_urls_are_refused(url: str, match: str) -> None:
    """Check that a URL for another database, or no URL at all, is refused with examples."""
    with pytest.raises(ConfigError, match=match):
        make_engine(url)


@given(
    password=st.text(
        st.characters(categories=["L", "N"], max_codepoint=0x7F), min_size=4, max_size=20
    )
)
def test_redact_url_hides_any_password(password: str) -> None:
    """Check that a rendered URL never shows the password."""
    shown = redact_url(f"postgresql://fraud:{password}@db.internal:5432/fw")
    assert password not in shown.split("@", 1)[0].split(":", 2)[-1]
    assert "***" in shown


def _pragma(url: str, name: str, **kwargs: object) -> object:
    engine = make_engine(url, **kwargs)  # type: ignore[arg-type]
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(f"PRAGMA {name}").scalar()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_normal_sync(tmp_path: Path) -> None:
    """Check that a SQLite database is in WAL mode, synchronous=NORMAL, foreign keys on."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert _pragma(url, "journal_mode") == "wal"
    assert _pragma(url, "synchronous") == 1
    assert _pragma(url, "foreign_keys") == 1


@pytest.mark.parametrize(
    ("suffix", "kwargs"),
    [("?synchronous=FULL", {}), ("", {"sqlite_synchronous": "FULL"})],
)
def test_sqlite_full_sync_can_be_chosen(
    tmp_path: Path, suffix: str, kwargs: dict[str, str]
) -> None:
    """Check that synchronous=FULL is set from the URL or from the parameter."""
    assert _pragma(f"sqlite:///{tmp_path / 'a.db'}{suffix}", "synchronous", **kwargs) == 2


def test_sqlite_bad_sync_value_is_refused(tmp_path: Path) -> None:
    """Check that an unsupported synchronous value names the supported ones."""
    with pytest.raises(ConfigError, match="use one of NORMAL, FULL"):
        make_engine(f"sqlite:///{tmp_path / 'a.db'}?synchronous=OFF")


def test_sqlite_readers_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    """Check that with a write transaction open, readers still read (WAL) and writers wait."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    engine = make_engine(url, sqlite_timeout_s=0.2)
    try:
        with write_engine(engine).begin() as writer:
            writer.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, target, details) "
                    "VALUES ('2024-01-01 00:00:00.000000', 'a', 'b', 'c', '{}')"
                )
            )
            result: list[object] = []

            def read() -> None:
                with engine.connect() as conn:
                    result.append(conn.execute(text("SELECT count(*) FROM audit_log")).scalar())

            reader = threading.Thread(target=read)
            reader.start()
            reader.join(timeout=5)
            assert result == [0]
            with (
                pytest.raises(OperationalError, match="database is locked"),
                write_engine(engine).begin() as other,
            ):
                other.execute(text("SELECT 1"))
    finally:
        engine.dispose()


_CHILD = textwrap.dedent(
    """
    import sys, threading
    from datetime import UTC, datetime
    from fraudwatch.store import open_store

    store = open_store(sys.argv[1])
    lock = threading.Lock()

    def work(worker):
        for i in range(100_000):
            tx_id = f"w{worker}-{i}"
            store.record_decision(
                {"transaction_id": tx_id, "timestamp": datetime(2024, 1, 1, tzinfo=UTC),
                 "card_id": f"c{i % 7}", "amount": 1.0 + i},
                score=0.9 if i % 3 == 0 else 0.1,
                decision="review" if i % 3 == 0 else "allow",
                model_version="v1",
            )
            with lock:  # the decision was returned: report it
                sys.stdout.write(tx_id + "\\n")
                sys.stdout.flush()

    for w in range(4):
        threading.Thread(target=work, args=(w,), daemon=True).start()
    threading.Event().wait()
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_returned_decisions_survive_sigkill(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Check that every decision returned before a SIGKILL is in the database afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'kill.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    upgrade(url)
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    returned: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            returned.append(line.strip())
            if len(returned) >= 300:
                break
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    returned += [line for line in rest.splitlines() if line]
    assert proc.returncode == -signal.SIGKILL, err
    assert len(returned) >= 300
    with open_store(url) as store:
        missing = [tx for tx in returned if store.find_decision(tx) is None]
        reviews = [tx for tx in returned if int(tx.split("-")[1]) % 3 == 0]
        with_case = [tx for tx in reviews if store.case_for_transaction(tx) is not None]
    assert missing == []
    assert with_case == reviews
