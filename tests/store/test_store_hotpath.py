"""The service's hot path in the store: a decision session and the background checkpointer."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from store_helpers import make_tx

from fraudwatch.store import DecisionInput, Store, open_store


def _item(tx_id: str, score: float, decision: str = "review") -> DecisionInput:
    return DecisionInput(make_tx(tx_id), score=score, decision=decision, model_version="v1")


def test_session_answers_like_the_store(store: Store) -> None:
    """Check that a session records once, replays a retry, and agrees with the store."""
    with store.decision_session() as session:
        assert session.find_record("s1") is None
        [first] = session.record_decisions([_item("s1", 0.9)])
        [retry] = session.record_decisions([_item("s1", 0.1, "allow")])
        found = session.find_record("s1")
    assert first.created
    assert not retry.created
    assert retry.decision == first.decision
    assert retry.case_id == first.case_id
    assert found is not None
    assert found.decision == first.decision
    assert found.case_id == first.case_id is not None
    assert store.find_record("s1") == found


def test_session_keeps_one_connection_and_returns_it(store: Store) -> None:
    """Check that a session holds one pooled connection across calls and gives it back."""
    pool = store.engine.pool
    before = pool.checkedout()  # type: ignore[attr-defined]
    session = store.decision_session()
    session.find_record("x")
    session.record_decisions([_item("s2", 0.5)])
    session.find_record("s2")
    assert pool.checkedout() == before + 1  # type: ignore[attr-defined]
    session.close()
    assert pool.checkedout() == before  # type: ignore[attr-defined]


def test_session_replaces_an_invalidated_connection(store: Store) -> None:
    """Check that after its connection is invalidated a session carries on with a new one."""
    session = store.decision_session()
    try:
        session.record_decisions([_item("s3", 0.5)])
        session._pinned.get().invalidate()  # what a disconnect does to it
        found = session.find_record("s3")
        [later] = session.record_decisions([_item("s4", 0.2, "allow")])
    finally:
        session.close()
    assert found is not None
    assert found.decision.score == 0.5
    assert later.created


def _rows_in_database_file(path: Path, tmp: Path) -> int:
    """Decisions in the main database file alone, without its WAL (what a checkpoint wrote)."""
    copy = tmp / "copy.db"
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as conn:
        table = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'decisions'").fetchone()
        if table is None:  # not even the schema has been checkpointed yet
            return 0
        return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])


def test_checkpointer_copies_commits_into_the_database_file(tmp_path: Path) -> None:
    """Check that the background checkpointer moves committed decisions out of the WAL."""
    path = tmp_path / "fw.db"
    with (
        open_store(f"sqlite:///{path}", upgrade=True) as store,
        store.decision_session() as session,
    ):
        session.record_decisions([_item(f"c{i}", 0.5) for i in range(5)])
        assert _rows_in_database_file(path, tmp_path) == 0  # still only in the WAL
        checkpointer = store.wal_checkpointer(interval_s=0.01)
        assert checkpointer is not None
        checkpointer.start()
        deadline = time.monotonic() + 10
        while checkpointer.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        checkpointer.stop()
        assert checkpointer.runs >= 2
        assert checkpointer.failures == 0
        assert _rows_in_database_file(path, tmp_path) == 5


def test_checkpointer_only_for_a_wal_file() -> None:
    """Check that an in-memory SQLite database gets no checkpointer (it has no WAL)."""
    with open_store("sqlite://", upgrade=True) as store:
        assert store.wal_checkpointer() is None
