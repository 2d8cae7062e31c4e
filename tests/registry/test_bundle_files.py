"""Bundles: save/load round trips, verification, refusal of tampered bundles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudwatch.errors import BundleError, ConfigError, FeatureError
from fraudwatch.models import MODEL_TYPES
from fraudwatch.registry import MANIFEST_FILE, Bundle, load_bundle
from fraudwatch.registry._manifest import manifest_digest


@pytest.fixture
def saved(make_bundle: Any, tmp_path: Path) -> Path:
    """A saved LightGBM bundle."""
    return make_bundle().save(tmp_path / "bundle")


@pytest.mark.parametrize("kind", sorted(MODEL_TYPES))
def test_round_trip_identical_scores(
    kind: str, make_bundle: Any, tmp_path: Path, features: Any
) -> None:
    """Check that every model type scores and explains identically after save and load."""
    bundle = make_bundle(kind)
    frame = features(99, 400)
    loaded = load_bundle(bundle.save(tmp_path / kind))
    for a, b in zip(loaded.score(frame), bundle.score(frame), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.contributions(frame), bundle.contributions(frame))
    assert loaded.version == bundle.version
    assert loaded.manifest == bundle.manifest


def test_manifest_describes_the_bundle(saved: Path) -> None:
    """Check that the manifest lists every other file with its sha256 and the key fields."""
    manifest = json.loads((saved / MANIFEST_FILE).read_text())
    files = sorted(p.name for p in saved.iterdir() if p.name != MANIFEST_FILE)
    assert sorted(manifest["files"]) == files
    assert manifest["feature_set"]["names"] == ["amount", "hour", "channel"]
    assert manifest["encoding"]["vocabularies"]["channel"]
    assert manifest["libraries"]["lightgbm"]
    assert manifest["manifest_sha256"] == manifest_digest(manifest)


def test_version_depends_on_content(make_bundle: Any) -> None:
    """Check that bundles trained on other data get other versions."""
    assert make_bundle(seed=0).version != make_bundle(seed=1).version


def test_one_changed_byte_refused(saved: Path) -> None:
    """Check that one byte changed in the model file is refused, naming the file."""
    path = saved / "model.txt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"file model\.txt .* does not match its sha256"):
        load_bundle(saved)


def test_removed_file_refused(saved: Path) -> None:
    """Check that a bundle missing a listed file is refused, naming the file."""
    (saved / "anomaly.npz").unlink()
    with pytest.raises(BundleError, match=r"anomaly\.npz listed in manifest\.json are missing"):
        load_bundle(saved)


def test_extra_file_refused(saved: Path) -> None:
    """Check that a file not listed in the manifest is refused, naming it."""
    (saved / "backdoor.txt").write_text("x")
    with pytest.raises(BundleError, match=r"backdoor\.txt .* not listed"):
        load_bundle(saved)


def test_edited_manifest_refused(saved: Path) -> None:
    """Check that a manifest edited by hand (a threshold lowered) is refused."""
    path = saved / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["thresholds"]["decline"] = 0.01
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="modified after the bundle was written"):
        load_bundle(saved)


def test_future_schema_version_refused(saved: Path) -> None:
    """Check that a manifest of an unknown layout version is refused with the fix."""
    path = saved / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 99
    manifest["manifest_sha256"] = manifest_digest(manifest)
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"schema_version 99.*upgrade fraudwatch"):
        load_bundle(saved)


def test_missing_manifest_refused(saved: Path) -> None:
    """Check that a folder without manifest.json is refused as not a bundle."""
    (saved / MANIFEST_FILE).unlink()
    with pytest.raises(BundleError, match=r"manifest\.json is missing"):
        load_bundle(saved)


def test_missing_folder_refused(tmp_path: Path) -> None:
    """Check that a bundle folder that does not exist is refused with a hint."""
    with pytest.raises(BundleError, match=r"does not exist.*fraudwatch train --out"):
        load_bundle(tmp_path / "nope")


def test_feature_set_mismatch_gives_both_hashes(make_bundle: Any, saved: Path) -> None:
    """Check that an incompatible feature set is refused with both hashes in the message."""
    bundle = make_bundle()
    with pytest.raises(BundleError, match=f"hash {'0' * 64}.*hash {bundle.feature_hash}"):
        load_bundle(saved, feature_set="0" * 64)


def test_matching_feature_set_accepted(make_bundle: Any, saved: Path) -> None:
    """Check that the bundle's own feature set hash is accepted."""
    assert load_bundle(saved, feature_set=make_bundle().feature_hash).version


