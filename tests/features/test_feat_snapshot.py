"""Tests of state snapshots: files, checks and warm starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from feat_streams import mismatches, random_stream

from fraudwatch.errors import FeatureError, InputFileError
from fraudwatch.features import (
    Feature,
    FeatureSet,
    OnlineExecutor,
    StateSnapshot,
    build_snapshot,
    compute_batch,
    default_feature_set,
)


def test_saved_snapshot_loads_back_equal(tmp_path: Path) -> None:
    """Check that save/load keeps the plan, the hash and every table."""
    snap = build_snapshot(default_feature_set(), random_stream(1, 300))
    back = StateSnapshot.load(snap.save(tmp_path / "snap"))
    assert back.plan == snap.plan
    assert back.feature_set_hash == snap.feature_set_hash
    assert back.as_of == snap.as_of
    for name, table in snap.tables.items():
        assert back.tables[name].equals(table)


def test_snapshot_files_are_not_pickles(tmp_path: Path) -> None:
    """Check that a snapshot folder holds only JSON and Parquet files."""
    folder = build_snapshot(default_feature_set(), random_stream(2, 50)).save(tmp_path / "s")
    suffixes = {p.suffix for p in folder.iterdir()}
    assert suffixes == {".json", ".parquet"}


def test_snapshot_keeps_only_recent_events() -> None:
    """Check that events older than the retention are not in the snapshot."""
    fs = FeatureSet((Feature("count", "card", window="1d"),))
    data = random_stream(3, 400, days=20)
    snap = build_snapshot(fs, data)
    assert 0 < snap.tables["events"].height < data.height
    assert snap.tables["events"]["ts"].min() > snap.as_of - 86_400_000_000  # type: ignore[operator]


def test_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    """Check that loading a folder without a manifest says how to make one."""
    with pytest.raises(InputFileError, match="build_snapshot"):
        StateSnapshot.load(tmp_path)


def test_edited_manifest_is_refused(tmp_path: Path) -> None:
    """Check that a manifest whose plan was edited fails its plan-id check."""
    folder = build_snapshot(default_feature_set(), random_stream(4, 50)).save(tmp_path / "s")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["plan"][0]["retention_us"] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputFileError, match="was modified"):
        StateSnapshot.load(folder)


def test_snapshot_of_another_set_is_refused() -> None:
    """Check that an executor refuses a snapshot built for a different feature set."""
    snap = build_snapshot(
        FeatureSet((Feature("count", "card", window="1h"),)), random_stream(5, 20)
    )
    with pytest.raises(FeatureError, match="built for feature set"):
        OnlineExecutor(default_feature_set()).load_snapshot(snap)


def test_empty_history_is_refused() -> None:
    """Check that a snapshot of no transactions is a clear error."""
    with pytest.raises(FeatureError, match="history is empty"):
        build_snapshot(default_feature_set(), random_stream(6, 10).head(0))


def test_snapshot_from_a_file_starts_warm(tmp_path: Path) -> None:
    """Check that an executor loading a saved snapshot equals batch with that history."""
    fs = default_feature_set()
    data = random_stream(7, 500).sort("timestamp")
    history, new = data.head(400), data.tail(100)
    folder = build_snapshot(fs, history).save(tmp_path / "s")
    ex = OnlineExecutor(fs)
    ex.load_snapshot(StateSnapshot.load(folder))
    assert mismatches(fs, compute_batch(fs, new, history=history), ex.replay(new)) == []