def test_save_into_non_empty_folder_refused(make_bundle: Any, tmp_path: Path) -> None:
    """Check that saving over a non-empty folder is refused instead of mixing files."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not empty"):
        make_bundle().save(tmp_path / "out")


def test_save_leaves_no_temporary_folder(make_bundle: Any, tmp_path: Path) -> None:
    """Check that an atomic save leaves only the bundle folder behind."""
    make_bundle().save(tmp_path / "b")
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_missing_feature_column_named(make_bundle: Any, features: Any) -> None:
    """Check that scoring a frame without a feature names it."""
    frame = features(5, 10).drop("hour")
    with pytest.raises(FeatureError, match="hour"):
        make_bundle().score(frame)


@settings(max_examples=30, deadline=None)
@given(
    amount=st.one_of(st.none(), st.floats(0, 1e7)),
    hour=st.one_of(st.none(), st.integers(0, 23)),
    channel=st.one_of(st.none(), st.sampled_from(["pos", "ecom", "atm", "moto"])),
)
def test_score_row_equals_frame(
    make_bundle: Any, amount: float | None, hour: int | None, channel: str | None
) -> None:
    """Check that scoring one mapping equals scoring the same row as a frame."""
    bundle = make_bundle()
    row = {"amount": amount, "hour": None if hour is None else float(hour), "channel": channel}
    frame = pl.DataFrame(
        [row], schema={"amount": pl.Float64, "hour": pl.Float64, "channel": pl.String}
    )
    score, anomaly = bundle.score(frame)
    assert bundle.score_row(row) == (score[0], anomaly[0])


def test_no_detector_gives_nan_anomaly(make_bundle: Any, tmp_path: Path, features: Any) -> None:
    """Check that a bundle without an anomaly detector round-trips and reports NaN anomaly."""
    bundle = make_bundle(detector=False)
    loaded = load_bundle(bundle.save(tmp_path / "b"))
    score, anomaly = loaded.score(features(3, 20))
    assert np.isnan(anomaly).all()
    assert not np.isnan(score).any()


def test_thresholds_object(make_bundle: Any) -> None:
    """Check that the stored thresholds come back as a Thresholds object."""
    t = make_bundle().thresholds
    assert t is not None
    assert t.decision(0.9) == "decline"


def test_feature_set_absent_explained(make_bundle: Any) -> None:
    """Check that asking for the feature set of a bare-matrix bundle says what to do."""
    with pytest.raises(BundleError, match=r"no feature set definition.*amount, hour, channel"):
        _ = make_bundle().feature_set


def test_copy_of_folder_still_loads(saved: Path, tmp_path: Path) -> None:
    """Check that a copied bundle folder verifies (hashes do not depend on the path)."""
    copy = tmp_path / "copy"
    shutil.copytree(saved, copy)
    assert isinstance(load_bundle(copy), Bundle)


def test_with_thresholds_makes_a_new_version(make_bundle: Any) -> None:
    """Check that replacing thresholds gives a copy with a new version and the new values."""
    bundle = make_bundle()
    tuned = bundle.with_thresholds({"review": 0.1, "decline": 0.5, "objective": "cost"})
    assert tuned.version != bundle.version
    assert tuned.version.startswith(bundle.version)
    assert tuned.thresholds is not None
    assert tuned.thresholds.decline == 0.5
    assert bundle.thresholds is not None
    assert bundle.thresholds.decline == 0.8


def test_with_invalid_thresholds_refused(make_bundle: Any) -> None:
    """Check that thresholds with review above decline are refused."""
    with pytest.raises(ConfigError, match="must not exceed the decline"):
        make_bundle().with_thresholds({"review": 0.9, "decline": 0.5})
